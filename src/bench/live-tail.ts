// Where a live frame's latency went, for the frames in the tail: the forward pass on ORT's thread, the main
// thread's post-processing, garbage-collection pauses that overlapped the frame, and the rest (preprocessing,
// hand-offs between threads, waiting for a busy event loop). Evidence for what the live p99 is made of, from the
// server's per-frame timings and the process's GC entries (node:perf_hooks 'gc').
import type { FrameTiming } from '../stream/serve.js';
import { median } from '../median.js';

/** A GC pause on performance.now()'s clock. */
export interface Pause {
  start: number;
  duration: number;
}

export interface TailParts {
  /** Frames whose latency exceeded the threshold. */
  late: number;
  frames: number;
  /** Medians over the late frames (ms). */
  latency: number;
  run: number;
  post: number;
  gc: number;
  rest: number;
  /** Late frames whose forward pass alone exceeded the threshold / that overlapped a GC pause of >= 5 ms. */
  slowRun: number;
  withGc: number;
}

/** GC time inside [a, b] (ms). */
export function overlapMs(pauses: Pause[], a: number, b: number): number {
  let t = 0;
  for (const p of pauses) t += Math.max(0, Math.min(b, p.start + p.duration) - Math.max(a, p.start));
  return t;
}

/** The parts of the frames slower than `thresholdMs` (arrival to mask), as medians, and what they share. */
export function tailParts(timings: FrameTiming[], pauses: Pause[], thresholdMs: number): TailParts {
  const late = timings.filter((t) => t.latency > thresholdMs);
  const gcOf = (t: FrameTiming) => overlapMs(pauses, t.arrivedAt, t.arrivedAt + t.latency);
  const m = (f: (t: FrameTiming) => number) => (late.length ? median(late.map(f)) : 0);
  return {
    late: late.length,
    frames: timings.length,
    latency: m((t) => t.latency),
    run: m((t) => t.run ?? t.infer),
    post: m((t) => t.post),
    gc: m(gcOf),
    rest: m((t) => Math.max(0, t.latency - (t.run ?? t.infer) - t.post - gcOf(t))),
    slowRun: late.filter((t) => (t.run ?? t.infer) > thresholdMs).length,
    withGc: late.filter((t) =>
      pauses.some((p) => p.duration >= 5 && overlapMs([p], t.arrivedAt, t.arrivedAt + t.latency) > 0),
    ).length,
  };
}
