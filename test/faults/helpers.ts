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
    const s = procStat(Number(p));
    if (s && /^ff(mpeg|probe)/.test(s.comm)) out.push(Number(p));
  }
  return out;
}

/** /proc/PID/stat's command name and parent, or undefined once the process has ended. */
function procStat(pid: number): { comm: string; ppid: number } | undefined {
  try {
    const m = /^\d+ \((.*?)\) \S+ (\d+) /.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return m ? { comm: m[1], ppid: Number(m[2]) } : undefined;
  } catch {
    return undefined; // ended while listing
  }
}

/**
 * ffmpeg/ffprobe processes left behind: their parent is no longer a node process (a tds that ended without
 * stopping its ffmpeg leaves it to init). Test files running at the same time have ffmpegs too, each the child
 * of a live node process (a CLI or a test worker): those are not leaks.
 */
export function orphanFfmpegPids(): number[] {
  return ffmpegPids().filter((p) => {
    const s = procStat(p);
    return s !== undefined && procStat(s.ppid)?.comm !== 'node';
  });
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
