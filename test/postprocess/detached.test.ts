import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { removeDetached, viewEdge, DETACHED_DEFAULTS } from '../../src/postprocess/detached.js';
import { analyze } from '../../src/postprocess/analyze.js';
import type { Image } from '../../src/types.js';

const W = 100;
const H = 80;
/** A mid-grey frame (all in view), or one whose pixels outside a centred circle of radius r are black. */
function frame(r?: number): Image {
  const data = Buffer.alloc(W * H * 3, 120);
  if (r !== undefined)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        if ((x - W / 2) ** 2 + (y - H / 2) ** 2 > r * r) data.fill(0, (y * W + x) * 3, (y * W + x + 1) * 3);
  return { data, width: W, height: H, channels: 3 };
}
function rect(l: Uint8Array, x0: number, y0: number, x1: number, y1: number, v: number) {
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) l[y * W + x] = v;
}
const count = (l: Uint8Array, v: number) => l.reduce((a, b) => a + (b === v ? 1 : 0), 0);
// reach 0.05 of the shorter side (80) is 4 px; keepArea 0.05 of 8000 px is 400 px.
const o = DETACHED_DEFAULTS;

describe('removeDetached', () => {
  it('keeps an instrument entering from the border (shaft and its tip) and removes a detached speck', () => {
    const l = new Uint8Array(W * H);
    rect(l, 0, 30, 40, 36, 1); // shaft from the left border
    rect(l, 40, 28, 48, 38, 2); // its tip, joined to the shaft
    rect(l, 70, 10, 76, 16, 1); // a 36-pixel highlight in mid-frame
    removeDetached(l, frame(), o);
    expect(count(l, 1)).toBe(40 * 6);
    expect(count(l, 2)).toBe(8 * 10);
    expect(l[12 * W + 72]).toBe(0);
  });

  it('the dark surround of the scope is the edge of the view: a region touching it is kept', () => {
    const l = new Uint8Array(W * H);
    // The circle (radius 30) leaves x < 20 black at y = 40: a shaft from x = 18 touches the surround.
    rect(l, 18, 38, 45, 42, 1);
    rect(l, 48, 20, 54, 26, 2); // detached, inside the circle
    const img = frame(30);
    removeDetached(l, img, o);
    expect(count(l, 1)).toBe(27 * 4);
    expect(count(l, 2)).toBe(0);
    // With dark 0 nothing is out of view: the same shaft, 18 px from the border, is detached (small) and removed.
    const l2 = new Uint8Array(W * H);
    rect(l2, 18, 38, 45, 42, 1);
    removeDetached(l2, img, { ...o, dark: 0 });
    expect(count(l2, 1)).toBe(0);
  });

  it('a region within reach of the border counts as reaching it; one just beyond does not', () => {
    const l = new Uint8Array(W * H);
    rect(l, 4, 10, 12, 14, 1); // 4 px from the left border: within reach (4 px)
    rect(l, 5, 50, 13, 54, 1); // 5 px from it: beyond
    removeDetached(l, frame(), o);
    expect(l[12 * W + 6]).toBe(1);
    expect(l[52 * W + 6]).toBe(0);
  });

  it('keeps a detached region of at least keepArea of the frame (an instrument whose shaft is hidden)', () => {
    const l = new Uint8Array(W * H);
    rect(l, 30, 20, 50, 40, 1); // 400 px = 5% of the frame
    rect(l, 60, 20, 79, 40, 2); // 380 px: below
    removeDetached(l, frame(), o);
    expect(count(l, 1)).toBe(400);
    expect(count(l, 2)).toBe(0);
  });

  it('regions are 8-connected: a diagonal chain to the border is kept whole', () => {
    const l = new Uint8Array(W * H);
    for (let i = 0; i < 20; i++) l[(5 + i) * W + 5 + i] = 1; // starts 5 px in: not within reach
    l[4 * W + 4] = 1;
    l[3 * W + 3] = 1;
    l[2 * W + 2] = 1; // within reach of the border
    removeDetached(l, frame(), o);
    expect(count(l, 1)).toBe(23);
  });

  it('property: idempotent, never adds foreground, and leaves every border-touching region untouched', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ min: 0, max: 2, minLength: W * H, maxLength: W * H }),
        fc.integer({ min: 0, max: 200 }),
        (raw, dark) => {
          // Sparse masks: most pixels background, so there are many regions of every kind.
          const l = raw.map((v, i) => (v === 2 && (i * 7919) % 5 ? 0 : v === 1 && (i * 104729) % 3 ? 0 : v));
          const img = frame(35);
          const once = removeDetached(l.slice(), img, { ...o, dark });
          for (let i = 0; i < l.length; i++) expect(once[i] === l[i] || once[i] === 0).toBe(true);
          for (let x = 0; x < W; x++) expect(once[x]).toBe(l[x]);
          expect(removeDetached(once.slice(), img, { ...o, dark })).toEqual(once);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('refuses labels of another size and negative settings', () => {
    expect(() => removeDetached(new Uint8Array(10), frame(), o)).toThrow(/10 labels for a 100x80 image/);
    expect(() => removeDetached(new Uint8Array(W * H), frame(), { ...o, reach: -1 })).toThrow(/non-negative/);
  });

  it('viewEdge marks the border and the dark surround, not the lit inside', () => {
    const e = viewEdge(frame(30), 32);
    expect(e[0]).toBe(1);
    expect(e[40 * W + 5]).toBe(1); // outside the circle
    expect(e[40 * W + 50]).toBe(0); // centre
  });

  it('analyze applies it after small-region removal when asked, and not otherwise', () => {
    const probs = new Float32Array(W * H * 3);
    const l = new Uint8Array(W * H);
    rect(l, 0, 30, 40, 36, 1);
    rect(l, 70, 10, 76, 16, 1);
    l.forEach((v, i) => (probs[i * 3 + v] = 1));
    const e = {
      fused: { probs, width: W, height: H, numClasses: 3 },
      presence: new Float32Array(0),
      scene: new Float32Array(0),
      sizes: ['80x100'],
      inferMs: 0,
    };
    const f = { index: 0, ptsMs: 0, left: frame() };
    const names = ['background', 'shaft', 'manipulator'];
    expect(count(analyze(f, e, names, [], { minArea: 0 }).labels, 1)).toBe(240 + 36);
    expect(count(analyze(f, e, names, [], { minArea: 0, detached: o }).labels, 1)).toBe(240);
  });
});
