// The live policy as operators, in virtual time (rxjs TestScheduler marbles): dropping while busy, the adaptive
// ensemble, and the reopen/loop policy of sources.
import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { defer, map, type Observable } from 'rxjs';
import {
  keepOpen,
  liveSegment,
  reopenDelayMs,
  RESTORE_AFTER,
  type ArrivedFrame,
  type LiveResult,
} from '../../src/stream/live.js';
import type { EnsembleResult } from '../../src/types.js';

const scheduler = () => new TestScheduler((a, b) => expect(a).toEqual(b));

/** A 2x1 frame; its result labels pixel 0 as class 0 and pixel 1 as class 1. */
const frame = (index: number): ArrivedFrame => ({
  index,
  ptsMs: index * 40,
  arrivedAt: 0,
  left: { data: Buffer.alloc(6), width: 2, height: 1, channels: 3 },
});
const result = (): EnsembleResult => ({
  fused: { probs: new Float32Array([0.9, 0.1, 0.2, 0.8]), width: 2, height: 1, numClasses: 2 },
  presence: new Float32Array([0.9, 0.8]),
  scene: new Float32Array([1]),
  sizes: ['32x32'],
  inferMs: 1,
});
const base = { classNames: ['background', 'tool'], sceneNames: ['only'], post: { minArea: 0 } };

describe('liveSegment: dropping while busy', () => {
  it('frames that arrive during inference are dropped and counted; the counters travel with each result', () => {
    scheduler().run(({ cold, hot, expectObservable }) => {
      // A frame every 10 ms, inference takes 25 ms: a (0) runs to 25, b and c are dropped, d (30) runs to 55, e
      // and f are dropped. Each result carries the counts as of its moment.
      const frames = hot('a 9ms b 9ms c 9ms d 9ms e 9ms f 9ms |', {
        a: frame(0),
        b: frame(1),
        c: frame(2),
        d: frame(3),
        e: frame(4),
        f: frame(5),
      });
      const out = frames.pipe(
        liveSegment({ ...base, sizes: 1, segment: () => cold('25ms (r|)', { r: result() }) }),
        map((r: LiveResult) => ({
          frame: r.frame.index,
          counts: r.counts,
          labels: [...r.labels],
          maskPresent: r.maskPresent,
        })),
      );
      expectObservable(out).toBe('25ms x 29ms y 4ms |', {
        x: {
          frame: 0,
          counts: { framesIn: 3, processed: 1, dropped: 2, activeSizes: 1 },
          labels: [0, 1],
          maskPresent: ['background', 'tool'],
        },
        y: {
          frame: 3,
          counts: { framesIn: 6, processed: 2, dropped: 4, activeSizes: 1 },
          labels: [0, 1],
          maskPresent: ['background', 'tool'],
        },
      });
    });
  });

  it('each subscription counts from zero (no state shared between runs)', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const frames = cold('a 9ms b|', { a: frame(0), b: frame(1) });
      const op = liveSegment({ ...base, sizes: 1, segment: () => cold('5ms (r|)', { r: result() }) });
      const counts = (o: Observable<LiveResult>) => o.pipe(map((r) => r.counts.processed));
      expectObservable(counts(frames.pipe(op))).toBe('5ms x 9ms (y|)', { x: 1, y: 2 });
      expectObservable(counts(frames.pipe(op))).toBe('5ms x 9ms (y|)', { x: 1, y: 2 });
    });
  });
});

describe('liveSegment: adaptive ensemble', () => {
  it('drops the largest size when a frame misses the deadline, restores it after sustained headroom', () => {
    const limits: number[] = [];
    const sizes: number[] = [];
    const times: number[] = [];
    const ts = scheduler();
    ts.run(({ cold, hot, flush }) => {
      // Three sizes, a frame every 40 ms, deadline 20 ms (headroom: under 12 ms). Three sizes cost 30 ms, two
      // cost 15 ms for the first two frames and 10 ms after, one costs 5 ms.
      const n = 2 + RESTORE_AFTER + 2;
      const frames = hot(Array.from({ length: n }, () => 'f 39ms ').join('') + '|', { f: frame(0) });
      frames
        .pipe(
          liveSegment({
            ...base,
            sizes: 3,
            deadlineMs: 20,
            scheduler: ts,
            segment: (_f, limit) => {
              limits.push(limit);
              const ms = limit === 3 ? 30 : limit === 2 ? (limits.length <= 2 ? 15 : 10) : 5;
              return cold(`${ms}ms (r|)`, { r: result() });
            },
          }),
        )
        .subscribe((r) => {
          sizes.push(r.counts.activeSizes);
          times.push(ts.now());
        });
      flush();
    });
    // frame 1 (3 sizes, 30 ms) misses: 2 sizes; frame 2 (15 ms) neither misses nor has headroom; frames 3-12 have
    // headroom: after the 10th the third size is back; frame 13 misses again; frame 14 runs 2 sizes.
    expect(limits).toEqual([3, 2, ...Array(RESTORE_AFTER).fill(2), 3, 2]);
    expect(sizes).toEqual([2, 2, ...Array(RESTORE_AFTER - 1).fill(2), 3, 2, 2]);
    expect(times.slice(0, 3)).toEqual([30, 55, 90]);
  });
});

describe('keepOpen: reopening sources', () => {
  it('a live source that keeps failing is reopened at once, then after 250, 500, 1000 ms ...; a frame resets the backoff', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(reopenDelayMs)).toEqual([0, 250, 500, 1000, 2000, 4000, 8000, 10000]);
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      let opened = 0;
      // Fails at once four times, then delivers a frame and fails; then fails at once again.
      const attempts = ['#', '#', '#', '#', 'a #', '#'];
      const sources = attempts.map((m) => cold(m, { a: 'a' }));
      const reopened: Array<[number, number]> = [];
      const src = defer(() => sources[Math.min(opened++, sources.length - 1)]);
      const out = src.pipe(keepOpen({ isLive: true, onReopen: (_e, n, ms) => reopened.push([n, ms]) }));
      // Opened at 0, 0, 250, 750 (+500), 1750 (+1000): the frame at 1750; it fails at 1751 and, the backoff
      // reset by the frame, reopens at once (1751), then 250 ms later (2001) ... unsubscribed at 2100.
      expectObservable(out, '^ 2100ms !').toBe('1750ms a', { a: 'a' });
      expectSubscriptions(sources[4].subscriptions).toBe('1750ms ^ !');
      expectSubscriptions(sources[5].subscriptions).toBe(['1751ms (^!)', '2001ms (^!)']);
    });
  });

  it("a file ends the stream (its failure is the stream's); with loop it restarts at its end", () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a b |').pipe(keepOpen({ isLive: false }))).toBe('a b |');
      expectObservable(cold('a #').pipe(keepOpen({ isLive: false }))).toBe('a #');
      expectObservable(cold('a b |').pipe(keepOpen({ isLive: false, loop: true })), '^ 7ms !').toBe('a b a b a b a b');
    });
  });

  it('a live source that ends is reopened after 1 s', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a|').pipe(keepOpen({ isLive: true })), '^ 2100ms !').toBe('a 1000ms a 1000ms a');
    });
  });
});
