// Locations inside the installed package (configs/, models/), independent of the working directory.
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { TdsError } from '../errors.js';
import { packageRoot } from '../package-paths.js';

export { packageRoot };

/** configs/NAME.yaml for a dataset name, or the name itself when it is a path. */
export function configPath(nameOrPath: string): string {
  if (existsSync(nameOrPath)) return nameOrPath;
  const p = join(packageRoot, 'configs', `${nameOrPath}.yaml`);
  if (!existsSync(p)) throw new TdsError('BAD_OPTION', `unknown dataset ${JSON.stringify(nameOrPath)}`, 'use robot18 or endovis17-parts, or give --config FILE');
  return p;
}
