// TDS losses for nested regions (BraTS: whole tumour ⊃ tumour core ⊃ enhancing tumour) on 3D patches.
// The seg head predicts the config's labels with a softmax (so 2015's necrosis and non-enhancing stay apart);
// what is scored are regions, unions of labels, so the overlap term is a soft Dice per region on the summed
// probabilities of its labels (region p = sum over its labels of p_c), beside the per-voxel NLL of the labels. The
// class head predicts region presence (nested: ET present implies TC and WT present), and the sync term asks it
// to agree with the regions the mask shows (the 2D hard sync: a voxel whose region probability exceeds 0.5).
// Shapes: probs and one-hot targets [N,D,H,W,C]; presence logits [N,R].
import { tf } from './tf.js';
import { bceWithLogits, type LossWeights } from './losses.js';

const LOG_FLOOR = 1e-12;
/** Soft-Dice smoothing: a region absent from the patch and predicted absent scores ~1, not 0/0. */
export const DICE_SMOOTH = 1;

/** Region maps [N,D,H,W,R] from per-label maps [N,D,H,W,C]: each region the sum of its labels. */
export function regionMaps(t: tf.Tensor5D, regions: number[][]): tf.Tensor5D {
  return tf.tidy(() => {
    const C = t.shape[4];
    const m = new Float32Array(C * regions.length);
    regions.forEach((r, j) => r.forEach((c) => (m[c * regions.length + j] = 1)));
    const flat = tf.reshape(t, [-1, C]) as tf.Tensor2D;
    const [n, d, h, w] = t.shape;
    return tf.reshape(tf.matMul(flat, tf.tensor2d(m, [C, regions.length])), [
      n,
      d,
      h,
      w,
      regions.length,
    ]) as tf.Tensor5D;
  });
}

/** 0.5 NLL(labels) + sum over regions 0.5 (1 - soft Dice), Dice over the whole batch. */
export function segLoss3d(probs: tf.Tensor5D, target: tf.Tensor5D, regions: number[][]): tf.Scalar {
  return tf.tidy(() => {
    const nll = tf.neg(tf.mean(tf.sum(tf.mul(target, tf.log(tf.maximum(probs, LOG_FLOOR))), -1)));
    const p = regionMaps(probs, regions);
    const t = regionMaps(target, regions);
    const inter = tf.sum(tf.mul(p, t), [0, 1, 2, 3]);
    const sums = tf.add(tf.sum(p, [0, 1, 2, 3]), tf.sum(t, [0, 1, 2, 3]));
    const dice = tf.div(tf.add(tf.mul(2, inter), DICE_SMOOTH), tf.add(sums, DICE_SMOOTH));
    return tf.add(tf.mul(0.5, nll), tf.sum(tf.mul(0.5, tf.sub(1, dice)))) as tf.Scalar;
  });
}

/** Region presence [N,R] in one-hot targets: any voxel of the region. */
export function regionPresence(target: tf.Tensor5D, regions: number[][]): tf.Tensor2D {
  return tf.tidy(
    () => tf.cast(tf.greater(tf.max(regionMaps(target, regions), [1, 2, 3]), 0.5), 'float32') as tf.Tensor2D,
  );
}

// The mask's presence is a constant target (no gradient into the seg head), as the official hard sync.
const hardRegionPresence = tf.customGrad(((p: tf.Tensor) => ({
  value: tf.cast(tf.greater(tf.max(p, [1, 2, 3]), 0.5), 'float32'),
  gradFunc: () => tf.zerosLike(p),
})) as unknown as Parameters<typeof tf.customGrad>[0]);

export interface LossTerms3d {
  total: tf.Scalar;
  seg: tf.Scalar;
  cls: tf.Scalar;
  sync: tf.Scalar;
}

/** L = L_seg + a L_class + b L_sync (no scene term: see tds3d.ts). */
export function tdsLoss3d(
  out: { probs: tf.Tensor5D; presence: tf.Tensor2D },
  target: tf.Tensor5D,
  regions: number[][],
  w: Pick<LossWeights, 'a' | 'b'>,
): LossTerms3d {
  const seg = segLoss3d(out.probs, target, regions);
  const cls = w.a ? bceWithLogits(out.presence, regionPresence(target, regions)) : tf.scalar(0);
  const sync = w.b
    ? tf.tidy(() => bceWithLogits(out.presence, hardRegionPresence(regionMaps(out.probs, regions)) as tf.Tensor2D))
    : tf.scalar(0);
  const total = tf.addN([seg, tf.mul(w.a, cls), tf.mul(w.b, sync)]) as tf.Scalar;
  return { total, seg, cls, sync };
}
