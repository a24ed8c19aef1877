// The inference thread: one ORT session in a worker_thread. onnxruntime-node's InferenceSession.run computes
// synchronously on the thread that calls it (it is only wrapped in a promise), so on the main thread every
// forward pass stopped the event loop: no post-processing or PNG hand-off overlapped inference in batch work,
// and live sends waited behind it. Here it blocks only this thread. Protocol: src/model/ort-thread.ts.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { openSession, type SessionSettings } from './ort-session.js';
import type { FromWorker, ToWorker } from './ort-thread.js';

const port = parentPort!;
const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
// Native ORT logs go to stderr outside our logger; every failure also comes back as an exception, which the
// segmenter reports with the file and a fix. Only fatal native messages are let through.
ort.env.logLevel = 'fatal';

try {
  const { session, provider, skipped } = await openSession(workerData as SessionSettings);
  // One message at a time: session.run defers its native call (setImmediate), so without this chain a close
  // could release the session under a run that is about to start.
  let chain = Promise.resolve();
  const handle = async (m: ToWorker) => {
    if (m.kind === 'close') {
      // After the run in progress: release the session, then end (nothing else keeps this thread alive).
      await session.release();
      port.close();
      return;
    }
    try {
      // The forward pass alone, on this thread's clock: what the main thread's wait adds shows beside it.
      const t0 = performance.now();
      const out = await session.run({ [m.name]: new ort.Tensor('float32', m.input, m.dims) });
      const runMs = performance.now() - t0;
      const outputs: Record<string, { data: Float32Array; dims: number[] }> = {};
      for (const [k, t] of Object.entries(out)) {
        // A copy the main thread can own (ORT may hold the tensor's memory natively), into a buffer the main
        // thread handed back when it has one of the right size (no new ArrayBuffer per frame).
        const data = t.data as Float32Array;
        const into: Float32Array | undefined = m.spare[k];
        outputs[k] = {
          data: into && into.length === data.length ? (into.set(data), into) : data.slice(),
          dims: [...t.dims],
        };
        t.dispose?.();
      }
      // The input buffer goes back too, for the next frame.
      post({ kind: 'done', id: m.id, outputs, input: m.input, runMs }, [
        ...Object.values(outputs).map((o) => o.data.buffer as ArrayBuffer),
        m.input.buffer as ArrayBuffer,
      ]);
    } catch (e) {
      post({ kind: 'error', id: m.id, message: (e as Error).message.split('\n')[0] });
    }
  };
  port.on('message', (m: ToWorker) => (chain = chain.then(() => handle(m))));
  post({ kind: 'open', provider, skipped, inputNames: [...session.inputNames], outputNames: [...session.outputNames] });
} catch (e) {
  post({ kind: 'fail', message: (e as Error).message.split('\n')[0] });
}
