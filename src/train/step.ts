// One optimisation step of the TDS loss on a batch (forward, backward, Adam update), and the official stage
// weights. Works on any tfjs backend once src/model/kernels is imported (dilated conv gradients, wasm kernels).
import { ensureTrainingKernels } from '../model/kernels/index.js';
import { tf } from '../model/tf.js';
import { tdsLoss, type LossWeights, type SyncMode } from '../model/losses.js';

export interface Batch {
  /** Normalised images [N,H,W,3] (src/model/preprocess). */
  images: tf.Tensor4D;
  /** One-hot labels [N,H,W,C]. */
  oneHot: tf.Tensor4D;
  /** Scene ids [N]. */
  sceneIds: tf.Tensor1D;
}

export interface StepLosses {
  total: number;
  seg: number;
  cls: number;
  sync: number;
  scene: number;
}

/** Forward pass in training mode and all loss terms (caller disposes). */
export function forwardLoss(
  model: tf.LayersModel,
  batch: Batch,
  w: LossWeights,
  syncMode: SyncMode,
  segClassWeights?: readonly number[] | null,
) {
  ensureTrainingKernels();
  const [probs, classLogits, sceneLogits] = model.apply(batch.images, { training: true }) as tf.Tensor[];
  return tdsLoss(
    { probs: probs as tf.Tensor4D, classLogits: classLogits as tf.Tensor2D, sceneLogits: sceneLogits as tf.Tensor2D },
    { oneHot: batch.oneHot, sceneIds: batch.sceneIds },
    w,
    syncMode,
    segClassWeights,
  );
}

/** Gradients of the total loss with respect to every trainable weight, plus the loss terms. */
export function lossGrads(
  model: tf.LayersModel,
  batch: Batch,
  w: LossWeights,
  syncMode: SyncMode,
  segClassWeights?: readonly number[] | null,
): { losses: StepLosses; grads: Record<string, tf.Tensor> } {
  ensureTrainingKernels();
  let kept: tf.Scalar[] = [];
  const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => {
    const t = forwardLoss(model, batch, w, syncMode, segClassWeights);
    kept = [t.seg, t.cls, t.sync, t.scene].map((x) => tf.keep(x.clone()));
    return t.total;
  }, vars);
  const [seg, cls, sync, scene] = kept.map((x) => x.dataSync()[0]);
  const losses = { total: value.dataSync()[0], seg, cls, sync, scene };
  tf.dispose([value, ...kept]);
  return { losses, grads };
}

/** One Adam step; returns the loss terms before the update. */
export function trainStep(
  model: tf.LayersModel,
  opt: tf.Optimizer,
  batch: Batch,
  w: LossWeights,
  syncMode: SyncMode = 'hard',
  segClassWeights?: readonly number[] | null,
): StepLosses {
  ensureTrainingKernels();
  const { losses, grads } = lossGrads(model, batch, w, syncMode, segClassWeights);
  opt.applyGradients(grads as tf.NamedTensorMap);
  tf.dispose(Object.values(grads));
  return losses;
}
