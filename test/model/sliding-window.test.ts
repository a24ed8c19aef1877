// Sliding-window inference: window placement, weights, and blending that is exact where every patch agrees.
import { describe, expect, it } from 'vitest';
import { patchWeights, slidingWindow, windowStarts, type Dims3 } from '../../src/model/sliding-window.js';

describe('sliding-window inference', () => {
  it('windows step by patch x (1 - overlap) and the last one ends at the far edge', () => {
    expect(windowStarts(10, 4, 0.5)).toEqual([0, 2, 4, 6]);
    expect(windowStarts(11, 4, 0.5)).toEqual([0, 2, 4, 6, 7]);
    expect(windowStarts(9, 4, 0)).toEqual([0, 4, 5]);
    expect(windowStarts(3, 4, 0.5)).toEqual([0]);
    expect(windowStarts(4, 4, 0.5)).toEqual([0]);
  });

  it('Gaussian weights peak at 1 in the centre, are symmetric and never 0', () => {
    const w = patchWeights([5, 5, 3], 'gaussian');
    const at = (x: number, y: number, z: number) => w[(z * 5 + y) * 5 + x];
    expect(at(2, 2, 1)).toBe(1);
    expect(at(0, 1, 0)).toBeCloseTo(at(4, 3, 2), 6);
    expect(Math.min(...w)).toBeGreaterThan(0);
    expect(at(0, 0, 0)).toBeLessThan(at(1, 1, 1));
    expect(Array.from(patchWeights([2, 2, 2], 'constant'))).toEqual(Array(8).fill(1));
  });

  const dims: Dims3 = [13, 9, 5]; // not multiples of the patch; z smaller than the patch (zero-padded)
  const n = dims[0] * dims[1] * dims[2];
  const volume = Float32Array.from({ length: n }, (_, i) => ((i * 37) % 101) / 100);

  it.each(['gaussian', 'constant'] as const)(
    '%s blending: a constant model gives its probabilities everywhere',
    async (blend) => {
      const p = [0.2, 0.5, 0.3];
      let calls = 0;
      const out = await slidingWindow(
        [volume],
        dims,
        3,
        async (_patch, pd) => {
          calls++;
          const pn = pd[0] * pd[1] * pd[2];
          return Float32Array.from({ length: 3 * pn }, (_, i) => p[Math.floor(i / pn)]);
        },
        { patch: [6, 4, 8], overlap: 0.5, blend },
      );
      expect(calls).toBe(windowStarts(13, 6, 0.5).length * windowStarts(9, 4, 0.5).length * 1);
      for (let k = 0; k < 3; k++)
        for (let i = 0; i < n; i++) expect(Math.abs(out[k * n + i] - p[k])).toBeLessThan(1e-6);
    },
  );

  it('a model that returns its input puts every patch back in place: the blend is the volume itself', async () => {
    const out = await slidingWindow(
      [volume],
      dims,
      2,
      async (patch, pd) => {
        const pn = pd[0] * pd[1] * pd[2];
        const r = new Float32Array(2 * pn);
        for (let i = 0; i < pn; i++) {
          r[i] = 1 - patch[0][i];
          r[pn + i] = patch[0][i];
        }
        return r;
      },
      { patch: [6, 4, 8], overlap: 0.25 },
    );
    for (let i = 0; i < n; i++) expect(Math.abs(out[n + i] - volume[i])).toBeLessThan(1e-6);
  });

  it('refuses a predictor that returns the wrong number of values', async () => {
    await expect(
      slidingWindow([volume], dims, 2, async () => new Float32Array(5), { patch: [6, 4, 8] }),
    ).rejects.toThrow(/returned 5 values, expected 2 x 192/);
  });
});
