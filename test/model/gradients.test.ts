// Dilated Conv2D gradients and wasm training kernels, checked against independent references:
// tfjs-cpu's own Conv2DBackpropInput/Filter kernels on a zero-inserted (undilated) kernel, and cpu-vs-wasm parity.
import { describe, expect, it, beforeAll } from 'vitest';
import { tf } from '../../src/model/tf.js';
import { ensureTrainingKernels } from '../../src/model/kernels/index.js';
import { buildTdsNet } from '../../src/model/profiles.js';
import { lossGrads, trainStep, type Batch } from '../../src/train/step.js';
import { OFFICIAL_STAGES } from '../../src/train/config.js';

/** Loss weights of each official stage by name. */
const STAGE_WEIGHTS = Object.fromEntries(OFFICIAL_STAGES.map((s) => [s.name, s])) as Record<
  'seg' | 'class' | 'sync' | 'scene',
  (typeof OFFICIAL_STAGES)[number]
>;

function rand(shape: number[], seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, 'float32', seed);
}

/** Inserts d-1 zeros between kernel taps: conv with it (dilation 1) == conv with the kernel at dilation d. */
function zeroInsert(w: tf.Tensor4D, d: number): tf.Tensor4D {
  const [kh, kw, ci, co] = w.shape;
  const eh = (kh - 1) * d + 1;
  const ew = (kw - 1) * d + 1;
  const src = w.arraySync();
  const out = tf.buffer([eh, ew, ci, co]);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) out.set(src[y][x][i][o], y * d, x * d, i, o);
  return out.toTensor() as tf.Tensor4D;
}

function relErr(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let num = 0;
  let den = 0;
  for (let i = 0; i < x.length; i++) {
    num = Math.max(num, Math.abs(x[i] - y[i]));
    den = Math.max(den, Math.abs(y[i]));
  }
  return num / (den || 1);
}

async function onBackend<T>(name: string, fn: () => T): Promise<T> {
  await tf.setBackend(name);
  return fn();
}

/** Reference gradients of sum(conv2d(x, W, dilation d) * g) through cpu's own backprop kernels on the zero-inserted kernel. */
function reference(x: tf.Tensor4D, w: tf.Tensor4D, g: tf.Tensor4D, d: number, pad: 'same' | 'valid') {
  const wz = zeroInsert(w, d);
  const dx = tf
    .engine()
    .runKernel(
      'Conv2DBackpropInput',
      { dy: g, filter: wz },
      { inputShape: x.shape, strides: [1, 1], pad, dataFormat: 'NHWC' },
    ) as tf.Tensor4D;
  const dwz = tf
    .engine()
    .runKernel(
      'Conv2DBackpropFilter',
      { x, dy: g },
      { filterShape: wz.shape, strides: [1, 1], pad, dataFormat: 'NHWC' },
    ) as tf.Tensor4D;
  const [kh, kw] = w.shape;
  const dw = tf.stack(
    Array.from({ length: kh }, (_, y) =>
      tf.stack(Array.from({ length: kw }, (_, xx) => dwz.slice([y * d, xx * d, 0, 0], [1, 1, -1, -1]).squeeze([0, 1]))),
    ),
  );
  return { dx, dw };
}

// The project's gradients and kernels register on first use by the training step; these tests call tfjs directly.
beforeAll(() => {
  ensureTrainingKernels();
});

describe('Conv2D gradient with dilation', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  it('registers wasm kernels for the missing training ops', () => {
    expect(ensureTrainingKernels()).toEqual(['Conv2DBackpropFilter']);
  });

  for (const backend of ['cpu', 'wasm']) {
    it.each([1, 2, 4, 8, 16])(
      `${backend}: dilation %i, input and filter gradients match the zero-inserted reference`,
      async (d) => {
        await tf.setBackend('cpu');
        const x = rand([2, 20, 24, 3], d) as tf.Tensor4D;
        const w = rand([3, 3, 3, 4], d + 100) as tf.Tensor4D;
        const g = rand([2, 20, 24, 4], d + 200) as tf.Tensor4D;
        const ref = reference(x, w, g, d, 'same');
        const [xv, wv, gv, rdx, rdw] = [x, w, g, ref.dx, ref.dw].map((t) => ({
          data: t.dataSync().slice(),
          shape: t.shape,
        }));
        const got = await onBackend(backend, () => {
          const t = (v: { data: Float32Array | Int32Array | Uint8Array; shape: number[] }) =>
            tf.tensor(v.data as Float32Array, v.shape);
          const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same', 'NHWC', d), t(gv))),
          )([t(xv), t(wv)]);
          return { dx: dx.dataSync().slice(), dw: dw.dataSync().slice() };
        });
        await tf.setBackend('cpu');
        expect(relErr(tf.tensor(got.dx), tf.tensor(rdx.data as Float32Array))).toBeLessThan(1e-4);
        expect(relErr(tf.tensor(got.dw), tf.tensor(rdw.data as Float32Array))).toBeLessThan(1e-4);
      },
    );
  }

  it.each([
    [2, 'same', 3],
    [2, 'valid', 3],
    [1, 'valid', 3],
    [1, 'same', 1],
  ] as const)('stride %i, %s padding, kernel %i: wasm gradients match cpu', async (s, pad, k) => {
    const run = async (backend: string) =>
      onBackend(backend, () => {
        const x = rand([2, 17, 22, 5], 1);
        const w = rand([k, k, 5, 6], 2);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad))),
        )([x, w]);
        return [dx.dataSync().slice(), dw.dataSync().slice()];
      });
    const c = await run('cpu');
    const wsm = await run('wasm');
    await tf.setBackend('cpu');
    for (let i = 0; i < 2; i++) expect(relErr(tf.tensor(wsm[i]), tf.tensor(c[i]))).toBeLessThan(1e-4);
  });
});

/** A conv's output length along one axis (TF 'same' / 'valid'). */
const convOut = (len: number, k: number, s: number, pad: 'same' | 'valid') =>
  pad === 'same' ? Math.ceil(len / s) : Math.floor((len - k) / s) + 1;

/** One kernel run directly on cpu and on wasm with the same (seeded) inputs: [cpu result, wasm result]. */
async function kernelOnBoth(
  name: string,
  inputs: () => Record<string, tf.Tensor>,
  attrs: Record<string, unknown>,
): Promise<[Float32Array, Float32Array]> {
  const run = (backend: string) =>
    onBackend(backend, () =>
      (tf.engine().runKernel(name, inputs(), attrs as tf.NamedAttrMap) as tf.Tensor).dataSync().slice(),
    );
  const c = (await run('cpu')) as Float32Array;
  const w = (await run('wasm')) as Float32Array;
  await tf.setBackend('cpu');
  return [c, w];
}

describe('wasm training kernels vs cpu', () => {
  it.each([
    [1, 'same', 3, 1],
    [2, 'same', 3, 2],
    [2, 'same', 4, 1],
    [1, 'valid', 1, 2],
    [2, 'valid', 3, 1],
  ] as const)('Conv2DBackpropFilter stride %i %s k%i batch %i', async (s, pad, k, n) => {
    const [c, w] = await kernelOnBoth(
      'Conv2DBackpropFilter',
      () => ({ x: rand([n, 16, 20, 4], 3), dy: rand([n, convOut(16, k, s, pad), convOut(20, k, s, pad), 7], 4) }),
      { filterShape: [k, k, 4, 7], strides: [s, s], pad, dataFormat: 'NHWC' },
    );
    expect(w.length).toBe(k * k * 4 * 7);
    expect(relErr(tf.tensor(w), tf.tensor(c))).toBeLessThan(1e-4);
  });

  it.each([
    [1, 'same', 3, 1],
    [2, 'same', 3, 2],
    [2, 'same', 4, 1],
    [2, 'valid', 3, 1],
    [1, 'valid', 1, 2],
    [2, 'same', 1, 1],
  ] as const)('Conv2DBackpropInput (replaced on wasm) stride %i %s k%i batch %i', async (s, pad, k, n) => {
    const [c, w] = await kernelOnBoth(
      'Conv2DBackpropInput',
      () => ({ dy: rand([n, convOut(17, k, s, pad), convOut(22, k, s, pad), 7], 11), filter: rand([k, k, 4, 7], 12) }),
      { inputShape: [n, 17, 22, 4], strides: [s, s], pad, dataFormat: 'NHWC' },
    );
    expect(w.length).toBe(n * 17 * 22 * 4);
    expect(relErr(tf.tensor(w), tf.tensor(c))).toBeLessThan(1e-4);
  });

  it('conv2dTranspose (k4 s2 same, the context-ensemble deconv) trains on wasm like on cpu', async () => {
    const run = (backend: string) =>
      onBackend(backend, () => {
        const x = rand([1, 4, 5, 6], 5);
        const w = rand([4, 4, 3, 6], 6);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.square(tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, [1, 8, 10, 3], 2, 'same'))),
        )([x, w]);
        return [dx.dataSync().slice(), dw.dataSync().slice()];
      });
    const c = await run('cpu');
    const w = await run('wasm');
    await tf.setBackend('cpu');
    for (let i = 0; i < 2; i++) expect(relErr(tf.tensor(w[i]), tf.tensor(c[i]))).toBeLessThan(1e-4);
  });

  it('training needs no ReluGrad/SigmoidGrad kernel: relu and sigmoid gradients run on wasm from its own kernels', async () => {
    const run = (backend: string) =>
      onBackend(backend, () => {
        const [a, b] = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
          tf.add(tf.sum(tf.square(tf.relu(x))), tf.sum(tf.sigmoid(y))),
        )([rand([3, 50], 7), rand([3, 50], 8)]);
        return [a.dataSync().slice(), b.dataSync().slice()];
      });
    const c = await run('cpu');
    const w = await run('wasm');
    await tf.setBackend('cpu');
    for (let i = 0; i < 2; i++) expect(relErr(tf.tensor(w[i]), tf.tensor(c[i]))).toBeLessThan(1e-6);
    expect(tf.getKernel('ReluGrad', 'cpu')).toBeUndefined();
  });
});

function smallBatch(C: number): Batch {
  const labels = tf.tidy(() =>
    tf
      .clipByValue(
        tf.floor(
          tf.mul(
            tf.add(
              tf.sin(
                tf
                  .range(0, 64 * 64)
                  .reshape([1, 64, 64])
                  .div(37),
              ),
              1,
            ),
            C / 2,
          ),
        ),
        0,
        C - 1,
      )
      .toInt(),
  );
  return {
    images: rand([1, 64, 64, 3], 9) as tf.Tensor4D,
    oneHot: tf.oneHot(labels as tf.Tensor3D, C).toFloat() as tf.Tensor4D,
    sceneIds: tf.tensor1d([1]),
  };
}

describe('whole-model gradients and training steps', () => {
  it.each([0, 2])(
    'total TDS loss gradients of a small fast model agree between wasm and cpu (IN blocks %i)',
    async (inBlocks) => {
      const run = (backend: string) =>
        onBackend(backend, () => {
          const m = buildTdsNet({
            profile: 'fast',
            numClasses: 5,
            numScenes: 3,
            height: 64,
            width: 64,
            seed: 4,
            instanceNormBlocks: inBlocks,
          });
          const { losses, grads } = lossGrads(m, smallBatch(5), STAGE_WEIGHTS.scene, 'soft');
          const out = m.trainableWeights.map(
            (v, i) => [v.originalName ?? v.name, Object.values(grads)[i].dataSync().slice()] as const,
          );
          m.dispose();
          return { losses, out };
        });
      const c = await run('cpu');
      const w = await run('wasm');
      await tf.setBackend('cpu');
      expect(w.losses.total).toBeCloseTo(c.losses.total, 4);
      expect(c.out.length).toBeGreaterThan(40);
      c.out.forEach(([name, g], i) => {
        expect(w.out[i][0]).toBe(name);
        expect(relErr(tf.tensor(w.out[i][1]), tf.tensor(g)), name).toBeLessThan(1e-4);
      });
      // the dilated block really receives gradient
      const d16 = c.out.find(([n]) => n.includes('ce_dilate16/kernel'))!;
      expect(Math.max(...Array.from(d16[1]).map(Math.abs))).toBeGreaterThan(0);
      // instance norm's scale and shift are trained (3 IN layers in the first two blocks)
      const inWeights = c.out.filter(([n]) => /_in\/(gamma|beta)/.test(n));
      expect(inWeights.length).toBe(inBlocks ? 6 : 0);
      inWeights.forEach(([n, g]) => expect(Math.max(...Array.from(g).map(Math.abs)), n).toBeGreaterThan(0));
    },
  );

  it.each(['fast', 'paper'] as const)(
    '%s profile: a training step runs on wasm for all four stages (fast: and lowers the loss)',
    async (profile) => {
      await tf.setBackend('wasm');
      const m = buildTdsNet({ profile, numClasses: 5, numScenes: 3, height: 64, width: 64, seed: 5 });
      const opt = tf.train.adam(profile === 'fast' ? 1e-3 : 1e-4);
      const batch = smallBatch(5);
      const before = tf.memory().numTensors;
      const first = trainStep(m, opt, batch, STAGE_WEIGHTS.seg);
      for (const stage of ['class', 'sync', 'scene'] as const) {
        const l = trainStep(m, opt, batch, STAGE_WEIGHTS[stage]);
        expect(Number.isFinite(l.total)).toBe(true);
        if (stage !== 'class') expect(l.sync).toBeGreaterThan(0);
      }
      if (profile === 'fast') {
        let last = first;
        for (let i = 0; i < 4; i++) last = trainStep(m, opt, batch, STAGE_WEIGHTS.seg);
        expect(last.seg).toBeLessThan(first.seg);
      }
      // optimizer slots are created on the first step; afterwards the count stays flat
      const n = tf.memory().numTensors;
      trainStep(m, opt, batch, STAGE_WEIGHTS.scene);
      expect(tf.memory().numTensors).toBe(n);
      expect(n).toBeGreaterThan(before);
      m.dispose();
      opt.dispose();
      await tf.setBackend('cpu');
    },
  );
});

describe('seg class weights in a training step (train.segClassWeights)', () => {
  it('reach the loss and the gradients: equal weights change nothing, a heavier class changes both', async () => {
    await tf.setBackend('cpu');
    const m = buildTdsNet({ profile: 'fast', numClasses: 5, numScenes: 3, height: 64, width: 64, seed: 6 });
    const batch = smallBatch(5);
    const run = (w?: number[]) => {
      const { losses, grads } = lossGrads(m, batch, STAGE_WEIGHTS.seg, 'hard', w);
      const g = Object.values(grads).map((t) => t.dataSync().slice());
      tf.dispose(Object.values(grads));
      return { seg: losses.seg, g };
    };
    const plain = run();
    const equal = run([3, 3, 3, 3, 3]);
    const heavy = run([1, 1, 1, 1, 4]);
    expect(equal.seg).toBeCloseTo(plain.seg, 5);
    expect(heavy.seg).not.toBeCloseTo(plain.seg, 3);
    const maxDiff = (a: Float32Array[], b: Float32Array[]) => {
      let d = 0;
      a.forEach((x, i) => x.forEach((v, j) => (d = Math.max(d, Math.abs(v - b[i][j])))));
      return d;
    };
    expect(maxDiff(equal.g, plain.g)).toBeLessThan(1e-5);
    expect(maxDiff(heavy.g, plain.g)).toBeGreaterThan(1e-4);
    m.dispose();
  });
});

describe('half-pixel bilinear resize gradient', () => {
  /** Reference adjoint in plain JS: dX[h,w] = sum over outputs of dY * bilinear weight (half-pixel centres). */
  function refGrad(dy: number[][][][], hi: number, wi: number): Float32Array {
    const [n, ho, wo, c] = [dy.length, dy[0].length, dy[0][0].length, dy[0][0][0].length];
    const out = new Float32Array(n * hi * wi * c);
    const taps = (o: number, inS: number, outS: number) => {
      const s = Math.max(0, (o + 0.5) * (inS / outS) - 0.5);
      const i0 = Math.min(Math.floor(s), inS - 1);
      return [i0, Math.min(i0 + 1, inS - 1), s - i0] as const;
    };
    for (let b = 0; b < n; b++)
      for (let y = 0; y < ho; y++)
        for (let x = 0; x < wo; x++) {
          const [y0, y1, wy] = taps(y, hi, ho);
          const [x0, x1, wx] = taps(x, wi, wo);
          for (let k = 0; k < c; k++) {
            const g = dy[b][y][x][k];
            const at = (yy: number, xx: number) => ((b * hi + yy) * wi + xx) * c + k;
            out[at(y0, x0)] += g * (1 - wy) * (1 - wx);
            out[at(y0, x1)] += g * (1 - wy) * wx;
            out[at(y1, x0)] += g * wy * (1 - wx);
            out[at(y1, x1)] += g * wy * wx;
          }
        }
    return out;
  }

  it.each(['cpu', 'wasm'])(
    '%s: the gradient of a non-square x4 half-pixel upsample is the exact adjoint',
    async (backend) => {
      await tf.setBackend(backend);
      const x = rand([2, 3, 5, 4], 1);
      const dy = rand([2, 12, 20, 4], 2);
      const g = tf.grad((a: tf.Tensor) =>
        tf.sum(tf.mul(tf.image.resizeBilinear(a as tf.Tensor4D, [12, 20], false, true), dy)),
      )(x);
      expect(g.shape).toEqual([2, 3, 5, 4]);
      const ref = refGrad(dy.arraySync() as number[][][][], 3, 5);
      expect(relErr(g, tf.tensor(ref))).toBeLessThan(1e-5);
      await tf.setBackend('cpu');
    },
  );
});
