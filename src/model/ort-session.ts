// An ORT inference session on the first execution provider that loads (CUDA/TensorRT where asked for and
// installed), CPU as the last resort. Runs in the inference thread (src/model/ort-worker.ts); it reports the
// providers it skipped instead of logging, so the caller's logger says so once.
import * as ort from 'onnxruntime-node';
import type { ExecutionProvider } from './segmenter-base.js';

export interface SessionSettings {
  file: string;
  providers: ExecutionProvider[];
  /** Intra-op threads. */
  threads: number;
  /** Let intra-op threads busy-wait between runs (ORT's default). */
  spinning: boolean;
}

export interface OpenedSession {
  session: ort.InferenceSession;
  provider: string;
  /** Providers asked for that did not load, with the first line of their error. */
  skipped: Array<{ provider: string; err: string }>;
}

/** Opens `file`; throws the CPU provider's error when even CPU cannot load it. */
export async function openSession(s: SessionSettings): Promise<OpenedSession> {
  const base: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: s.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    // Several sessions in turn (an averaged model's members): intra-op threads that busy-wait after each run
    // starve the next session on 2 cores (measured, three fast networks: 8.8 fps engine-only spinning, 23 fps
    // not). One session alone keeps ORT's default, which is ~8% faster back to back (72 vs 67 fps).
    ...(s.spinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
  };
  const skipped: OpenedSession['skipped'] = [];
  for (const p of s.providers.filter((x) => x !== 'cpu')) {
    try {
      // Fatal-only native logging for the probe: a missing provider library is reported once, as a warning.
      const session = await ort.InferenceSession.create(s.file, {
        ...base,
        logSeverityLevel: 4,
        executionProviders: [p, 'cpu'],
      });
      return { session, provider: p, skipped };
    } catch (e) {
      skipped.push({ provider: p, err: (e as Error).message.split('\n')[0] });
    }
  }
  const session = await ort.InferenceSession.create(s.file, { ...base, executionProviders: ['cpu'] });
  return { session, provider: 'cpu', skipped };
}
