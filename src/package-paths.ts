// Locations inside the installed package (configs/, models/), independent of the working directory.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TdsError } from './errors.js';

/** Package root: one level above dist/ or src/. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The folder of a model that ships with the package (`demo`, `endovis15`). */
export function bundledModel(name: string): string {
  const dir = join(packageRoot, 'models', name);
  if (!existsSync(join(dir, 'tds.json'))) {
    const have = existsSync(join(packageRoot, 'models')) ? readdirSync(join(packageRoot, 'models')) : [];
    throw new TdsError(
      'BAD_MODEL',
      `no bundled model ${JSON.stringify(name)}`,
      `use one of ${have.join(', ') || '(none)'} or give a model folder`,
    );
  }
  return dir;
}

/** configs/NAME.yaml for a dataset name, or the name itself when it is a path. */
export function configPath(nameOrPath: string): string {
  if (existsSync(nameOrPath)) return nameOrPath;
  const p = join(packageRoot, 'configs', `${nameOrPath}.yaml`);
  if (!existsSync(p))
    throw new TdsError(
      'BAD_OPTION',
      `unknown dataset ${JSON.stringify(nameOrPath)}`,
      'use robot18 or endovis17-parts, or give --config FILE',
    );
  return p;
}
