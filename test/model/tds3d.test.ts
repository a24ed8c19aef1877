// The 3D TDS network and its nested-region losses: shapes, the resampling ops, gradients against finite
// differences and across backends, and a short training on a synthetic tumour volume that beats all-background.
import { describe, expect, it, beforeAll } from 'vitest';
import { tf } from '../../src/model/tf.js';
import { ensureTrainingKernels } from '../../src/model/kernels/index.js';
import {
  forwardTds3d,
  initTds3d,
  poolDepth,
  upsample2,
  tds3dGflops,
  tds3dWeightShapes,
  type Tds3dSpec,
  type Tds3dWeights,
} from '../../src/model/tds3d.js';
import { exportTds3dOnnx } from '../../src/model/tds3d-onnx.js';
import * as ort from 'onnxruntime-node';
import { regionMaps, regionPresence, segLoss3d, tdsLoss3d } from '../../src/model/losses3d.js';

// BraTS 2015 labels 0-4; regions WT = 1-4, TC = 1,3,4, ET = 4.
const REGIONS = [[1, 2, 3, 4], [1, 3, 4], [4]];
const tiny: Tds3dSpec = {
  modalities: 2,
  classes: 5,
  channels: [4, 4, 8, 8],
  latent: 8,
  dilations: [1, 2],
  regions: REGIONS,
};

beforeAll(async () => {
  ensureTrainingKernels();
  await tf.setBackend('cpu');
});

/** A 16^3 two-modality volume with a nested "tumour": edema shell (2), core (1), enhancing centre (4). */
function tumourVolume(n: number, seed: number) {
  const labels = new Int32Array(n * n * n);
  const img = new Float32Array(n * n * n * 2);
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const c = [n / 2 + rnd() * 2, n / 2 + rnd() * 2, n / 2 + rnd() * 2];
  for (let z = 0; z < n; z++)
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) {
        const i = (z * n + y) * n + x;
        const r = Math.hypot(z - c[0], y - c[1], x - c[2]);
        const l = r < 2 ? 4 : r < 3.5 ? 1 : r < 5.5 ? 2 : 0;
        labels[i] = l;
        // FLAIR bright over the whole tumour, T1c bright on the enhancing part, plus noise
        img[i * 2] = (l ? 1.5 : 0) + 0.3 * rnd();
        img[i * 2 + 1] = (l === 4 ? 2 : l === 1 ? -1 : 0) + 0.3 * rnd();
      }
  return {
    x: tf.tensor5d(img, [1, n, n, n, 2]),
    t: tf.oneHot(tf.tensor1d(labels, 'int32'), 5).reshape([1, n, n, n, 5]) as tf.Tensor5D,
    labels,
  };
}

describe('3D TDS network', () => {
  it('outputs a distribution per voxel and one presence logit per region; depth pooling and x2 upsampling are exact', () => {
    const w = initTds3d(tiny, 3);
    const x = tf.randomNormal([1, 16, 16, 24, 2], 0, 1, 'float32', 2) as tf.Tensor5D;
    const out = forwardTds3d(w, tiny, x);
    expect(out.probs.shape).toEqual([1, 16, 16, 24, 5]);
    expect(out.presence.shape).toEqual([1, 3]);
    const sums = tf.sum(out.probs, -1).dataSync();
    expect(Math.max(...Array.from(sums).map((v) => Math.abs(v - 1)))).toBeLessThan(1e-5);
    expect(() => forwardTds3d(w, tiny, tf.zeros([1, 12, 16, 16, 2]) as tf.Tensor5D)).toThrow(/multiples of 8/);
    // pooling averages slice pairs; upsampling repeats every voxel 2x2x2
    const v = tf.tensor5d(
      Array.from({ length: 16 }, (_, i) => i),
      [1, 4, 2, 2, 1],
    );
    expect(Array.from(poolDepth(v).dataSync())).toEqual([2, 3, 4, 5, 10, 11, 12, 13]);
    const u = upsample2(tf.tensor5d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2, 1])).arraySync()[0];
    expect(u[3][2][1][0]).toBe(7); // (z 1, y 1, x 0) -> 5 + 2 = 7
    expect(u[0][0].map((r) => r[0])).toEqual([1, 1, 2, 2]);
    expect(u.length).toBe(4);
    // every weight has a gradient path: the parameter count matches the shapes
    const params = tds3dWeightShapes(tiny).reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0);
    expect([...w.values()].reduce((n, v) => n + v.size, 0)).toBe(params);
    expect(tds3dGflops(tiny, 64, 64, 64)).toBeGreaterThan(0.05);
    w.forEach((v) => v.dispose());
  });

  it('nested regions: region maps sum their labels, presence is nested, a perfect prediction scores a low loss', () => {
    const { t } = tumourVolume(16, 1);
    const r = regionMaps(t, REGIONS);
    const vox = tf.sum(r, [0, 1, 2, 3]).dataSync();
    expect(vox[0]).toBeGreaterThan(vox[1]);
    expect(vox[1]).toBeGreaterThan(vox[2]);
    expect(vox[2]).toBeGreaterThan(0);
    expect(Array.from(regionPresence(t, REGIONS).dataSync())).toEqual([1, 1, 1]);
    const perfect = segLoss3d(tf.clipByValue(t, 1e-6, 1) as tf.Tensor5D, t, REGIONS).dataSync()[0];
    const uniform = segLoss3d(tf.fill(t.shape, 0.2) as tf.Tensor5D, t, REGIONS).dataSync()[0];
    const background = segLoss3d(
      tf.oneHot(tf.zeros([16 ** 3], 'int32'), 5).reshape(t.shape) as tf.Tensor5D,
      t,
      REGIONS,
    ).dataSync()[0];
    expect(perfect).toBeLessThan(0.01);
    expect(uniform).toBeGreaterThan(perfect + 0.5);
    expect(background).toBeGreaterThan(uniform);
  });

  it('loss gradients agree with central finite differences (cpu) and between wasm and cpu', async () => {
    const { x, t } = tumourVolume(16, 2);
    const lossOf = (w: Tds3dWeights) =>
      tdsLoss3d(forwardTds3d(w, tiny, x as tf.Tensor5D), t, REGIONS, { a: 0.2, b: 0.6 }).total;
    const grads = async (backend: string) => {
      await tf.setBackend(backend);
      const w = initTds3d(tiny, 5);
      const { value, grads: g } = tf.variableGrads(() => lossOf(w), [...w.values()]);
      const out = new Map([...w].map(([name, v]) => [name, g[v.name].dataSync().slice()]));
      return { w, loss: value.dataSync()[0], g: out };
    };
    const cpu = await grads('cpu');
    // finite differences on a few entries of weights at every depth of the network
    for (const name of [
      'enc1a/kernel',
      'enc4/kernel',
      'ce_dilate2/kernel',
      't02/kernel',
      'dec1/kernel',
      'seg_logits/bias',
      'class/kernel',
    ]) {
      const v = cpu.w.get(name)!;
      const data = v.dataSync().slice();
      const g = cpu.g.get(name)!;
      // the entry with the largest gradient, so the difference is well above float32 noise
      const i = g.reduce((best, gi, k) => (Math.abs(gi) > Math.abs(g[best]) ? k : best), 0);
      const h = 1e-2;
      const at = (delta: number) => {
        const d = data.slice();
        d[i] += delta;
        v.assign(tf.tensor(d, v.shape));
        return tf.tidy(() => lossOf(cpu.w).dataSync()[0]);
      };
      const fd = (at(h) - at(-h)) / (2 * h);
      v.assign(tf.tensor(data, v.shape));
      expect(Math.abs(fd - g[i]) / Math.max(Math.abs(g[i]), 1e-3), `${name}[${i}] ${fd} vs ${g[i]}`).toBeLessThan(0.05);
    }
    const wasm = await grads('wasm');
    expect(wasm.loss).toBeCloseTo(cpu.loss, 4);
    for (const [name, g] of cpu.g) {
      const gw = wasm.g.get(name)!;
      const scale = Math.max(...Array.from(g).map(Math.abs), 1e-6);
      const err = Math.max(...Array.from(g).map((v, k) => Math.abs(v - gw[k])));
      expect(err / scale, name).toBeLessThan(1e-3);
    }
    await tf.setBackend('cpu');
  });

  it('a short training on wasm finds the tumour: whole-tumour Dice beats all-background (0)', async () => {
    await tf.setBackend('wasm');
    const w = initTds3d(tiny, 7);
    const opt = tf.train.adam(3e-3);
    const vols = [0, 1, 2, 3].map((s) => tumourVolume(16, 10 + s));
    for (let step = 0; step < 60; step++) {
      const { x, t } = vols[step % 3];
      opt.minimize(
        () => tdsLoss3d(forwardTds3d(w, tiny, x as tf.Tensor5D), t, REGIONS, { a: 0.2, b: 0 }).total,
        false,
        [...w.values()],
      );
    }
    // held-out volume
    const { x, labels } = vols[3];
    const pred = tf.tidy(() => tf.argMax(forwardTds3d(w, tiny, x as tf.Tensor5D).probs, -1)).dataSync();
    let inter = 0;
    let sum = 0;
    for (let i = 0; i < labels.length; i++) {
      const a = pred[i] > 0 ? 1 : 0;
      const b = labels[i] > 0 ? 1 : 0;
      inter += a & b;
      sum += a + b;
    }
    const dice = (2 * inter) / sum;
    console.log(`3D TDS, 60 steps on 16^3 synthetic tumours: held-out whole-tumour Dice ${dice.toFixed(3)}`);
    expect(dice).toBeGreaterThan(0.6);
    w.forEach((v) => v.dispose());
    opt.dispose();
    await tf.setBackend('cpu');
  }, 120_000);

  it('exports to ONNX: ONNX Runtime gives the tfjs probabilities and presence logits (NCDHW), any size of multiples of 8', async () => {
    const w = initTds3d(tiny, 9);
    // random biases too, so every bias is checked
    for (const [name, v] of w)
      if (name.endsWith('/bias')) v.assign(tf.randomNormal(v.shape, 0, 0.1, 'float32', name.length));
    const session = await ort.InferenceSession.create(exportTds3dOnnx(w, tiny));
    for (const [D, H, W] of [
      [16, 16, 24],
      [8, 24, 16],
    ]) {
      const x = tf.randomNormal([1, D, H, W, 2], 0, 1, 'float32', D + H) as tf.Tensor5D;
      const ref = forwardTds3d(w, tiny, x);
      const nc = tf.transpose(x, [0, 4, 1, 2, 3]);
      const out = await session.run({ volume: new ort.Tensor('float32', nc.dataSync() as Float32Array, nc.shape) });
      expect(out.seg.dims).toEqual([1, 5, D, H, W]);
      const want = tf.transpose(ref.probs, [0, 4, 1, 2, 3]).dataSync();
      const got = out.seg.data as Float32Array;
      expect(Math.max(...Array.from(want).map((v, i) => Math.abs(v - got[i])))).toBeLessThan(1e-4);
      const pres = ref.presence.dataSync();
      Array.from(out.class.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(pres[i], 4));
    }
    await session.release();
    w.forEach((v) => v.dispose());
  });
});
