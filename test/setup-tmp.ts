// Each test file gets a temporary folder of its own as TMPDIR (for the test, the library and every child process
// it starts) and it is removed when the file's tests end: the suite left ~1 GB per library-pack test and ~8 MB
// per test folder in /tmp on every run (72 GB on the project machine before this, until its disk was full).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

// Where files meant to outlive the run go (screenshots to look at): the machine's own temporary folder.
process.env.TDS_TEST_KEEP_DIR ??= tmpdir();
const dir = mkdtempSync(join(tmpdir(), 'tds-vitest-'));
process.env.TMPDIR = dir;

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
