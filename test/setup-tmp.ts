// Each test file gets a temporary folder of its own as TMPDIR (for the test, the library and every child process
// it starts) and it is removed when the file's tests end: the suite left ~1 GB per library-pack test and ~8 MB
// per test folder in /tmp on every run (72 GB on the project machine before this, until its disk was full).
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

// Where files meant to outlive the run go (screenshots to look at): the machine's own temporary folder.
process.env.TDS_TEST_KEEP_DIR ??= tmpdir();
const dir = mkdtempSync(join(tmpdir(), 'tds-vitest-'));
// As /tmp itself (mkdtemp makes 0700): the embedded queue's postgres runs as another user and must enter it.
chmodSync(dir, 0o1777);
process.env.TMPDIR = dir;

afterAll(() => {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch (e) {
    // Not a test failure (files another user made, e.g. the queue's postgres without root): say so.
    process.stderr.write(`test/setup-tmp: could not remove ${dir}: ${(e as Error).message}\n`);
  }
});
