import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import { removeSmallRegions, connectedComponents } from '../../src/postprocess/small-regions.js';
import { fuseProbabilities } from '../../src/postprocess/fuse.js';
import {
  resizeArgmax,
  resizeProbs,
  flipProbsHorizontal,
  axisTaps,
  type ProbMap,
} from '../../src/postprocess/resize.js';
import { argmaxLabels } from '../../src/postprocess/argmax.js';
import { maskPresent, headPresent, syncConsistency, sceneLabel } from '../../src/postprocess/presence.js';
import { colorize, renderOverlay, type Rgb } from '../../src/postprocess/render.js';
import { writePng, readRaw } from '../../src/ingest/image-io.js';
import { tmp } from '../helpers.js';

const labelMap = (maxW = 24, maxH = 24, C = 4) =>
  fc.record({ w: fc.integer({ min: 1, max: maxW }), h: fc.integer({ min: 1, max: maxH }) }).chain(({ w, h }) =>
    fc.record({
      w: fc.constant(w),
      h: fc.constant(h),
      labels: fc.uint8Array({ min: 0, max: C - 1, minLength: w * h, maxLength: w * h }),
    }),
  );

describe('removeSmallRegions', () => {
  it('relabels a small island to its surrounding label and keeps larger regions', () => {
    // 6x4: a 2-pixel class-2 island inside class 1; a 1-pixel class 3 speck touching background
    const L = Uint8Array.from([1, 1, 1, 1, 0, 0, 1, 2, 2, 1, 0, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0]);
    const out = removeSmallRegions(L, 6, 4, { minArea: 3, connectivity: 4 });
    expect(Array.from(out)).toEqual([1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0]);
    expect(Array.from(L)).toContain(2); // input untouched
    // per-class minimum: keep class 2 regions of any size
    expect(Array.from(removeSmallRegions(L, 6, 4, { minArea: 3, perClass: { 2: 0 }, connectivity: 4 }))).toContain(2);
  });

  it('in place gives the same labels as on a copy, written into the input', () => {
    fc.assert(
      fc.property(
        labelMap(24, 24, 5),
        fc.integer({ min: 0, max: 12 }),
        fc.constantFrom(4, 8),
        ({ w, h, labels }, minArea, c) => {
          const o = { minArea, connectivity: c as 4 | 8 };
          const copy = removeSmallRegions(labels, w, h, o);
          const input = labels.slice();
          const inPlace = removeSmallRegions(input, w, h, { ...o, inPlace: true });
          expect(inPlace).toBe(input);
          expect(Array.from(inPlace)).toEqual(Array.from(copy));
        },
      ),
    );
  });

  it('connectivity decides whether diagonal pixels are one component', () => {
    const L = Uint8Array.from([1, 0, 0, 1]);
    expect(connectedComponents(L, 2, 2, 4).count).toBe(4);
    expect(connectedComponents(L, 2, 2, 8).count).toBe(2);
  });

  it('rejects a negative minArea', () => {
    expect(() => removeSmallRegions(new Uint8Array(4), 2, 2, { minArea: -3 })).toThrow(
      'minArea must be a non-negative integer, got -3',
    );
  });

  const props = fc.record({ minArea: fc.integer({ min: 0, max: 12 }), conn: fc.constantFrom(4 as const, 8 as const) });

  it('property: idempotent', () => {
    fc.assert(
      fc.property(labelMap(), props, ({ w, h, labels }, { minArea, conn }) => {
        const once = removeSmallRegions(labels, w, h, { minArea, connectivity: conn });
        const twice = removeSmallRegions(once, w, h, { minArea, connectivity: conn });
        expect(Array.from(twice)).toEqual(Array.from(once));
      }),
    );
  });

  it('property: no foreground component below minArea remains', () => {
    fc.assert(
      fc.property(labelMap(), props, ({ w, h, labels }, { minArea, conn }) => {
        const out = removeSmallRegions(labels, w, h, { minArea, connectivity: conn });
        const { comp, count } = connectedComponents(out, w, h, conn);
        const area = new Array(count).fill(0);
        const cls = new Array(count).fill(0);
        comp.forEach((k, i) => {
          area[k]++;
          cls[k] = out[i];
        });
        for (let k = 0; k < count; k++) if (cls[k] !== 0) expect(area[k]).toBeGreaterThanOrEqual(minArea);
      }),
    );
  });

  it('property: the label set never gains a class (except background)', () => {
    fc.assert(
      fc.property(labelMap(), props, ({ w, h, labels }, { minArea, conn }) => {
        const before = new Set(labels);
        for (const v of removeSmallRegions(labels, w, h, { minArea, connectivity: conn }))
          expect(v === 0 || before.has(v)).toBe(true);
      }),
    );
  });

  it('takes linear time: 1280x1024 in well under a second', () => {
    const w = 1280;
    const h = 1024;
    const L = new Uint8Array(w * h);
    for (let i = 0; i < L.length; i++) L[i] = (Math.imul(i, 2654435761) >>> 29) % 4 === 0 ? 1 : (i >> 7) % 3;
    const t0 = performance.now();
    removeSmallRegions(L, w, h, { minArea: 50 });
    // A quadratic pass would take minutes at 1.3 Mpx; the bound leaves room for a loaded machine (speed itself
    // is measured by the benchmark, post.remove-small.1280x1024.ms).
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});

const probMap = fc
  .record({ w: fc.integer({ min: 1, max: 12 }), h: fc.integer({ min: 1, max: 12 }), C: fc.integer({ min: 2, max: 5 }) })
  .chain(({ w, h, C }) =>
    fc.record({
      width: fc.constant(w),
      height: fc.constant(h),
      numClasses: fc.constant(C),
      probs: fc.float32Array({ min: 0, max: 1, noNaN: true, minLength: w * h * C, maxLength: w * h * C }),
    }),
  );

describe('fusion and resizing', () => {
  it('property: fusing identical maps is the identity', () => {
    fc.assert(
      fc.property(probMap, fc.integer({ min: 1, max: 4 }), (m, n) => {
        const f = fuseProbabilities(
          Array.from({ length: n }, () => m),
          { weights: Array.from({ length: n }, (_, i) => i + 1) },
        );
        expect(f.width).toBe(m.width);
        for (let i = 0; i < m.probs.length; i++) expect(f.probs[i]).toBeCloseTo(m.probs[i], 5);
      }),
    );
  });

  it('weighted mean of maps at different sizes, at the largest size', () => {
    const a = { probs: Float32Array.from([1, 0, 1, 0, 1, 0, 1, 0]), width: 2, height: 2, numClasses: 2 };
    const b = { probs: new Float32Array(4 * 4 * 2).map((_, i) => (i % 2 ? 1 : 0)), width: 4, height: 4, numClasses: 2 };
    const f = fuseProbabilities([a, b], { weights: [3, 1] });
    expect([f.width, f.height]).toEqual([4, 4]);
    expect(f.probs[0]).toBeCloseTo(0.75, 6);
    expect(f.probs[1]).toBeCloseTo(0.25, 6);
    expect(() => fuseProbabilities([a, b], { weights: [1] })).toThrow(/need 2 non-negative weights/);
  });

  it('resizeArgmax is exactly the argmax of every class interpolated (first class on ties), ties and near-ties too', () => {
    // Probabilities on a coarse grid (multiples of 1/8, plus a hair) make exact and near ties common: the
    // shortcuts (uniform cells, classes that cannot win in a cell) must never change a label.
    const coarse = fc
      .record({
        w: fc.integer({ min: 1, max: 10 }),
        h: fc.integer({ min: 1, max: 10 }),
        C: fc.integer({ min: 2, max: 12 }),
      })
      .chain(({ w, h, C }) =>
        fc.record({
          width: fc.constant(w),
          height: fc.constant(h),
          numClasses: fc.constant(C),
          probs: fc
            .array(fc.tuple(fc.integer({ min: 0, max: 8 }), fc.constantFrom(0, 1e-7, -1e-7)), {
              minLength: w * h * C,
              maxLength: w * h * C,
            })
            .map((xs) => Float32Array.from(xs, ([q, e]) => Math.max(0, q / 8 + e))),
        }),
      );
    const reference = (m: ProbMap, W: number, H: number) => {
      const C = m.numClasses;
      const tx = axisTaps(m.width, W);
      const ty = axisTaps(m.height, H);
      const out = new Uint8Array(W * H);
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          const [a, b, c, d] = [
            ty.i0[y] * m.width + tx.i0[x],
            ty.i0[y] * m.width + tx.i1[x],
            ty.i1[y] * m.width + tx.i0[x],
            ty.i1[y] * m.width + tx.i1[x],
          ];
          let best = 0;
          let bv = -Infinity;
          for (let k = 0; k < C; k++) {
            const p = m.probs;
            const top = p[a * C + k] + (p[b * C + k] - p[a * C + k]) * tx.w[x];
            const bot = p[c * C + k] + (p[d * C + k] - p[c * C + k]) * tx.w[x];
            const v = top + (bot - top) * ty.w[y];
            if (v > bv) [best, bv] = [k, v];
          }
          out[y * W + x] = best;
        }
      return out;
    };
    fc.assert(
      fc.property(coarse, fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), (m, W, H) => {
        expect(Array.from(resizeArgmax(m, W, H))).toEqual(Array.from(reference(m, W, H)));
      }),
      { numRuns: 300 },
    );
  });

  it('resizeArgmax equals argmax of the resized probabilities; flipping twice is the identity', () => {
    fc.assert(
      fc.property(probMap, fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 20 }), (m, W, H) => {
        const direct = resizeArgmax(m, W, H);
        const resized = resizeProbs(m, W, H).probs;
        const viaProbs = argmaxLabels(resized, m.numClasses);
        // They may differ only where two classes tie (float32 storage of the resized map breaks ties differently).
        for (let i = 0; i < direct.length; i++) {
          if (direct[i] !== viaProbs[i])
            expect(
              Math.abs(resized[i * m.numClasses + direct[i]] - resized[i * m.numClasses + viaProbs[i]]),
            ).toBeLessThan(1e-6);
        }
        expect(Array.from(flipProbsHorizontal(flipProbsHorizontal(m)).probs)).toEqual(Array.from(m.probs));
      }),
    );
  });
});

describe('presence, sync and scene', () => {
  it('sync consistency is the fraction of classes on which mask and class head agree', () => {
    const labels = Uint8Array.from([0, 0, 1, 1, 3]);
    expect(maskPresent(labels, 4)).toEqual([0, 1, 3]);
    expect(headPresent(Float32Array.from([0.9, 0.2, 0.7, 0.8]))).toEqual([0, 2, 3]);
    expect(syncConsistency([0, 1, 3], [0, 2, 3], 4)).toBe(0.5);
    expect(syncConsistency([0, 1], [0, 1], 12)).toBe(1);
    expect(sceneLabel(Float32Array.from([0.1, 0.7, 0.2]), ['preparing', 'peeling', 'incising'])).toEqual({
      label: 'peeling',
      id: 1,
      probs: { preparing: 0.1, peeling: 0.7, incising: 0.2 },
    });
  });
});

describe('word-at-a-time mask passes', () => {
  // Runs of one class (as in real masks) and mixed words, any length and any byte offset (views into a buffer).
  const runs = fc
    .array(fc.record({ label: fc.integer({ min: 0, max: 5 }), n: fc.integer({ min: 1, max: 11 }) }), { maxLength: 30 })
    .map((rs) => Uint8Array.from(rs.flatMap((r) => Array<number>(r.n).fill(r.label))));
  const colors: Rgb[] = [
    [0, 0, 0],
    [10, 200, 30],
    [255, 1, 128],
    [7, 7, 7],
    [90, 0, 250],
    [3, 140, 60],
  ];

  it('property: maskPresent and colorize equal the per-pixel definitions at every offset', () => {
    fc.assert(
      fc.property(runs, fc.integer({ min: 0, max: 3 }), (l, off) => {
        const buf = new Uint8Array(l.length + off);
        buf.set(l, off);
        const labels = buf.subarray(off);
        expect(maskPresent(labels, 6)).toEqual([...new Set(l)].sort((a, b) => a - b));
        const rgb = colorize(labels, l.length, 1, colors).data;
        expect([...rgb]).toEqual([...l].flatMap((k) => colors[k]));
      }),
    );
  });

  it('a label without a colour is named by its pixel inside a uniform word too', () => {
    expect(() => colorize(new Uint8Array([0, 0, 0, 0, 6, 6, 6, 6]), 8, 1, colors)).toThrow(/class index 6 at pixel 4/);
  });
});

describe('rendering', () => {
  const colors: Rgb[] = [
    [0, 0, 0],
    [0, 255, 0],
    [0, 255, 255],
  ];
  it('writes the challenge colour PNG and an overlay with a legend that read back as expected', async () => {
    const w = 200;
    const h = 160;
    const labels = new Uint8Array(w * h);
    for (let y = 100; y < 150; y++) for (let x = 120; x < 190; x++) labels[y * w + x] = 1;
    const col = colorize(labels, w, h, colors);
    const p = join(tmp(), 'c.png');
    await writePng(p, col);
    const back = await readRaw(p);
    expect(Array.from(back.data.subarray((120 * w + 150) * 3, (120 * w + 150) * 3 + 3))).toEqual([0, 255, 0]);
    // An index without a colour is a palette/model mismatch: an error naming the pixel, never a made-up colour.
    expect(() => colorize(new Uint8Array([0, 1, 7]), 3, 1, colors)).toThrow(
      /class index 7 at pixel 2 has no colour \(the palette has 3 classes/,
    );
    const frame = { data: Buffer.alloc(w * h * 3, 100), width: w, height: h, channels: 3 };
    const ov = await renderOverlay(frame, labels, colors, ['bg', 'shaft', 'clasper'], [0, 1], 0.5);
    const px = (x: number, y: number) => Array.from(ov.data.subarray((y * w + x) * 3, (y * w + x) * 3 + 3));
    expect(px(150, 120)).toEqual([50, 178, 50]); // 0.5 * 100 + 0.5 * colour
    expect(px(150, 60)).toEqual([100, 100, 100]); // background untouched
    // legend in the top-left: its swatch shows the shaft colour
    const legendHasGreen = Array.from({ length: 30 }, (_, i) => px(4 + i, 12)).some(
      ([r, g, b]) => g > 200 && r < 60 && b < 60,
    );
    expect(legendHasGreen).toBe(true);
  });
});
