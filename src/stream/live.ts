// Live policy: frames arrive at the source's pace and are never queued: while inference is busy, arriving
// frames are dropped (exhaustMap) and counted, so latency stays one frame's processing time. An adaptive
// ensemble drops sizes when a frame misses the deadline and restores them when there is headroom. A live
// source that fails is reopened with backoff; a file ends the stream or loops.
import { Observable, defer, exhaustMap, from, map, repeat, retry, tap, timer } from 'rxjs';
import type { Frame } from '../types.js';
import { log } from '../log.js';
import type { Ensemble } from '../model/ensemble.js';
import { analyze, type FrameResult, type PostOptions } from '../postprocess/analyze.js';
import { openSource, type SourceOptions } from './source.js';

export interface LiveResult extends FrameResult {
  /** performance.now() when the frame arrived from the source. */
  arrivedAt: number;
}

export interface LiveCounters {
  framesIn: number;
  processed: number;
  dropped: number;
  /** Sizes the adaptive ensemble currently runs. */
  activeSizes: number;
  reopened: number;
}

/** Frames of `input` as they arrive (push), reopened with backoff when a live source fails; files end or loop. */
export function liveFrames(input: string, o: SourceOptions & { loop?: boolean; isLive: boolean }, counters: LiveCounters): Observable<Frame & { arrivedAt: number }> {
  const once = defer(() =>
    new Observable<Frame & { arrivedAt: number }>((sub) => {
      let close = () => {};
      let stopped = false;
      (async () => {
        const src = await openSource(input, o);
        close = src.close;
        if (stopped) return src.close();
        for await (const f of src.frames) {
          if (stopped) break;
          counters.framesIn++;
          sub.next({ ...f, arrivedAt: performance.now() });
        }
        sub.complete();
      })().catch((e) => sub.error(e));
      return () => {
        stopped = true;
        close();
      };
    }),
  );
  // A failed source is reopened at once the first time (a killed or crashed ffmpeg is back within a second),
  // then with backoff up to 10 s while it keeps failing; one frame through resets the backoff.
  const reopen = retry<Frame & { arrivedAt: number }>({
    resetOnSuccess: true,
    delay: (err, n) => {
      counters.reopened++;
      const ms = n === 1 ? 0 : Math.min(10_000, 250 * 2 ** (n - 2));
      log.warn({ err: (err as Error).message, retryInMs: ms }, 'source failed; reopening');
      return timer(ms);
    },
  });
  // A file ends the stream, or with --loop restarts at its end and reopens after a failure like a live feed.
  if (!o.isLive) return o.loop ? once.pipe(repeat(), reopen) : once;
  return once.pipe(repeat({ delay: () => timer(1000) }), reopen);
}

export interface LiveOptions {
  classNames: string[];
  sceneNames: string[];
  post: PostOptions;
  /** Adaptive ensemble: a frame slower than this drops the largest remaining size; 0 = off. */
  deadlineMs?: number;
}

/** Segments frames with the live policy. */
export function liveSegment(frames: Observable<Frame & { arrivedAt: number }>, ens: Ensemble, o: LiveOptions, counters: LiveCounters): Observable<LiveResult> {
  counters.activeSizes = ens.sizes.length;
  let fastStreak = 0;
  return frames.pipe(
    exhaustMap((f) =>
      from(ens.segment(f.left, counters.activeSizes)).pipe(
        map((e) => {
          const r = analyze(f, e, o.classNames, o.sceneNames, o.post);
          const took = performance.now() - f.arrivedAt;
          if (o.deadlineMs) {
            if (took > o.deadlineMs && counters.activeSizes > 1) {
              counters.activeSizes--;
              fastStreak = 0;
            } else if (took < 0.6 * o.deadlineMs && counters.activeSizes < ens.sizes.length) {
              // Restore a size only after sustained headroom, so the ensemble does not oscillate.
              if (++fastStreak >= 10) {
                counters.activeSizes++;
                fastStreak = 0;
              }
            } else fastStreak = 0;
          }
          return { ...r, arrivedAt: f.arrivedAt };
        }),
      ),
    ),
    tap(() => {
      counters.processed++;
      counters.dropped = counters.framesIn - counters.processed;
    }),
  );
}
