// TDS losses (shared/DESIGN.md §3; official loss.py). Pure functions of tensors; call inside tf.tidy.
// Shapes: seg probabilities [N,H,W,C] (softmax), one-hot targets [N,H,W,C], class logits [N,C],
// presence [N,C] in {0,1}, scene logits [N,S], scene ids [N].
import { tf } from './tf.js';

/** Official loss.py epsilon of the soft-Jaccard term. */
export const JACCARD_EPS = 1e-15;
/** Probabilities are clamped before the log so NLL stays finite where softmax underflows. */
const LOG_FLOOR = 1e-12;

/**
 * Hybrid segmentation loss: 0.5 * NLL(log p, target) + sum_c 0.5 * (1 - (I_c + e) / (U_c - I_c + e)),
 * I_c = sum(p_c t_c), U_c = sum(p_c) + sum(t_c), sums over the whole batch. classWeights (one per class) weigh
 * the NLL term as torch.nn.NLLLoss(weight) does, sum(w_y * -log p_y) / sum(w_y) over the pixels, so the loss
 * keeps its scale; absent (the official code), every class weighs 1.
 */
export function segLoss(probs: tf.Tensor4D, target: tf.Tensor4D, classWeights?: readonly number[] | null): tf.Scalar {
  return tf.tidy(() => {
    const logp = tf.mul(target, tf.log(tf.maximum(probs, LOG_FLOOR)));
    let nll: tf.Tensor;
    if (classWeights) {
      if (classWeights.length !== probs.shape[3])
        throw new Error(`segLoss: ${classWeights.length} class weights for ${probs.shape[3]} classes`);
      const w = tf.tensor1d([...classWeights]);
      nll = tf.div(tf.neg(tf.sum(tf.mul(logp, w))), tf.sum(tf.mul(target, w)));
    } else nll = tf.neg(tf.mean(tf.sum(logp, -1)));
    const inter = tf.sum(tf.mul(probs, target), [0, 1, 2]);
    const union = tf.add(tf.sum(probs, [0, 1, 2]), tf.sum(target, [0, 1, 2]));
    const jac = tf.div(tf.add(inter, JACCARD_EPS), tf.add(tf.sub(union, inter), JACCARD_EPS));
    const soft = tf.sum(tf.mul(0.5, tf.sub(1, jac)));
    return tf.add(tf.mul(0.5, nll), soft) as tf.Scalar;
  });
}

/** Mean binary cross-entropy of sigmoid(logits) against targets in [0,1], computed stably from logits. */
export function bceWithLogits(logits: tf.Tensor, target: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    // max(z,0) - z*t + log(1 + exp(-|z|))
    const z = logits;
    return tf.mean(tf.add(tf.sub(tf.relu(z), tf.mul(z, target)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))))) as tf.Scalar;
  });
}

/** Class-presence loss: BCE against presence taken from the ground truth (background included). */
export function classLoss(classLogits: tf.Tensor2D, presence: tf.Tensor2D): tf.Scalar {
  return bceWithLogits(classLogits, presence);
}

/** Scene loss: softmax cross-entropy against scene ids; samples with id -1 (scene unknown) are left out. */
export function sceneLoss(sceneLogits: tf.Tensor2D, sceneIds: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    // A single scene carries no information (and tf.oneHot needs depth >= 2).
    if (sceneLogits.shape[1] < 2) return tf.scalar(0);
    const ids = tf.cast(sceneIds, 'int32');
    // oneHot of -1 is all zeros, so unknown scenes add nothing; divide by the known ones only.
    const oneHot = tf.oneHot(ids, sceneLogits.shape[1]);
    const known = tf.maximum(tf.sum(tf.cast(tf.greaterEqual(ids, 0), 'float32')), 1);
    return tf.div(tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(sceneLogits)))), known) as tf.Scalar;
  });
}

export type SyncMode = 'hard' | 'soft';

/**
 * Presence as the mask sees it. hard (official): 1 where any pixel's probability for c exceeds 0.5, a
 * constant (no gradient reaches the seg head). soft: the spatial max of the probabilities (differentiable).
 */
export function maskPresence(probs: tf.Tensor4D, mode: SyncMode): tf.Tensor2D {
  return tf.tidy(() => {
    if (mode === 'soft') return tf.max(probs, [1, 2]) as tf.Tensor2D;
    return hardPresence(probs) as tf.Tensor2D;
  });
}

// The hard target is a constant, like the official non-differentiable vector: a custom op whose gradient is zero
// (greater() has no gradient in tfjs, so it must stay off the tape).
const hardPresence = tf.customGrad(((probs: tf.Tensor) => ({
  value: tf.cast(tf.greater(tf.max(probs, [1, 2]), 0.5), 'float32'),
  gradFunc: () => tf.zerosLike(probs),
})) as unknown as Parameters<typeof tf.customGrad>[0]);

/** Sync-regularization: BCE(sigmoid(class logits), presence predicted by the mask). */
export function syncLoss(classLogits: tf.Tensor2D, probs: tf.Tensor4D, mode: SyncMode = 'hard'): tf.Scalar {
  return tf.tidy(() => bceWithLogits(classLogits, maskPresence(probs, mode)));
}

/** Ground-truth presence [N,C] from one-hot targets [N,H,W,C]. */
export function presenceFromTarget(target: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => tf.cast(tf.greater(tf.max(target, [1, 2]), 0), 'float32') as tf.Tensor2D);
}

export interface LossWeights {
  /** alpha: class loss weight. */
  a: number;
  /** beta: sync loss weight. */
  b: number;
  /** gamma: scene loss weight. */
  g: number;
}

export interface LossTerms {
  total: tf.Scalar;
  seg: tf.Scalar;
  cls: tf.Scalar;
  sync: tf.Scalar;
  scene: tf.Scalar;
}

/** L = L_seg + a L_class + b L_sync + g L_scene (every term returned for logging). */
export function tdsLoss(
  out: { probs: tf.Tensor4D; classLogits: tf.Tensor2D; sceneLogits: tf.Tensor2D },
  target: { oneHot: tf.Tensor4D; sceneIds: tf.Tensor1D },
  w: LossWeights,
  syncMode: SyncMode = 'hard',
  segClassWeights?: readonly number[] | null,
): LossTerms {
  const seg = segLoss(out.probs, target.oneHot, segClassWeights);
  const presence = presenceFromTarget(target.oneHot);
  const cls = classLoss(out.classLogits, presence);
  const sync = syncLoss(out.classLogits, out.probs, syncMode);
  const scene = sceneLoss(out.sceneLogits, target.sceneIds);
  presence.dispose();
  const total = tf.tidy(() => tf.addN([seg, tf.mul(w.a, cls), tf.mul(w.b, sync), tf.mul(w.g, scene)]) as tf.Scalar);
  return { total, seg, cls, sync, scene };
}
