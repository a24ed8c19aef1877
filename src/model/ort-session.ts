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
    // Intra-op threads that busy-wait after each run take the cores the rest of the pipeline needs: off by
    // default. Measured on 2 cores: three networks in turn 8.8 fps engine-only spinning vs 23 not; tds process at
    // 1280x1024 with ORT in its thread 11.4 vs 13.7 fps (masks) and 9.8 vs 13.1 (with colour PNGs). Spinning is
    // only faster for back-to-back runs with nothing else to do (~8%, 72 vs 67 fps engine-only).
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
