// One writer per output folder: an exclusive lock file holding the writer's pid. A lock left by a process that
// no longer runs (kill -9, power loss) is taken over; a live one is refused with its pid.
import { openSync, closeSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TdsError } from '../errors.js';
import { pidAlive } from '../pid.js';

const LOCK = '.tds.lock';

/** Takes `dir`'s lock or throws; returns the release function (idempotent). */
export function lockOutput(dir: string): () => void {
  const p = join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(p, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let held = true;
      return () => {
        if (!held) return;
        held = false;
        try {
          if (readFileSync(p, 'utf8') === String(process.pid)) unlinkSync(p);
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new TdsError(
          'BAD_OUTPUT',
          `cannot lock ${dir}: ${(e as Error).message}`,
          'check that the folder is writable',
        );
      let pid = NaN;
      try {
        pid = Number(readFileSync(p, 'utf8'));
      } catch {
        continue; // released meanwhile: try again
      }
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
        throw new TdsError(
          'BAD_OUTPUT',
          `another tds process (pid ${pid}) is writing to ${dir}`,
          'wait for it to finish, or choose another --out',
        );
      }
      // A stale lock from a process that is gone: take it over.
      try {
        unlinkSync(p);
      } catch {
        // someone else took it over first; the next attempt decides
      }
    }
  }
  throw new TdsError(
    'BAD_OUTPUT',
    `another tds process is taking over ${dir}`,
    'wait for it to finish, or choose another --out',
  );
}
