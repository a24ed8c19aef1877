// `tds worker`: takes chunk jobs from the queue and runs `tds process` on each (the same processInput), into
// the chunk's own folder beside the video's outputs; after a video's last chunk, queues its merge. A chunk
// whose worker dies (SIGKILL, power) goes back to the queue when its heartbeats stop (pg-boss), and the next
// worker resumes it from the frames already written (tds process --resume). SIGTERM stops after the frame in
// progress and hands the chunk back the same way, without waiting for the heartbeat to run out.
import { cpus } from 'node:os';
import { processInput } from '../stream/process.js';
import { createEnsemble, type Ensemble } from '../model/ensemble.js';
import { readTdsJson } from '../model/model-dir.js';
import { resolveInference } from '../model/inference-defaults.js';
import { TdsError } from '../errors.js';
import { log } from '../log.js';
import { CHUNK_QUEUE, MERGE_QUEUE, type Queue } from './connect.js';
import { chunkDir, chunkFinished, merged, mergeVideo } from './merge.js';
import { processOptionsOf } from './add.js';
import type { ChunkJob, ChunkResult, MergeJob } from './types.js';

export interface WorkerOptions {
  /** Chunks processed at once by this worker. Default 1. */
  concurrency?: number;
  /** ORT threads per chunk. Default cores / concurrency. */
  threads?: number;
  /** Exit once no chunk or merge is waiting or running anywhere. Default false (wait for work). */
  untilIdle?: boolean;
  /** Stops taking jobs; chunks in progress stop after their current frame and go back to the queue. */
  signal?: AbortSignal;
  /** Called when a chunk or merge finishes. */
  onJob?: (e: { kind: 'chunk' | 'merge'; video: string; out: string; index?: number; frames: number }) => void;
}

export interface WorkerSummary {
  chunks: number;
  merges: number;
  frames: number;
  /** Chunks handed back because the worker was stopped. */
  released: number;
}

class Released extends Error {}

async function pendingJobs(q: Queue): Promise<number> {
  const rows = await q.sql<{ n: string }>(
    `select count(*) as n from pgboss.job where name = any($1) and state in ('created', 'retry', 'active')`,
    [[CHUNK_QUEUE, MERGE_QUEUE]],
  );
  return Number(rows[0].n);
}

export async function runWorker(q: Queue, o: WorkerOptions = {}): Promise<WorkerSummary> {
  const concurrency = o.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new TdsError(
      'BAD_OPTION',
      `--concurrency must be a positive integer, got ${o.concurrency}`,
      'e.g. --concurrency 2',
    );
  const threads = o.threads ?? Math.max(1, Math.floor(cpus().length / concurrency));
  const summary: WorkerSummary = { chunks: 0, merges: 0, frames: 0, released: 0 };
  // One ensemble (ORT session) per model and settings, reused by the chunks that share them; only as many
  // as chunks run at once are open, the rest wait in a pool.
  const pool = new Map<string, Ensemble[]>();
  const takeEnsemble = async (j: ChunkJob): Promise<[string, Ensemble]> => {
    const s = j.settings;
    const key = JSON.stringify([s.model, s.engine, s.executionProviders, s.sizes, s.weights, s.flip]);
    const free = pool.get(key)?.pop();
    if (free) return [key, free];
    const meta = readTdsJson(s.model);
    const inf = resolveInference(meta, { sizes: s.sizes, flip: s.flip, minArea: s.minArea });
    const ens = await createEnsemble(s.model, {
      engine: s.engine,
      executionProviders: s.executionProviders,
      threads,
      sizes: inf.sizes,
      weights: s.weights,
      flip: inf.flip,
      roi: inf.roi,
      largest: inf.largest,
    });
    return [key, ens];
  };
  const stop = new AbortController();
  o.signal?.addEventListener('abort', () => stop.abort(), { once: true });

  const chunk = async (data: ChunkJob, jobSignal: AbortSignal): Promise<ChunkResult> => {
    // A retry of a chunk whose video was merged meanwhile (its first run finished but could not report it,
    // e.g. while the queue server restarted): nothing to do, and its folder must not come back.
    if (merged(data.out, data.video)) return { frames: 0, wallMs: 0, fps: 0 };
    const stage = chunkDir(data.out, data.index);
    // pg-boss aborts the job's signal when the job is no longer ours (it expired and went to another worker).
    const ac = new AbortController();
    const abort = () => ac.abort();
    stop.signal.addEventListener('abort', abort);
    jobSignal.addEventListener('abort', abort);
    const [ensKey, ensemble] = await takeEnsemble(data);
    try {
      const s = await processInput(data.input, { ...processOptionsOf(data, stage), ensemble, signal: ac.signal });
      if (s.interrupted) throw new Released(`released chunk ${data.index + 1}/${data.chunks} of ${data.input}`);
      summary.chunks++;
      summary.frames += s.frames - s.resumedFrames;
      o.onJob?.({ kind: 'chunk', video: data.video, out: data.out, index: data.index, frames: s.frames });
      // The last chunk to finish queues the merge (and any chunk that finds them all done: a crash between a
      // chunk's end and this send is covered by the retried chunk, which finds its frames done at once).
      let all = true;
      for (let i = 0; i < data.chunks && all; i++) all = i === data.index || chunkFinished(data.out, i);
      if (all) await q.boss.send(MERGE_QUEUE, { video: data.video } satisfies MergeJob, { singletonKey: data.video });
      return { frames: s.frames, wallMs: Math.round(s.wallMs), fps: Math.round(s.fps * 100) / 100 };
    } finally {
      stop.signal.removeEventListener('abort', abort);
      jobSignal.removeEventListener('abort', abort);
      if (!pool.has(ensKey)) pool.set(ensKey, []);
      pool.get(ensKey)!.push(ensemble);
    }
  };

  const merge = async (data: MergeJob) => {
    const rows = await q.sql<{
      out: string;
      chunks: number;
      chunk_seconds: number | null;
      options: { overlay?: boolean; color?: boolean };
    }>('select out, chunks, chunk_seconds, options from tds.videos where key = $1', [data.video]);
    if (!rows.length) return { frames: 0 }; // removed from the queue meanwhile
    const v = rows[0];
    const frames = await mergeVideo({
      key: data.video,
      out: v.out,
      chunks: v.chunks,
      chunkSeconds: v.chunk_seconds,
      overlay: !!v.options.overlay,
      color: v.options.color,
    });
    await q.sql('update tds.videos set merged_on = now(), frames = $2 where key = $1', [data.video, frames]);
    summary.merges++;
    o.onJob?.({ kind: 'merge', video: data.video, out: v.out, frames });
    return { frames };
  };

  const failWith = (e: unknown) => {
    if (e instanceof Released) summary.released++;
    // Stored as the job's output and shown by tds queue status.
    const err = e instanceof Error ? e : new Error(String(e));
    log.warn({ err: err.message }, 'job failed');
    throw err;
  };

  await q.boss.work<ChunkJob>(
    CHUNK_QUEUE,
    { localConcurrency: concurrency, batchSize: 1, pollingIntervalSeconds: 0.5 },
    async ([job]) => chunk(job.data, job.signal).catch(failWith),
  );
  await q.boss.work<MergeJob>(MERGE_QUEUE, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async ([job]) =>
    merge(job.data).catch(failWith),
  );

  // Wait for the stop signal, or (untilIdle) for a moment with nothing waiting or running anywhere.
  await new Promise<void>((resolve) => {
    if (stop.signal.aborted) return resolve();
    stop.signal.addEventListener('abort', () => resolve(), { once: true });
    if (!o.untilIdle) return;
    let idleSince = 0;
    const tick = async () => {
      if (stop.signal.aborted) return;
      try {
        const n = await pendingJobs(q);
        idleSince = n ? 0 : idleSince || Date.now();
        if (idleSince && Date.now() - idleSince >= 2000) return resolve();
      } catch {
        // the server is away (restarting): keep waiting
      }
      setTimeout(tick, 500);
    };
    void tick();
  });
  await q.boss.offWork(CHUNK_QUEUE, { wait: true }).catch(() => {});
  await q.boss.offWork(MERGE_QUEUE, { wait: true }).catch(() => {});
  for (const list of pool.values()) for (const e of list) e.dispose();
  return summary;
}
