// The live benchmark's tail evidence: which parts the frames over the threshold spent their time in.
import { describe, expect, it } from 'vitest';
import { overlapMs, tailParts } from '../src/bench/live-tail.js';

describe('live tail parts', () => {
  it('GC overlap is clipped to the frame; late frames split into run, post, GC and the rest', () => {
    expect(overlapMs([{ start: 10, duration: 10 }], 0, 15)).toBe(5);
    expect(overlapMs([{ start: 10, duration: 10 }], 20, 30)).toBe(0);
    expect(
      overlapMs(
        [
          { start: 0, duration: 4 },
          { start: 6, duration: 4 },
        ],
        2,
        8,
      ),
    ).toBe(4);
    const timings = [
      { arrivedAt: 0, latency: 20, infer: 17, run: 15, post: 3 },
      // Late: a 12 ms GC pause inside it, its forward pass normal.
      { arrivedAt: 100, latency: 50, infer: 35, run: 16, post: 3 },
      // Late: its forward pass alone was slow, no GC.
      { arrivedAt: 200, latency: 60, infer: 56, run: 52, post: 4 },
      { arrivedAt: 300, latency: 21, infer: 18, run: 15, post: 3 },
    ];
    const pauses = [
      { start: 110, duration: 12 },
      { start: 260.5, duration: 30 }, // after the third frame ended: not inside it
    ];
    const t = tailParts(timings, pauses, 40);
    expect(t).toMatchObject({ late: 2, frames: 4, slowRun: 1, withGc: 1 });
    expect(t.latency).toBe(55);
    expect(t.run).toBe(34); // median of 16 and 52
    expect(t.gc).toBe(6); // median of 12 and 0
    // rest: 50-16-3-12 = 19 and 60-52-4-0 = 4
    expect(t.rest).toBe(11.5);
    // Without run times (tfjs engine) the whole inference counts as the run.
    expect(tailParts([{ arrivedAt: 0, latency: 50, infer: 45, post: 5 }], [], 40).run).toBe(45);
  });
});
