// The job queue for real: the embedded Postgres (npm-installed binaries) on a free port, pg-boss, worker
// processes of the built CLI, a generated multi-chunk clip; faults as a user meets them (a worker killed or
// stopped mid-chunk, a damaged video, the queue server restarting, a video added twice). The merged outputs
// must be what `tds process` writes for the whole video: PNGs byte for byte, labels.ndjson and run.json equal
// except their timing fields.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { cutOffClip, makeClip, tinyRobotModel, tmp, waitUntil } from '../helpers.js';
import { tds, tdsBg, filesUnder } from '../faults/helpers.js';
import { processInput } from '../../src/stream/process.js';
import { probeVideo } from '../../src/ingest/probe.js';
import { startEmbedded, stopEmbedded } from '../../src/queue/embedded.js';

const dir = tmp('tds-queue-');
// Run as root, the embedded server runs as the postgres user, which must be able to enter its folder.
chmodSync(dir, 0o755);
const env = { TDS_QUEUE_DIR: join(dir, 'state'), TDS_QUEUE_HEARTBEAT_S: '10', TDS_LOG_LEVEL: 'error' };
let model: string;
let clip: string;
let reference: string;

/** A background CLI process whose output is kept (for its messages, and so its pipes never fill). */
function bg(args: string[]): ChildProcess & { output: () => string } {
  const p = tdsBg(args, env);
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (out += d));
  return Object.assign(p, { output: () => out });
}

/** The exit code of a background process; its output in the error when it does not exit in time. */
function exited(p: ChildProcess & { output: () => string }, ms = 90_000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve(p.exitCode);
    const t = setTimeout(() => reject(new Error(`no exit within ${ms} ms; output: ${p.output().slice(-2000)}`)), ms);
    p.once('exit', (c) => {
      clearTimeout(t);
      resolve(c);
    });
  });
}

function expectSameAsProcess(out: string, ref: string): void {
  expect(filesUnder(out)).toEqual(filesUnder(ref));
  for (const f of filesUnder(ref).filter((f) => f.endsWith('.png')))
    expect(readFileSync(join(out, f)).equals(readFileSync(join(ref, f))), f).toBe(true);
  const lines = (d: string) =>
    readFileSync(join(d, 'labels.ndjson'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const { ms: _ms, ...rest } = JSON.parse(l) as Record<string, unknown>;
        return rest;
      });
  expect(lines(out)).toEqual(lines(ref));
  const run = (d: string) => {
    const { timings: _t, queue: _q, ...rest } = JSON.parse(readFileSync(join(d, 'run.json'), 'utf8'));
    return rest;
  };
  expect(run(out)).toEqual(run(ref));
}

/** Chunk folders of a video being worked on, with how many frames each has finished. */
function chunkProgress(out: string): { name: string; frames: number; finished: boolean }[] {
  const stage = join(out, '.tds-queue');
  if (!existsSync(stage)) return [];
  return readdirSync(stage).map((name) => {
    const d = join(stage, name);
    const labels = existsSync(join(d, 'labels.ndjson')) ? readFileSync(join(d, 'labels.ndjson'), 'utf8') : '';
    let finished = false;
    try {
      finished = JSON.parse(readFileSync(join(d, 'run.json'), 'utf8')).finished;
    } catch {
      // not yet written
    }
    return { name, frames: labels.split('\n').filter(Boolean).length, finished };
  });
}

const status = () => JSON.parse(tds(['queue', 'status', '--json'], { env }).stdout) as Array<Record<string, any>>;

beforeAll(async () => {
  ({ model } = await tinyRobotModel());
  clip = makeClip(join(dir, 'case1.mp4'), { w: 320, h: 240, fps: 10, seconds: 12 });
  reference = join(dir, 'reference');
  await processInput(clip, { model, out: reference });
  // Kept running between the commands of this file (each would otherwise start and stop it).
  const up = tds(['queue', 'up'], { env });
  expect(up.stderr + up.stdout).toMatch(/embedded queue running on 127\.0\.0\.1:\d+/);
}, 120_000);

afterAll(() => {
  tds(['queue', 'down'], { env });
});

describe('tds queue + tds worker (embedded Postgres, pg-boss)', () => {
  it('a worker SIGKILLed mid-chunk: a second worker redoes its chunk and the merged outputs equal tds process', async () => {
    const out = join(dir, 'out-kill');
    const add = tds(['queue', 'add', clip, '--model', model, '--out', out, '--chunk-seconds', '3'], { env });
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toMatch(/queued .*case1\.mp4: 4 chunk\(s\)/);
    // The first worker is alone, so the chunk with frames and no finish mark is its own: it is killed inside
    // a chunk whatever the machine's load (two workers racing for chunks made "both mid-chunk" a timing bet).
    const a = bg(['worker', '--until-idle', '--threads', '1']);
    const midChunk = () => chunkProgress(join(out, 'case1')).some((c) => c.frames >= 1 && !c.finished);
    expect(await waitUntil(midChunk, 90_000), a.output()).toBe(true);
    a.kill('SIGKILL');
    await exited(a);
    const killedIn = chunkProgress(join(out, 'case1')).filter((c) => !c.finished);
    expect(killedIn.length).toBeGreaterThanOrEqual(1);
    // The second worker takes what is left, and the killed chunk once its heartbeats have stopped.
    const b = bg(['worker', '--until-idle', '--threads', '1']);
    expect(await exited(b), b.output()).toBe(0);
    const s = status().find((v) => v.out === join(out, 'case1'))!;
    expect(s).toMatchObject({ state: 'done', frames: 120, chunks: { total: 4, done: 4, failed: 0 } });
    expectSameAsProcess(join(out, 'case1'), reference);
  }, 180_000);

  it('the same video added again (before or after it is done) is processed once', async () => {
    const out = join(dir, 'out-kill');
    const again = tds(['queue', 'add', clip, '--model', model, '--out', out, '--chunk-seconds', '3'], { env });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already queued/);
    const w = tds(['worker', '--until-idle'], { env });
    expect(w.stdout).toMatch(/worker: 0 chunk\(s\), 0 merge\(s\)/);
  }, 60_000);

  it("--overlay: the chunks' overlay segments are joined into one overlay.mp4 of the whole video", async () => {
    const out = join(dir, 'out-overlay');
    tds(['queue', 'add', clip, '--model', model, '--out', out, '--chunk-seconds', '4', '--overlay'], { env });
    const w = tds(['worker', '--until-idle', '--threads', '1'], { env, timeoutMs: 90_000 });
    expect(w.code, w.stderr).toBe(0);
    const p = await probeVideo(join(out, 'case1', 'overlay.mp4'));
    expect(p).toMatchObject({ width: 320, height: 240, fps: 10, frames: 120 });
    expect(existsSync(join(out, 'case1', '.tds-queue'))).toBe(false);
  }, 120_000);

  it('SIGTERM: the worker stops after the frame in progress, hands its chunk back and exits 143', async () => {
    const out = join(dir, 'out-term');
    tds(['queue', 'add', clip, '--model', model, '--out', out, '--chunk-seconds', '6'], { env });
    const a = bg(['worker', '--threads', '1']);
    expect(await waitUntil(() => chunkProgress(join(out, 'case1')).some((c) => c.frames >= 3), 60_000)).toBe(true);
    const t0 = Date.now();
    a.kill('SIGTERM');
    expect(await exited(a), a.output()).toBe(143);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(a.output()).toMatch(/1 chunk\(s\) handed back/);
    const w = tds(['worker', '--until-idle', '--threads', '1'], { env, timeoutMs: 90_000 });
    expect(w.code, w.stderr).toBe(0);
    expectSameAsProcess(join(out, 'case1'), reference);
  }, 120_000);

  it('a damaged video fails with its error in status and wait; the other video finishes', async () => {
    const out = join(dir, 'out-bad');
    // Probes as 6 s (index at the front), then the decoder meets the cut mid-file.
    const bad = cutOffClip(join(dir, 'damaged.mp4'), { w: 160, h: 120, fps: 10, seconds: 6 });
    const add = tds(['queue', 'add', bad, clip, '--model', model, '--out', out, '--chunk-seconds', '4'], { env });
    expect(add.code, add.stderr).toBe(0);
    const w = tds(['worker', '--until-idle', '--threads', '1'], { env, timeoutMs: 90_000 });
    expect(w.code, w.stderr).toBe(0);
    const wait = tds(['queue', 'wait', '--timeout', '30'], { env });
    expect(wait.code).toBe(1);
    expect(wait.stderr).toMatch(/tds: 1 video\(s\) failed: damaged \(chunk \d: .*damaged\.mp4.*\(fix: /);
    const s = status().filter((v) => v.out.startsWith(out));
    expect(s.find((v) => v.name === 'damaged')).toMatchObject({ state: 'failed' });
    expect(s.find((v) => v.name === 'damaged')!.errors[0]).toMatch(/damaged\.mp4/);
    expect(s.find((v) => v.name === 'case1')).toMatchObject({ state: 'done', frames: 120 });
    expectSameAsProcess(join(out, 'case1'), reference);
  }, 150_000);

  it('the queue server restarted mid-run: workers reconnect and nothing is lost', async () => {
    const out = join(dir, 'out-restart');
    tds(['queue', 'add', clip, '--model', model, '--out', out, '--chunk-seconds', '2'], { env });
    const a = bg(['worker', '--until-idle', '--threads', '1']);
    expect(await waitUntil(() => chunkProgress(join(out, 'case1')).some((c) => c.frames >= 3), 60_000)).toBe(true);
    expect(await stopEmbedded(env.TDS_QUEUE_DIR)).toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    await startEmbedded(env.TDS_QUEUE_DIR);
    expect(await exited(a), a.output()).toBe(0);
    const s = status().find((v) => v.out === join(out, 'case1'))!;
    expect(s).toMatchObject({ state: 'done', frames: 120, chunks: { total: 6, done: 6 } });
    expectSameAsProcess(join(out, 'case1'), reference);
  }, 150_000);
});

describe('the embedded queue server: started on demand, stopped by the last tds process using it', () => {
  const state = join(dir, 'state-life');
  const e = { ...env, TDS_QUEUE_DIR: state };
  const running = () => {
    try {
      const pid = Number(readFileSync(join(state, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('a command starts it and stops it; a worker keeps it until it ends; up/down keep and release it', async () => {
    const s = tds(['queue', 'status'], { env: e });
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/the queue is empty/);
    expect(running()).toBe(false);
    const w = tdsBg(['worker'], e);
    expect(await waitUntil(running, 30_000)).toBe(true);
    expect(tds(['queue', 'status'], { env: e }).code).toBe(0);
    expect(running()).toBe(true); // the worker still uses it
    w.kill('SIGTERM');
    await new Promise((r) => w.once('exit', r));
    expect(await waitUntil(() => !running(), 10_000)).toBe(true);
    expect(tds(['queue', 'up'], { env: e }).code).toBe(0);
    expect(running()).toBe(true);
    expect(tds(['queue', 'down'], { env: e }).stdout).toMatch(/embedded queue stopped/);
    expect(running()).toBe(false);
  }, 90_000);
});
