// The fault tier's shared checks: every bad input or fault must end in one line `tds: ...` that names the
// file/field and the fix, a non-zero exit, no stack trace, within a timeout, and leave no ffmpeg behind.
import { expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from '../helpers.js';

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the built CLI with a hard timeout (a hang is a failure, never a stuck suite). */
export function tds(args: string[], o: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli', 'index.js'), ...args], {
    encoding: 'utf8',
    timeout: o.timeoutMs ?? 60_000,
    cwd: o.cwd,
    env: { ...process.env, ...o.env },
    maxBuffer: 64 << 20,
    killSignal: 'SIGKILL',
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

/** Starts the CLI in the background. */
export function tdsBg(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawn(process.execPath, [join(root, 'dist', 'cli', 'index.js'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
}

/** The outcome a user needs from a refused input. `names` must appear in the error (the file or field). */
export function expectFault(r: Run, names: RegExp): string {
  expect(r.signal, `killed by ${r.signal}: it hung (stderr: ${r.stderr.slice(-300)})`).toBeNull();
  expect(r.code, r.stderr).not.toBe(0);
  const lines = r.stderr.split('\n').filter((l) => l.trim());
  const errs = lines.filter((l) => l.startsWith('tds: '));
  expect(errs, r.stderr).toHaveLength(1);
  expect(
    lines.filter((l) => /^\s+at /.test(l)),
    'no stack trace without --verbose',
  ).toEqual([]);
  expect(errs[0]).not.toMatch(/unexpected error/);
  expect(errs[0]).toMatch(/\(fix: .+\)$/);
  expect(errs[0]).toMatch(names);
  return errs[0];
}

/** Pids of running ffmpeg/ffprobe processes (any parent): none may outlive the command that started them. */
export function ffmpegPids(): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const m = /^\d+ \((.*?)\) /.exec(readFileSync(`/proc/${p}/stat`, 'utf8'));
      if (m && /^ff(mpeg|probe)/.test(m[1])) out.push(Number(p));
    } catch {
      // ended while listing
    }
  }
  return out;
}

/** All files under `dir` (relative paths), sorted. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), join(rel, e.name));
      else out.push(join(rel, e.name));
    }
  };
  walk(dir, '');
  return out.sort();
}
