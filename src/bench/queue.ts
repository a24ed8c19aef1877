// The job queue's cost: two single-thread `tds worker` processes (already running, as in a worker farm) on a
// generated clip cut into chunks, against one `tds process` on the same clip, from `queue add` until the merged
// folder is complete. The embedded Postgres runs in a temporary folder.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthSequence } from '../ingest/synth.js';
import { encodeVideo } from '../ingest/encode.js';
import { processInput } from '../stream/process.js';
import { packageRoot } from '../package-paths.js';
import { useEmbedded } from '../queue/embedded.js';
import { openQueue } from '../queue/connect.js';
import { addVideos } from '../queue/add.js';
import { queueStatus } from '../queue/status.js';
import type { Image } from '../types.js';
import { benchModel } from './pipeline.js';
import { spread, type BenchOptions, type BenchResult } from './types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchQueue(o: BenchOptions): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tds-bench-queue-'));
  // Run as root, the server runs as the postgres user, which must be able to enter this folder.
  await chmod(dir, 0o755);
  const workers: ChildProcess[] = [];
  const lease = await useEmbedded(join(dir, 'state'));
  try {
    const seq = synthSequence({ seed: 9, seq: 3, width: 640, height: 512 });
    const seconds = o.quick ? 8 : 20;
    const frames: Image[] = [];
    for (let t = 0; t < seconds * 10; t++) frames.push(seq.render(t * 0.1).left);
    const clip = join(dir, 'case.mp4');
    await encodeVideo(clip, frames, { fps: 10 });
    const model = await benchModel(dir);
    await processInput(clip, { model, out: join(dir, 'warm') });

    const cli = join(packageRoot, 'dist', 'cli', 'index.js');
    const env = { ...process.env, TDS_LOG_LEVEL: 'error' };
    for (let i = 0; i < 2; i++)
      workers.push(
        spawn(process.execPath, [cli, 'worker', '--queue', lease.url, '--threads', '1'], { stdio: 'ignore', env }),
      );
    const q = await openQueue(lease.url);
    // One process run and one queue run, interleaved (process, queue, process, queue, ...), the ratio taken within
    // each pair, then its median: measured once each, one after the other, it moved 0.94 -> 0.85 between two
    // runs. The workers wait idle (polling the queue) while the process runs.
    const processRuns: number[] = [];
    const queueRuns: number[] = [];
    const ratios: number[] = [];
    try {
      // Both workers connected and polling (pg-boss's instance registry) before the clock starts.
      const end = Date.now() + 60_000;
      const pids = new Set(workers.map((w) => w.pid));
      while ((await q.boss.getInstances()).filter((i) => pids.has(i.pid)).length < 2 && Date.now() < end)
        await sleep(200);
      await sleep(1000);
      for (let k = 0; k < (o.quick ? 1 : 3); k++) {
        let t0 = performance.now();
        const s = await processInput(clip, { model, out: join(dir, `process${k}`) });
        const processFps = s.frames / ((performance.now() - t0) / 1000);
        t0 = performance.now();
        await addVideos(q, [clip], { model, out: join(dir, `queue${k}`), chunkSeconds: seconds / 4 });
        for (;;) {
          const st = await queueStatus(q);
          if (st.every((v) => v.state === 'done' || v.state === 'failed')) break;
          await sleep(50);
        }
        const queueFps = s.frames / ((performance.now() - t0) / 1000);
        processRuns.push(processFps);
        queueRuns.push(queueFps);
        ratios.push(queueFps / processFps);
      }
    } finally {
      await q.close();
    }
    return [
      spread('queue.process.fps', processRuns, 'fps'),
      spread('queue.2workers.fps', queueRuns, 'fps'),
      spread('queue.ratio.vs-process', ratios, 'fraction', (v) => Math.round(v * 100) / 100),
    ];
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(0) : w.once('exit', r)))));
    await lease.release();
    await rm(dir, { recursive: true, force: true });
  }
}
