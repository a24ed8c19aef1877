// File-system writes every room shares: folders made without Node's recursive mkdir (which spins forever under
// /proc on this Node: a bad --out must fail at once with a clear error) and atomic writes (temp name, then
// rename; the temp file is removed when the write fails, so nothing half-written is left behind).
import { existsSync, mkdirSync, statSync, statfsSync, accessSync, constants } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { TdsError } from './errors.js';

/** Kernel pseudo file systems (statfs f_type): proc, sysfs, cgroup, cgroup2, debugfs, devpts. */
const PSEUDO_FS = new Set([0x9fa0, 0x62656572, 0x27e0eb, 0x63677270, 0x64626720, 0x1cd1]);

/** Creates `dir` and its missing parents; refuses files in the way, pseudo file systems and read-only places. */
export function makeDirs(dir: string, what = 'output folder'): void {
  const abs = resolve(dir);
  const missing: string[] = [];
  let p = abs;
  while (!existsSync(p)) {
    missing.unshift(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  if (!statSync(p).isDirectory())
    throw new TdsError(
      'BAD_OUTPUT',
      `cannot create ${what} ${dir}: ${p} is a file`,
      'give a folder path, or move the file away',
    );
  if (!missing.length) return;
  if (PSEUDO_FS.has(Number(statfsSync(p).type)))
    throw new TdsError(
      'BAD_OUTPUT',
      `cannot create ${what} ${dir}: ${p} is a kernel file system, not storage`,
      'write outputs to a real folder',
    );
  try {
    accessSync(p, constants.W_OK);
  } catch {
    throw new TdsError(
      'BAD_OUTPUT',
      `cannot create ${what} ${dir}: ${p} is not writable`,
      'choose a folder you can write to, or fix its permissions',
    );
  }
  for (const m of missing) {
    try {
      mkdirSync(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && statSync(m).isDirectory()) continue;
      throw new TdsError(
        'BAD_OUTPUT',
        `cannot create ${what} ${dir}: ${(e as Error).message}`,
        'check the path and its permissions',
      );
    }
  }
}

/** `path` + a unique temp suffix in the same folder (so rename is atomic). */
export function tempName(path: string): string {
  return `${path}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
}

/** Writes a file atomically: temp name beside it, then rename. A failed write leaves no temp file behind. */
export async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempName(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOSPC')
      throw new TdsError(
        'BAD_OUTPUT',
        `no space left to write ${path}`,
        'free disk space, or write to another disk; earlier outputs are intact',
      );
    if (err.code === 'EISDIR' || (existsSync(path) && statSync(path).isDirectory()))
      throw new TdsError('BAD_OUTPUT', `cannot write ${path}: it is a folder`, 'give a file path');
    throw new TdsError('BAD_OUTPUT', `cannot write ${path}: ${err.message}`, 'check the path and its permissions');
  }
}
