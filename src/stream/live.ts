// Live policy, as RxJS operators. Frames arrive at the source's pace and are never queued: while inference is
// busy, arriving frames are dropped (exhaustMap) and counted, so latency stays one frame's processing time. An
// adaptive ensemble drops sizes when a frame misses the deadline and restores them after sustained headroom. A
// live source that fails is reopened with backoff; a file ends the stream or loops. The counters travel with
// each result (no shared mutable state), and time comes from the scheduler, so marble tests drive it all.
import {
  Observable,
  asyncScheduler,
  defer,
  exhaustMap,
  from,
  map,
  repeat,
  retry,
  timer,
  type MonoTypeOperatorFunction,
  type ObservableInput,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs';
import type { EnsembleResult, Frame, FrameResult } from '../types.js';
import { log } from '../log.js';
import { analyze, type PostOptions } from '../postprocess/analyze.js';
import { openSource, type SourceOptions } from './source.js';

export type ArrivedFrame = Frame & {
  /** performance.now() when the frame arrived from the source. */
  arrivedAt: number;
};

/** Where the live pipeline stands, as of one result. */
export interface LiveCounts {
  /** Frames that reached the pipeline. */
  framesIn: number;
  /** Frames segmented (this one included). */
  processed: number;
  /** Frames dropped while inference was busy. */
  dropped: number;
  /** Sizes the adaptive ensemble runs for the next frame. */
  activeSizes: number;
}

export interface LiveResult extends FrameResult {
  arrivedAt: number;
  counts: LiveCounts;
}

/** Frames of one opening of `input`, pushed as they arrive; unsubscribing closes the source (and its ffmpeg). */
export function sourceFrames(input: string, o: SourceOptions): Observable<ArrivedFrame> {
  return new Observable<ArrivedFrame>((sub) => {
    let close = () => {};
    let stopped = false;
    (async () => {
      const src = await openSource(input, o);
      close = src.close;
      if (stopped) return src.close();
      for await (const f of src.frames) {
        if (stopped) break;
        sub.next({ ...f, arrivedAt: performance.now() });
      }
      sub.complete();
    })().catch((e) => sub.error(e));
    return () => {
      stopped = true;
      close();
    };
  });
}

export interface KeepOpenOptions {
  /** A live feed (camera, URL): reopened when it ends or fails. */
  isLive: boolean;
  /** A file: restart at its end, and reopen after a failure like a live feed. */
  loop?: boolean;
  /** Called before each reopening after a failure (n = consecutive failures). */
  onReopen?: (err: unknown, n: number, delayMs: number) => void;
  scheduler?: SchedulerLike;
}

/** Reopen delay after the n-th consecutive failure: at once, then 250 ms doubling up to 10 s. */
export function reopenDelayMs(n: number): number {
  return n === 1 ? 0 : Math.min(10_000, 250 * 2 ** (n - 2));
}

/**
 * The reopen policy over a cold source (each subscription opens it anew). A failed source is reopened at once
 * the first time (a killed or crashed ffmpeg is back within a second), then with backoff while it keeps failing;
 * one frame through resets the backoff. A live source that ends is reopened after 1 s; a file ends the stream,
 * or with `loop` restarts at its end.
 */
export function keepOpen<T>(o: KeepOpenOptions): MonoTypeOperatorFunction<T> {
  const scheduler = o.scheduler ?? asyncScheduler;
  const reopen = retry<T>({
    resetOnSuccess: true,
    delay: (err, n) => {
      const ms = reopenDelayMs(n);
      o.onReopen?.(err, n, ms);
      return timer(ms, scheduler);
    },
  });
  return (source) => {
    if (!o.isLive) return o.loop ? source.pipe(repeat(), reopen) : source;
    return source.pipe(repeat({ delay: () => timer(1000, scheduler) }), reopen);
  };
}

/** Frames of `input` as they arrive, kept open by the policy above (failures are logged). */
export function liveFrames(
  input: string,
  o: SourceOptions & Omit<KeepOpenOptions, 'scheduler'>,
): Observable<ArrivedFrame> {
  return defer(() => sourceFrames(input, o)).pipe(
    keepOpen({
      ...o,
      onReopen: (err, n, ms) => {
        log.warn({ err: (err as Error).message, retryInMs: ms }, 'source failed; reopening');
        o.onReopen?.(err, n, ms);
      },
    }),
  );
}

export interface LiveSegmentOptions {
  /** Runs the ensemble's first `limit` sizes on a frame (e.g. `(f, n) => from(ens.segment(f.left, n))`). */
  segment: (frame: ArrivedFrame, limit: number) => ObservableInput<EnsembleResult>;
  /** Sizes the ensemble has. */
  sizes: number;
  classNames: string[];
  sceneNames: string[];
  post: PostOptions;
  /** Adaptive ensemble: a frame slower than this drops the largest remaining size; 0 = off. */
  deadlineMs?: number;
  scheduler?: SchedulerLike;
}

/** Frames that restore a dropped size: sustained headroom, so the ensemble does not oscillate. */
export const RESTORE_AFTER = 10;

/** The live policy as an operator: frames in, results with their counters out. */
export function liveSegment(o: LiveSegmentOptions): OperatorFunction<ArrivedFrame, LiveResult> {
  const scheduler = o.scheduler ?? asyncScheduler;
  return (frames) =>
    defer(() => {
      const counts: LiveCounts = { framesIn: 0, processed: 0, dropped: 0, activeSizes: o.sizes };
      let fastStreak = 0;
      return frames.pipe(
        map((f) => {
          counts.framesIn++;
          return f;
        }),
        exhaustMap((f) => {
          const start = scheduler.now();
          return from(o.segment(f, counts.activeSizes)).pipe(
            map((e): LiveResult => {
              const r = analyze(f, e, o.classNames, o.sceneNames, o.post);
              e.release?.();
              const took = scheduler.now() - start;
              if (o.deadlineMs) {
                if (took > o.deadlineMs && counts.activeSizes > 1) {
                  counts.activeSizes--;
                  fastStreak = 0;
                } else if (took < 0.6 * o.deadlineMs && counts.activeSizes < o.sizes) {
                  if (++fastStreak >= RESTORE_AFTER) {
                    counts.activeSizes++;
                    fastStreak = 0;
                  }
                } else fastStreak = 0;
              }
              counts.processed++;
              counts.dropped = counts.framesIn - counts.processed;
              return { ...r, arrivedAt: f.arrivedAt, counts: { ...counts } };
            }),
          );
        }),
      );
    });
}
