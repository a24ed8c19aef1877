// Batch policy: lossless and in order, with the next frame's inference (ORT's own threads) overlapping the
// JavaScript post-processing of the current one, and decoding running ahead in ffmpeg's process and pipe.
import type { Frame } from '../types.js';
import type { Ensemble, EnsembleResult } from '../model/ensemble.js';

export interface Segmented {
  frame: Frame;
  result: EnsembleResult;
  decodeMs: number;
}

/** Segments every frame of `frames` in order; `skip(frame)` frames are passed through without inference. */
export async function* segmentInOrder(
  frames: AsyncIterable<Frame>,
  ens: Ensemble,
  skip: (f: Frame) => boolean = () => false,
): AsyncGenerator<Segmented | { frame: Frame; skipped: true; decodeMs: number }> {
  const it = frames[Symbol.asyncIterator]();
  const pull = async () => {
    const t0 = performance.now();
    const r = await it.next();
    return { r, ms: performance.now() - t0 };
  };
  let cur = await pull();
  let pending = !cur.r.done && !skip(cur.r.value) ? ens.segment(cur.r.value.left) : undefined;
  try {
    while (!cur.r.done) {
      const frame = cur.r.value;
      const result = pending ? await pending : undefined;
      pending = undefined;
      let next: Awaited<ReturnType<typeof pull>> | undefined;
      let broken: unknown;
      try {
        next = await pull();
      } catch (e) {
        // A bad next frame (damaged file, non-image in a folder) must not cost this good one: hand it on first.
        broken = e;
      }
      // Start the next inference before handing this frame on: its post-processing overlaps ORT's work.
      if (next && !next.r.done && !skip(next.r.value)) pending = ens.segment(next.r.value.left);
      if (result) yield { frame, result, decodeMs: cur.ms };
      else yield { frame, skipped: true as const, decodeMs: cur.ms };
      if (!next) throw broken;
      cur = next;
    }
  } finally {
    await pending?.catch(() => {});
    await it.return?.();
  }
}
