// Halving and doubling volume resolution for the 3D model: exact block means, label fractions, and the
// boundary-only trilinear argmax against interpolating every voxel.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  downsample2,
  halfDims,
  labelFractions,
  upsampleArgmax2,
  type Dims3,
} from '../../src/ingest/volume-resample.js';

/** Trilinear (half-pixel centres, clamped) interpolation of every class at every voxel, then the first argmax. */
function bruteUpsample(probs: Float32Array, half: Dims3, full: Dims3, C: number): Uint8Array {
  const [hx, hy, hz] = half;
  const hn = hx * hy * hz;
  const co = (v: number, h: number) => {
    const s = Math.min(Math.max(v / 2 - 0.25, 0), h - 1);
    const i0 = Math.floor(s);
    return [i0, Math.min(i0 + 1, h - 1), s - i0];
  };
  const out = new Uint8Array(full[0] * full[1] * full[2]);
  for (let z = 0; z < full[2]; z++)
    for (let y = 0; y < full[1]; y++)
      for (let x = 0; x < full[0]; x++) {
        const [x0, x1, fx] = co(x, hx);
        const [y0, y1, fy] = co(y, hy);
        const [z0, z1, fz] = co(z, hz);
        const v = (c: number, a: number, b: number, d: number) => probs[c * hn + (d * hy + b) * hx + a];
        let best = 0;
        let bestV = -1;
        for (let c = 0; c < C; c++) {
          const p =
            (1 - fz) *
              ((1 - fy) * ((1 - fx) * v(c, x0, y0, z0) + fx * v(c, x1, y0, z0)) +
                fy * ((1 - fx) * v(c, x0, y1, z0) + fx * v(c, x1, y1, z0))) +
            fz *
              ((1 - fy) * ((1 - fx) * v(c, x0, y0, z1) + fx * v(c, x1, y0, z1)) +
                fy * ((1 - fx) * v(c, x0, y1, z1) + fx * v(c, x1, y1, z1)));
          if (p > bestV + 1e-6) {
            best = c;
            bestV = p;
          }
        }
        out[(z * full[1] + y) * full[0] + x] = best;
      }
  return out;
}

describe('volume resampling', () => {
  it('halves by 2x2x2 block means, odd edges averaging the voxels they have', () => {
    const dims: Dims3 = [3, 2, 3];
    const v = Float32Array.from({ length: 18 }, (_, i) => i);
    expect(halfDims(dims)).toEqual([2, 1, 2]);
    // block (0,0,0): x 0-1, y 0-1, z 0-1 -> voxels 0,1,3,4,6,7,9,10 -> mean 5; block (1,0,0): x 2 -> 2,5,8,11 -> 6.5
    // block (0,0,1): z 2 -> 12,13,15,16 -> 14; block (1,0,1): 14,17 -> 15.5
    expect(Array.from(downsample2(v, dims))).toEqual([5, 6.5, 14, 15.5]);
  });

  it('labels become per-class fractions summing to 1; an unknown label is refused', () => {
    const dims: Dims3 = [2, 2, 2];
    const l = Uint8Array.from([0, 0, 4, 4, 2, 0, 0, 4]);
    const f = labelFractions(l, dims, [0, 1, 2, 4]);
    expect(Array.from(f)).toEqual([0.5, 0, 0.125, 0.375]);
    expect(() => labelFractions(Uint8Array.from([0, 3, 0, 0, 0, 0, 0, 0]), dims, [0, 1, 2, 4])).toThrow(/label 3/);
  });

  it('upsampled argmax equals interpolating every voxel (random probabilities, odd sizes)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 9 }),
        fc.integer({ min: 2, max: 9 }),
        fc.integer({ min: 2, max: 7 }),
        fc.integer({ min: 2, max: 4 }),
        fc.integer({ min: 0, max: 1000 }),
        (nx, ny, nz, C, seed) => {
          const full: Dims3 = [nx, ny, nz];
          const half = halfDims(full);
          const hn = half[0] * half[1] * half[2];
          let s = seed + 1;
          const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
          // smooth-ish fields so large agreeing regions and boundaries both occur
          const probs = new Float32Array(C * hn);
          for (let i = 0; i < hn; i++) {
            let sum = 0;
            for (let c = 0; c < C; c++) sum += probs[c * hn + i] = rnd() ** 3;
            for (let c = 0; c < C; c++) probs[c * hn + i] /= sum;
          }
          const got = upsampleArgmax2(probs, half, full, C);
          const want = bruteUpsample(probs, half, full, C);
          let diff = 0;
          for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) diff++;
          expect(diff).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });
});
