// Training figures: one TDS training step (all four loss terms, batch 1, Adam) of the fast profile at 256x320 on
// the wasm and cpu backends, in one process on the same model and batch; wasm split into forward/backward/optimizer.
import { tf } from '../model/tf.js';
import { buildTdsNet } from '../model/profiles.js';
import { forwardLoss, lossGrads, type Batch } from '../train/step.js';
import { OFFICIAL_STAGES } from '../train/config.js';

/** The last official stage: every loss term on. */
const ALL_TERMS = OFFICIAL_STAGES[OFFICIAL_STAGES.length - 1];
import { median } from '../median.js';
import type { BenchOptions, BenchResult } from './types.js';

interface StepTimes {
  step: number;
  forward: number;
  backward: number;
  optimizer: number;
}

async function timeSteps(backend: string, runs: number): Promise<StepTimes> {
  await tf.setBackend(backend);
  const H = 256;
  const W = 320;
  const model = buildTdsNet({ profile: 'fast', numClasses: 12, numScenes: 3, height: H, width: W, seed: 1 });
  const batch: Batch = tf.tidy(() => ({
    images: tf.randomNormal([1, H, W, 3], 0, 1, 'float32', 1) as tf.Tensor4D,
    oneHot: tf.oneHot(tf.randomUniform([1, H, W], 0, 12, 'int32', 2) as tf.Tensor3D, 12).toFloat() as tf.Tensor4D,
    sceneIds: tf.tensor1d([1]),
  }));
  const opt: tf.Optimizer = tf.train.adam(1e-4);
  const t: StepTimes[] = [];
  try {
    for (let i = 0; i < runs + 1; i++) {
      let t0 = performance.now();
      tf.tidy(() => forwardLoss(model, batch, ALL_TERMS, 'hard').total.dataSync());
      const forward = performance.now() - t0;
      t0 = performance.now();
      const { grads } = lossGrads(model, batch, ALL_TERMS, 'hard');
      Object.values(grads).forEach((g) => g.dataSync());
      const fb = performance.now() - t0;
      t0 = performance.now();
      opt.applyGradients(grads as tf.NamedTensorMap);
      tf.dispose(Object.values(grads));
      model.trainableWeights.forEach((v) => v.read().dataSync());
      const optimizer = performance.now() - t0;
      // A step is forward+backward (one pass computes both) plus the update.
      if (i > 0) t.push({ step: fb + optimizer, forward, backward: fb - forward, optimizer });
    }
  } finally {
    model.dispose();
    opt.dispose();
    tf.dispose([batch.images, batch.oneHot, batch.sceneIds]);
  }
  return {
    step: median(t.map((x) => x.step)),
    forward: median(t.map((x) => x.forward)),
    backward: median(t.map((x) => x.backward)),
    optimizer: median(t.map((x) => x.optimizer)),
  };
}

export async function benchTrain(o: BenchOptions): Promise<BenchResult[]> {
  const prev = tf.getBackend();
  const wasm = await timeSteps('wasm', o.quick ? 3 : 10);
  const cpu = await timeSteps('cpu', o.quick ? 1 : 2);
  if (prev) await tf.setBackend(prev);
  const r = (x: number) => Math.round(x);
  return [
    { name: 'train.wasm.fast.256x320.step.ms', value: r(wasm.step), unit: 'ms' },
    { name: 'train.cpu.fast.256x320.step.ms', value: r(cpu.step), unit: 'ms' },
    { name: 'train.ratio.cpu-vs-wasm.fast', value: Math.round((cpu.step / wasm.step) * 10) / 10, unit: 'x' },
    { name: 'train.wasm.fast.256x320.forward.ms', value: r(wasm.forward), unit: 'ms' },
    { name: 'train.wasm.fast.256x320.backward.ms', value: r(wasm.backward), unit: 'ms' },
    { name: 'train.wasm.fast.256x320.optimizer.ms', value: r(wasm.optimizer), unit: 'ms' },
  ];
}
