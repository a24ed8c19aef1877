// The project's Conv3D gradient against a direct loop over the convolution sum, on the cpu and wasm backends, for
// strides, dilations and both paddings; and the reason it exists: wasm's own input gradient is wrong.
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/model/tf.js';
import { useBackend } from '../../src/model/backend.js';
import { conv3dFilterGrad, conv3dInputGrad } from '../../src/model/kernels/conv3d-grad.js';
import { ensureTrainingKernels } from '../../src/model/kernels/index.js';

type T3 = [number, number, number];

/** dx and dW of sum(dy * conv3d(x, W)) by the definition (NDHWC, W [kd,kh,kw,ci,co]). */
function reference(
  x: Float32Array,
  xs: number[],
  w: Float32Array,
  ws: number[],
  dy: Float32Array,
  ys: number[],
  s: T3,
  d: T3,
  before: T3,
) {
  const [N, D, H, W, Ci] = xs;
  const [kd, kh, kw, , Co] = ws;
  const [, Do, Ho, Wo] = ys;
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  for (let n = 0; n < N; n++)
    for (let od = 0; od < Do; od++)
      for (let oh = 0; oh < Ho; oh++)
        for (let ow = 0; ow < Wo; ow++)
          for (let a = 0; a < kd; a++)
            for (let b = 0; b < kh; b++)
              for (let c = 0; c < kw; c++) {
                const id = od * s[0] + a * d[0] - before[0];
                const ih = oh * s[1] + b * d[1] - before[1];
                const iw = ow * s[2] + c * d[2] - before[2];
                if (id < 0 || ih < 0 || iw < 0 || id >= D || ih >= H || iw >= W) continue;
                for (let ci = 0; ci < Ci; ci++)
                  for (let co = 0; co < Co; co++) {
                    const g = dy[(((n * Do + od) * Ho + oh) * Wo + ow) * Co + co];
                    const xi = (((n * D + id) * H + ih) * W + iw) * Ci + ci;
                    const wi = (((a * kh + b) * kw + c) * Ci + ci) * Co + co;
                    dx[xi] += g * w[wi];
                    dw[wi] += g * x[xi];
                  }
              }
  return { dx, dw };
}

type Case = { xs: number[]; ws: number[]; s: T3; d: T3; pad: 'same' | 'valid' };

const maxErr = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));

/** The reference gradients of sum(dy * conv3d(x, w)) in a case's geometry. */
function referenceFor(c: Case, x: tf.Tensor, w: tf.Tensor, dy: tf.Tensor) {
  const info = tf.backend_util.computeConv3DInfo(c.xs as never, c.ws as never, c.s, c.d, c.pad);
  const before: T3 = [info.padInfo.front, info.padInfo.top, info.padInfo.left];
  const data = (t: tf.Tensor) => t.dataSync() as Float32Array;
  return reference(data(x), c.xs, data(w), c.ws, data(dy), dy.shape, c.s, c.d, before);
}

const cases: Case[] = [
  { xs: [1, 5, 6, 4, 2], ws: [3, 3, 3, 2, 3], s: [1, 1, 1], d: [1, 1, 1], pad: 'same' },
  { xs: [2, 6, 5, 7, 3], ws: [3, 3, 3, 3, 2], s: [2, 2, 2], d: [1, 1, 1], pad: 'same' },
  { xs: [1, 7, 6, 5, 2], ws: [3, 2, 3, 2, 2], s: [2, 1, 2], d: [1, 1, 1], pad: 'valid' },
  { xs: [1, 8, 7, 6, 2], ws: [3, 3, 3, 2, 2], s: [1, 1, 1], d: [2, 2, 2], pad: 'same' },
  { xs: [1, 9, 8, 7, 1], ws: [3, 3, 2, 1, 2], s: [1, 1, 1], d: [2, 3, 2], pad: 'valid' },
];

describe.each(['cpu', 'wasm'] as const)('Conv3D gradient on %s', (backend) => {
  it.each(cases.map((c, i) => [i, c] as const))('case %i matches the convolution sum', async (_i, c) => {
    await useBackend(backend);
    const x = tf.randomNormal(c.xs, 0, 1, 'float32', 3) as tf.Tensor5D;
    const w = tf.randomNormal(c.ws, 0, 0.5, 'float32', 4) as tf.Tensor5D;
    const y = tf.conv3d(x, w, c.s, c.pad, 'NDHWC', c.d);
    const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 5) as tf.Tensor5D;
    const ref = referenceFor(c, x, w, dy);
    const dx = conv3dInputGrad(c.xs, dy, w, c.s, c.d, c.pad);
    const dw = conv3dFilterGrad(x, dy, c.ws, c.s, c.d, c.pad);
    expect(dx.shape).toEqual(c.xs);
    expect(dw.shape).toEqual(c.ws);
    expect(maxErr(dx.dataSync(), ref.dx)).toBeLessThan(1e-4);
    expect(maxErr(dw.dataSync(), ref.dw)).toBeLessThan(1e-4);
    tf.dispose([x, w, y, dy, dx, dw]);
  });
});

describe('registered for training', () => {
  it('tf.grad of a dilated conv3d works once the training kernels are registered, and matches the sum', async () => {
    await useBackend('wasm');
    ensureTrainingKernels();
    const c = cases[3];
    const x = tf.randomNormal(c.xs, 0, 1, 'float32', 3) as tf.Tensor5D;
    const w = tf.randomNormal(c.ws, 0, 0.5, 'float32', 4) as tf.Tensor5D;
    const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.conv3d(a as tf.Tensor5D, b as tf.Tensor5D, c.s, c.pad, 'NDHWC', c.d)),
    )([x, w]);
    const ref = referenceFor(c, x, w, tf.ones([...c.xs.slice(0, 4), c.ws[4]]));
    expect(maxErr(gx.dataSync(), ref.dx)).toBeLessThan(1e-4);
    expect(maxErr(gw.dataSync(), ref.dw)).toBeLessThan(1e-4);
  });
});

describe('why the Conv3D gradient is the project’s own', () => {
  it("tfjs-backend-wasm's Conv3DBackpropInputV2 disagrees with the convolution sum (tfjs 4.22)", async () => {
    await useBackend('wasm');
    const c = cases[0];
    const x = tf.randomNormal(c.xs, 0, 1, 'float32', 3) as tf.Tensor5D;
    const w = tf.randomNormal(c.ws, 0, 0.5, 'float32', 4) as tf.Tensor5D;
    const dy = tf.randomNormal([1, 5, 6, 4, 3], 0, 1, 'float32', 5) as tf.Tensor5D;
    const ref = referenceFor(c, x, w, dy);
    const builtin = tf.conv3dTranspose(dy, w, c.xs as never, 1, 'same').dataSync();
    // If a tfjs upgrade fixes the kernel this fails: the project's gradient may then be dropped on wasm.
    expect(maxErr(builtin, ref.dx)).toBeGreaterThan(0.1);
    tf.dispose([x, w, dy]);
  });
});

describe('3D convolution from 2D ones (the fast path for training)', () => {
  it.each(['cpu', 'wasm'] as const)('%s: equals the convolution sum forward and backward', async (backend) => {
    await useBackend(backend);
    ensureTrainingKernels();
    const { conv3dViaConv2d } = await import('../../src/model/conv3d.js');
    for (const c of [
      { xs: [1, 5, 6, 4, 2], ws: [3, 3, 3, 2, 3], s: [1, 1, 1] as T3, d: [1, 1, 1] as T3, pad: 'same' as const },
      { xs: [2, 7, 6, 5, 2], ws: [3, 3, 3, 2, 2], s: [1, 2, 2] as T3, d: [1, 1, 1] as T3, pad: 'same' as const },
      { xs: [1, 8, 7, 6, 2], ws: [3, 3, 3, 2, 2], s: [1, 1, 1] as T3, d: [2, 2, 2] as T3, pad: 'same' as const },
      { xs: [1, 6, 5, 5, 1], ws: [2, 3, 3, 1, 2], s: [1, 1, 1] as T3, d: [1, 1, 1] as T3, pad: 'valid' as const },
    ]) {
      const x = tf.randomNormal(c.xs, 0, 1, 'float32', 7) as tf.Tensor5D;
      const w = tf.randomNormal(c.ws, 0, 0.5, 'float32', 8) as tf.Tensor5D;
      const fast = conv3dViaConv2d(x, w, c.s, c.pad, c.d);
      await useBackend('cpu');
      const direct = tf.conv3d(
        tf.tensor(x.dataSync(), c.xs) as tf.Tensor5D,
        tf.tensor(w.dataSync(), c.ws) as tf.Tensor5D,
        c.s,
        c.pad,
        'NDHWC',
        c.d,
      );
      expect(fast.shape).toEqual(direct.shape);
      expect(maxErr(fast.dataSync(), direct.dataSync())).toBeLessThan(1e-4);
      await useBackend(backend);
      const dy = tf.randomNormal(fast.shape, 0, 1, 'float32', 9);
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(conv3dViaConv2d(a as tf.Tensor5D, b as tf.Tensor5D, c.s, c.pad, c.d), dy)),
      )([x, w]);
      const ref = referenceFor(c, x, w, dy);
      expect(maxErr(gx.dataSync(), ref.dx)).toBeLessThan(1e-4);
      expect(maxErr(gw.dataSync(), ref.dw)).toBeLessThan(1e-4);
    }
  });

  it('refuses a depth stride (the 3D profile pools instead)', async () => {
    const { conv3dViaConv2d } = await import('../../src/model/conv3d.js');
    expect(() =>
      conv3dViaConv2d(tf.zeros([1, 4, 4, 4, 1]) as tf.Tensor5D, tf.zeros([3, 3, 3, 1, 1]) as tf.Tensor5D, [2, 1, 1]),
    ).toThrow(/depth stride must be 1/);
  });
});
