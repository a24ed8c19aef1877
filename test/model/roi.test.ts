// Two-stage inference around a region (src/model/roi.ts) and the training crops that match it
// (src/train/augment.ts roi), on hand-made maps.
import { describe, expect, it } from 'vitest';
import { keepLargestRegion, pasteRoi, roiRect } from '../../src/model/roi.js';
import { augmentReal, labelBox } from '../../src/train/augment.js';
import { IMAGENET } from '../../src/model/preprocess.js';
import { trainSchema } from '../../src/train/config.js';
import type { ProbMap } from '../../src/types.js';

/** A 3-class probability map of w x h: background everywhere but `boxes` (class, x0, y0, x1, y1 inclusive). */
function map(w: number, h: number, boxes: Array<[number, number, number, number, number]>): ProbMap {
  const probs = new Float32Array(w * h * 3);
  for (let i = 0; i < w * h; i++) probs[i * 3] = 1;
  for (const [c, x0, y0, x1, y1] of boxes)
    for (let y = y0; y <= y1; y++)
      for (let x = x0; x <= x1; x++) {
        const o = (y * w + x) * 3;
        probs.fill(0, o, o + 3);
        probs[o + c] = 1;
      }
  return { probs, width: w, height: h, numClasses: 3 };
}

describe('two-stage region crop', () => {
  it('a square `scale` x the largest region, centred on it, in image pixels', () => {
    // 32x32 map of a 320x320 image: the disc region (rim 1 with cup 2 inside) spans map x 10..17, y 12..19
    // (image 100..180 px, 80 px); a stray 2x2 region elsewhere must not pull the crop.
    const m = map(32, 32, [
      [1, 10, 12, 17, 19],
      [2, 12, 14, 15, 17],
      [1, 28, 1, 29, 2],
    ]);
    const r = roiRect(m, 320, 320, { classes: [1, 2], scale: 2 })!;
    expect(r).toEqual({ x: 60, y: 80, w: 160, h: 160 });
    // Against an edge the square shifts inside the image; larger than the image it is the whole short side.
    expect(roiRect(map(32, 32, [[1, 0, 0, 3, 3]]), 320, 320, { classes: [1], scale: 2 })).toEqual({
      x: 0,
      y: 0,
      w: 80,
      h: 80,
    });
    expect(roiRect(map(32, 16, [[1, 0, 0, 31, 15]]), 640, 320, { classes: [1], scale: 3 })).toMatchObject({
      w: 320,
      h: 320,
    });
    // Nothing of the classes: no second pass.
    expect(roiRect(map(8, 8, []), 80, 80, { classes: [1, 2], scale: 2 })).toBeUndefined();
  });

  it('the crop pass fills the square, background (class 0) elsewhere', () => {
    const second = map(2, 2, [[2, 0, 0, 1, 1]]); // all class 2
    const out = pasteRoi(second, { x: 2, y: 4, w: 4, h: 4 }, 8, 8);
    expect([out.width, out.height]).toEqual([8, 8]);
    for (let y = 0; y < 8; y++)
      for (let x = 0; x < 8; x++) {
        const inside = x >= 2 && x < 6 && y >= 4;
        const o = (y * 8 + x) * 3;
        expect(Array.from(out.probs.subarray(o, o + 3))).toEqual(inside ? [0, 0, 1] : [1, 0, 0]);
      }
  });

  it('only the largest region of the classes is kept (rim and cup as one), other regions become background', () => {
    // A 12-pixel rim+cup region and a 4-pixel stray one; a class outside the set (none here) would stay.
    const m = map(8, 8, [
      [1, 0, 0, 3, 2],
      [2, 1, 1, 2, 1],
      [1, 6, 6, 7, 7],
    ]);
    const k = keepLargestRegion(m, [1, 2]);
    const lab = (p: Float32Array, i: number) => [0, 1, 2].reduce((b, c) => (p[i * 3 + c] > p[i * 3 + b] ? c : b), 0);
    expect(lab(k.probs, 0)).toBe(1);
    expect(lab(k.probs, 1 * 8 + 1)).toBe(2);
    for (const i of [6 * 8 + 6, 6 * 8 + 7, 7 * 8 + 6, 7 * 8 + 7]) expect(lab(k.probs, i)).toBe(0);
    // The input map is not touched.
    expect(lab(m.probs, 7 * 8 + 7)).toBe(1);
  });
});

describe('training crops around a region', () => {
  it('labelBox finds the inclusive bounds of the classes', () => {
    const l = new Uint8Array(10 * 6);
    l[2 * 10 + 3] = 1;
    l[4 * 10 + 7] = 2;
    l[5 * 10 + 9] = 0;
    expect(labelBox(l, 10, [1, 2])).toEqual({ x0: 3, y0: 2, x1: 7, y1: 4 });
    expect(labelBox(l, 10, [3])).toBeUndefined();
  });

  it('with p = 1 and no shift the window is centred on the region and `scale` times its size', () => {
    // 200x100 frame, a 20x20 region at 150..169, 40..59; crop scale exactly 2 -> 40 source px over 64 output px.
    const W = 200;
    const H = 100;
    const labels = new Uint8Array(W * H);
    for (let y = 40; y < 60; y++) for (let x = 150; x < 170; x++) labels[y * W + x] = 1;
    const img = { data: Buffer.alloc(W * H * 3, 100), width: W, height: H, channels: 3 as const };
    const aug = { ...trainSchema.parse({}).augment, roi: { p: 1, classes: [1], scale: { min: 2, max: 2 }, shift: 0 } };
    let seed = 1;
    const r = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const s = augmentReal(img, labels, 64, 64, IMAGENET, aug, { h: false, v: false }, r);
    const box = labelBox(s.labels, 64, [1])!;
    expect(box).toEqual({ x0: 16, y0: 16, x1: 47, y1: 47 });
  });
});
