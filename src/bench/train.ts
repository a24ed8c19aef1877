// Training figures: one TDS training step (all four loss terms, batch 1, Adam) of the fast profile at 256x320 on
// the wasm and cpu backends, in one process on the same batch; wasm split into forward/backward/optimizer. The
// two backends are timed in turns (wasm, cpu, wasm, cpu, ...) so a slow spell of the machine lands on both, and
// the ratio is the median of the per-turn ratios with their spread.
import { tf } from '../model/tf.js';
import { buildTdsNet } from '../model/profiles.js';
import { forwardLoss, lossGrads, type Batch } from '../train/step.js';
import { OFFICIAL_STAGES } from '../train/config.js';
import { median } from '../median.js';
import { spread, type BenchOptions, type BenchResult } from './types.js';

/** The last official stage: every loss term on. */
const ALL_TERMS = OFFICIAL_STAGES[OFFICIAL_STAGES.length - 1];

interface StepTimes {
  step: number;
  forward: number;
  backward: number;
  optimizer: number;
}

const H = 256;
const W = 320;

/** One backend's model, optimizer and batch, created on that backend so no step moves data between backends. */
interface Trainer {
  backend: string;
  model: ReturnType<typeof buildTdsNet>;
  opt: tf.Optimizer;
  batch: Batch;
}

async function trainer(backend: string): Promise<Trainer> {
  await tf.setBackend(backend);
  const model = buildTdsNet({ profile: 'fast', numClasses: 12, numScenes: 3, height: H, width: W, seed: 1 });
  const batch: Batch = tf.tidy(() => ({
    images: tf.randomNormal([1, H, W, 3], 0, 1, 'float32', 1) as tf.Tensor4D,
    oneHot: tf.oneHot(tf.randomUniform([1, H, W], 0, 12, 'int32', 2) as tf.Tensor3D, 12).toFloat() as tf.Tensor4D,
    sceneIds: tf.tensor1d([1]),
  }));
  return { backend, model, opt: tf.train.adam(1e-4), batch };
}

function disposeTrainer(t: Trainer): void {
  t.model.dispose();
  t.opt.dispose();
  tf.dispose([t.batch.images, t.batch.oneHot, t.batch.sceneIds]);
}

/** Times `runs` steps on the trainer's backend (its tensors never leave it). */
async function timeSteps(t: Trainer, runs: number): Promise<StepTimes[]> {
  await tf.setBackend(t.backend);
  const out: StepTimes[] = [];
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    tf.tidy(() => forwardLoss(t.model, t.batch, ALL_TERMS, 'hard').total.dataSync());
    const forward = performance.now() - t0;
    t0 = performance.now();
    const { grads } = lossGrads(t.model, t.batch, ALL_TERMS, 'hard');
    Object.values(grads).forEach((g) => g.dataSync());
    const fb = performance.now() - t0;
    t0 = performance.now();
    t.opt.applyGradients(grads as tf.NamedTensorMap);
    tf.dispose(Object.values(grads));
    t.model.trainableWeights.forEach((v) => v.read().dataSync());
    const optimizer = performance.now() - t0;
    // A step is forward+backward (one pass computes both) plus the update.
    out.push({ step: fb + optimizer, forward, backward: fb - forward, optimizer });
  }
  return out;
}

export async function benchTrain(o: BenchOptions): Promise<BenchResult[]> {
  const prev = tf.getBackend();
  const wasmT = await trainer('wasm');
  const cpuT = await trainer('cpu');
  // A cpu step takes ~30 s, so a turn is one cpu step against the median of the wasm steps around it.
  const turns = o.quick ? 1 : 3;
  const wasmPerTurn = o.quick ? 2 : 3;
  const wasm: StepTimes[] = [];
  const cpu: StepTimes[] = [];
  const ratios: number[] = [];
  try {
    // Warm-up: each backend's kernels compiled/JITted and its memory allocated once before anything is timed.
    await timeSteps(wasmT, 1);
    if (!o.quick) await timeSteps(cpuT, 1);
    for (let i = 0; i < turns; i++) {
      // wasm steps on both sides of the 30-s cpu step, so they sample the machine around the whole of it
      // (wasm steps before it alone: per-turn ratios 29.5-42.9 in one run).
      const before = await timeSteps(wasmT, wasmPerTurn);
      const c = await timeSteps(cpuT, 1);
      const after = await timeSteps(wasmT, wasmPerTurn);
      const w = [...before, ...after];
      wasm.push(...w);
      cpu.push(...c);
      ratios.push(c[0].step / median(w.map((x) => x.step)));
    }
  } finally {
    disposeTrainer(wasmT);
    disposeTrainer(cpuT);
    if (prev) await tf.setBackend(prev);
  }
  const r = (x: number) => Math.round(x);
  const pick = (xs: StepTimes[], k: keyof StepTimes) => xs.map((x) => x[k]);
  return [
    spread('train.wasm.fast.256x320.step.ms', pick(wasm, 'step'), 'ms', r),
    spread('train.cpu.fast.256x320.step.ms', pick(cpu, 'step'), 'ms', r),
    spread('train.ratio.cpu-vs-wasm.fast', ratios, 'x'),
    spread('train.wasm.fast.256x320.forward.ms', pick(wasm, 'forward'), 'ms', r),
    spread('train.wasm.fast.256x320.backward.ms', pick(wasm, 'backward'), 'ms', r),
    spread('train.wasm.fast.256x320.optimizer.ms', pick(wasm, 'optimizer'), 'ms', r),
  ];
}
