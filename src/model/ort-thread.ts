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
  { kind: 'run'; id: number; name: string; input: Float32Array; dims: number[] } | { kind: 'close' };
export type FromWorker =
  | {
      kind: 'open';
      provider: string;
      skipped: Array<{ provider: string; err: string }>;
      inputNames: string[];
      outputNames: string[];
    }
  | { kind: 'fail'; message: string }
  | { kind: 'done'; id: number; outputs: Record<string, { data: Float32Array; dims: number[] }>; input: Float32Array }
  | { kind: 'error'; id: number; message: string };

export type Outputs = Record<string, { data: Float32Array; dims: number[] }>;

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
  private readonly pending = new Map<number, { resolve: (o: Outputs) => void; reject: (e: Error) => void }>();
  /** Input buffers handed back by the worker, reused for the next runs. */
  private readonly spare: Float32Array[] = [];
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
        p?.resolve(m.outputs);
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
    const worker = new Worker(workerFile(), { workerData: settings, execArgv });
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
  run(name: string, input: Float32Array, dims: number[]): Promise<Outputs> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('the inference thread was closed'));
    const id = this.nextId++;
    const done = new Promise<Outputs>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.worker.ref();
    const msg: ToWorker = { kind: 'run', id, name, input, dims };
    this.worker.postMessage(msg, [input.buffer as ArrayBuffer]);
    return done;
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
