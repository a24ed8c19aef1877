// Output folder checks shared by every writer: a file in the way, or another run's results, is refused.
import { existsSync, readdirSync, statSync, mkdirSync } from 'node:fs';
import { TdsError } from '../errors.js';

/** Ensures `dir` is (or can become) a folder; refuses a file at that path. */
export function ensureOutputDir(dir: string): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new TdsError('BAD_OUTPUT', `output ${dir} is a file, not a folder`, 'give a folder path with --out, or move the file away');
  }
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new TdsError('BAD_OUTPUT', `cannot create output folder ${dir}: ${(e as Error).message}`, 'check permissions and the path');
  }
}

/** Refuses to write into `sub` folders that already hold files, unless overwriting was asked for. */
export function refuseNonEmpty(dir: string, subs: string[], overwrite: boolean | undefined, flag = '--overwrite'): void {
  if (overwrite) return;
  for (const s of subs) {
    const p = `${dir}/${s}`;
    if (existsSync(p) && statSync(p).isDirectory() && readdirSync(p).length) {
      throw new TdsError('BAD_OUTPUT', `${p} already holds files from an earlier run`, `choose another --out, or pass ${flag} to replace them`);
    }
  }
}
