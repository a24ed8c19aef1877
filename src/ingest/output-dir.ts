// Output folder checks shared by every writer: a file in the way, or another run's results, is refused.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { makeDirs } from '../fs-safe.js';
import { TdsError } from '../errors.js';

/** Ensures `dir` is (or can become) a folder; refuses a file at that path. */
export function ensureOutputDir(dir: string): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new TdsError(
      'BAD_OUTPUT',
      `output ${dir} is a file, not a folder`,
      'give a folder path with --out, or move the file away',
    );
  }
  makeDirs(dir);
}

/** Refuses to write into `sub` folders that already hold files, unless overwriting was asked for. */
export function refuseNonEmpty(
  dir: string,
  subs: string[],
  overwrite: boolean | undefined,
  flag = '--overwrite',
): void {
  if (overwrite) return;
  for (const s of subs) {
    const p = `${dir}/${s}`;
    if (existsSync(p) && statSync(p).isDirectory() && readdirSync(p).length) {
      throw new TdsError(
        'BAD_OUTPUT',
        `${p} already holds files from an earlier run`,
        `choose another --out, or pass ${flag} to replace them`,
      );
    }
  }
}
