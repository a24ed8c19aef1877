// The main thread's side of the inference thread (src/model/ort-worker.ts): starts the worker with the session
// settings, sends inputs and receives outputs as transferred buffers (no copies across threads), and ends the
// worker on close. The worker keeps the process alive only while a run is pending.
// Ending it is never abrupt while a run is in flight: onnxruntime-node throws a C++ exception when its run
// returns into a terminating worker, which aborts the whole process (measured: process.exit during inference
// ended 6 of 8 runs with SIGABRT). close() asks the worker to release its session after the run in progress and
// exit on its own; closeInferenceThreads() does that for every thread and waits, for callers that exit the
// process themselves.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TdsError } from '../errors.js';
import type { SessionSettings } from './ort-session.js';

export type ToWorker =
  | {
      kind: 'run';
      id: number;
      name: string;
      input: Float32Array;
      dims: number[];
      /** Buffers of earlier outputs handed back, by output name: the worker copies this run's outputs into them. */
      spare: Record<string, Float32Array>;
    }
  | { kind: 'close' };
export type FromWorker =
  | {
      kind: 'open';
      provider: string;
      skipped: Array<{ provider: string; err: string }>;
      inputNames: string[];
      outputNames: string[];
    }
  | { kind: 'fail'; message: string }
  | {
      kind: 'done';
      id: number;
      outputs: Record<string, { data: Float32Array; dims: number[] }>;
      input: Float32Array;
      /** session.run's own time on the worker thread. */
      runMs: number;
    }
  | { kind: 'error'; id: number; message: string };

export type Outputs = Record<string, { data: Float32Array; dims: number[] }>;

/** A run's outputs and the forward pass's own time on the inference thread. */
export interface RunResult {
  outputs: Outputs;
  runMs: number;
}

/** The worker script beside this module; the test suite runs the TypeScript sources, whose worker is the build's. */
function workerFile(): string {
  const here = fileURLToPath(new URL('./ort-worker.js', import.meta.url));
  if (existsSync(here)) return here;
  const built = fileURLToPath(new URL('../../dist/model/ort-worker.js', import.meta.url));
  if (existsSync(built)) return built;
  throw new TdsError('BAD_MODEL', `the ORT inference thread script is missing (${here})`, 'run `npm run build`');
}

/** Threads not yet ended. */
const live = new Set<OrtThread>();

/** Closes every inference thread (each after its run in progress) and waits until they have ended. */
export async function closeInferenceThreads(): Promise<void> {
  await Promise.all([...live].map((t) => t.close()));
}

/** A worker that has not ended this long after being asked to is terminated (a hung native call). */
const CLOSE_GRACE_MS = 5000;

export class OrtThread {
  private nextId = 0;
  private ended: Promise<void>;
  private readonly pending = new Map<number, { resolve: (o: RunResult) => void; reject: (e: Error) => void }>();
  /** Input buffers handed back by the worker, reused for the next runs. */
  private readonly spare: Float32Array[] = [];
  /**
   * Output buffers the caller is done with, by output name, sent back for the next runs: a 256x320 map of 12
   * classes is 3.9 MB, and one new ArrayBuffer per frame made V8 run a full mark-compact every ~10 frames in
   * live serving (measured: 19 major GCs per 200 frames, ~10 ms each, their marking threads slowing ORT's).
   */
  private readonly spareOut = new Map<string, Float32Array[]>();
  private closed = false;
  private failure?: Error;

  private constructor(
    private readonly worker: Worker,
    readonly provider: string,
    readonly skipped: Array<{ provider: string; err: string }>,
  ) {
    worker.on('message', (m: FromWorker) => {
      if (m.kind !== 'done' && m.kind !== 'error') return;
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (!this.pending.size && !this.closed) worker.unref();
      if (m.kind === 'done') {
        this.spare.push(m.input);
        p?.resolve({ outputs: m.outputs, runMs: m.runMs });
      } else p?.reject(new Error(m.message));
    });
    const die = (e: Error) => {
      this.failure = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', die);
    this.ended = new Promise((resolve) =>
      worker.on('exit', (code) => {
        live.delete(this);
        if (!this.closed) die(new Error(`the inference thread ended (exit code ${code})`));
        resolve();
      }),
    );
    worker.unref();
    live.add(this);
  }

  /** Starts the thread and opens the session there; rejects with the session's error. */
  static async start(settings: SessionSettings): Promise<OrtThread> {
    // Workers inherit the process's node flags; --input-type (a `node -e` script's) makes a file worker fail.
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
    let worker: Worker;
    try {
      worker = new Worker(workerFile(), { workerData: settings, execArgv });
    } catch (e) {
      // Per-process V8/node flags (--trace-gc, --prof, ...) are refused for a worker: it runs without them.
      if ((e as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw e;
      worker = new Worker(workerFile(), { workerData: settings, execArgv: [] });
    }
    const first = await new Promise<FromWorker>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the inference thread ended (exit code ${code})`)));
    });
    if (first.kind !== 'open') {
      await worker.terminate();
      throw new Error(first.kind === 'fail' ? first.message : 'the inference thread did not start');
    }
    return new OrtThread(worker, first.provider, first.skipped);
  }

  /** A buffer for the next input of `length` floats (one the worker gave back when there is one). */
  inputBuffer(length: number): Float32Array {
    const b = this.spare.pop();
    return b && b.length === length ? b : new Float32Array(length);
  }

  /** Runs the session on `input` (transferred: the caller must not touch it afterwards). */
  run(name: string, input: Float32Array, dims: number[]): Promise<RunResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('the inference thread was closed'));
    const id = this.nextId++;
    const done = new Promise<RunResult>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.worker.ref();
    const spare: Record<string, Float32Array> = {};
    for (const [k, pool] of this.spareOut) {
      const b = pool.pop();
      if (b) spare[k] = b;
    }
    const msg: ToWorker = { kind: 'run', id, name, input, dims, spare };
    this.worker.postMessage(msg, [
      input.buffer as ArrayBuffer,
      ...Object.values(spare).map((b) => b.buffer as ArrayBuffer),
    ]);
    return done;
  }

  /**
   * Hands an output buffer back for reuse by a later run (the caller must not touch it afterwards). Two per
   * output are kept: enough for a run in flight while the previous frame is post-processed.
   */
  recycle(output: string, buf: Float32Array): void {
    const pool = this.spareOut.get(output) ?? [];
    if (pool.length < 2 && buf.byteLength > 0) pool.push(buf);
    this.spareOut.set(output, pool);
  }

  /** Ends the thread after its run in progress (pending runs reject); resolves when it has ended. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const p of this.pending.values()) p.reject(new Error('the inference thread was closed'));
      this.pending.clear();
      // Queued behind the run in progress: the worker releases its session and exits by itself.
      this.worker.postMessage({ kind: 'close' } satisfies ToWorker);
      this.worker.ref();
      const force = setTimeout(() => void this.worker.terminate(), CLOSE_GRACE_MS);
      force.unref();
      void this.ended.then(() => clearTimeout(force));
    }
    return this.ended;
  }
}
