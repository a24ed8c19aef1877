// The 3D TDS network for MRI volumes (the paper's BRATS variant, sized for a CPU): the same decomposition as the
// 2D profiles (shared/DESIGN.md §2) with 3D convolutions: encoder -> context-ensemble block (stacked dilated convs,
// summed) -> task-task latent branches t01, t02, t12 -> a segmentation head on concat(t01, t02) and a class-presence
// head on concat(t01, t12). No scene head: the BraTS fixtures carry no grade (HGG/LGG), the paper's scene task
// for BRATS, so it would have nothing to learn (say so in the README).
//
// Built as plain weights and a forward function, not tf.layers: tfjs-layers' Conv3D runs tfjs's direct-loop
// kernels (0.17 GFLOP/s on wasm); conv3dViaConv2d runs the same maths on XNNPACK's 2D convolutions (43x faster)
// and trains with the project's own gradients. NDHWC throughout (tfjs), exported to ONNX as NCDHW.
//
// Downsampling: depth mean-pooled by 2, then a 3x3x3 conv with height/width stride 2 (conv3dViaConv2d has depth
// stride 1 only); upsampling: nearest x2 on all three axes, then a skip concat and a conv (a U-Net decoder: brain
// tumour boundaries need the full-resolution features, as the fast 2D profile's skips do for instruments).
import { tf } from './tf.js';
import { conv3dViaConv2d } from './conv3d.js';
import { TdsError } from '../errors.js';

export interface Tds3dSpec {
  /** Input channels: one per MRI modality (e.g. 2 for BraTS 2015's FLAIR and T1c, 4 for 2018). */
  modalities: number;
  /** Output classes: the label values of the config (background first). */
  classes: number;
  /** Channels of the encoder levels (full, 1/2, 1/4, 1/8 resolution). */
  channels: [number, number, number, number];
  /** Channels of the context-ensemble latent and the task branches. */
  latent: number;
  /** Dilation rates of the CE block's stacked 3x3x3 convs (the 2D profiles use 1..16 at H/16; 1/8 of a 64^3 patch is 8^3). */
  dilations: number[];
  /** Regions the class head predicts presence of, as sets of class indices (BraTS: WT, TC, ET). */
  regions: number[][];
}

/** Patches are multiples of this (three halvings). */
export const TDS3D_MULTIPLE = 8;

export const DEFAULT_TDS3D = { channels: [8, 16, 32, 48], latent: 32, dilations: [1, 2, 4] } as const;

export type Tds3dWeights = Map<string, tf.Variable>;

export interface Tds3dOutputs {
  /** Class probabilities [N,D,H,W,C] (softmax). */
  probs: tf.Tensor5D;
  /** Region presence logits [N,R]. */
  presence: tf.Tensor2D;
}

/** Every weight with its shape, in a fixed order (the order of the saved weights file). */
export function tds3dWeightShapes(s: Tds3dSpec): Array<[string, number[]]> {
  const [c1, c2, c3, c4] = s.channels;
  const L = s.latent;
  const conv = (name: string, k: number, ci: number, co: number): Array<[string, number[]]> => [
    [`${name}/kernel`, [k, k, k, ci, co]],
    [`${name}/bias`, [co]],
  ];
  const R = s.regions.length;
  return [
    ...conv('enc1a', 3, s.modalities, c1),
    ...conv('enc1b', 3, c1, c1),
    ...conv('enc2', 3, c1, c2),
    ...conv('enc3', 3, c2, c3),
    ...conv('enc4', 3, c3, c4),
    ...conv('ce_in', 1, c4, L),
    ...s.dilations.flatMap((r) => conv(`ce_dilate${r}`, 3, L, L)),
    ...conv('t01', 3, L, L),
    ...conv('t02', 3, L, L),
    ...conv('t12', 3, L, L),
    ...conv('dec3', 3, 2 * L + c3, c3),
    ...conv('dec2', 3, c3 + c2, c2),
    ...conv('dec1', 3, c2 + c1, c1),
    ...conv('seg_logits', 1, c1, s.classes),
    ['cls_fc/kernel', [2 * L, L]],
    ['cls_fc/bias', [L]],
    ['class/kernel', [L, R]],
    ['class/bias', [R]],
  ];
}

export function checkSpec(s: Tds3dSpec): void {
  const bad = (why: string) => {
    throw new TdsError('BAD_MODEL', `3D TDS spec: ${why}`, 'check the model folder or the config');
  };
  if (s.modalities < 1) bad(`needs at least one modality, got ${s.modalities}`);
  if (s.classes < 2) bad(`needs at least 2 classes, got ${s.classes}`);
  if (!s.regions.length) bad('needs at least one region');
  for (const r of s.regions)
    if (!r.length || r.some((c) => !Number.isInteger(c) || c < 1 || c >= s.classes))
      bad(`region ${JSON.stringify(r)} must list foreground class indices 1..${s.classes - 1}`);
}

let instances = 0;

/** Variables of one network from given values (in tds3dWeightShapes order), or He-normal kernels and zero biases. */
export function tds3dVariables(s: Tds3dSpec, values?: Float32Array[], seed = 1): Tds3dWeights {
  checkSpec(s);
  const shapes = tds3dWeightShapes(s);
  if (values && values.length !== shapes.length)
    throw new Error(`3D TDS: ${values.length} weights for ${shapes.length}`);
  const w: Tds3dWeights = new Map();
  // tfjs variable names are global: prefix each network's (not integer-like, so gradient maps keep this order,
  // which the optimizer's saved state relies on).
  const prefix = `tds3d${instances++}`;
  let k = seed;
  shapes.forEach(([name, shape], i) => {
    const init = values
      ? tf.tensor(values[i], shape)
      : name.endsWith('/bias')
        ? tf.zeros(shape)
        : tf.randomNormal(shape, 0, Math.sqrt(2 / shape.slice(0, -1).reduce((a, b) => a * b, 1)), 'float32', k++);
    w.set(name, tf.variable(init, true, `${prefix}/${name}`));
    init.dispose();
  });
  return w;
}

/** He-normal kernels (fan-in), zero biases; same seed, same weights. */
export function initTds3d(s: Tds3dSpec, seed = 1): Tds3dWeights {
  return tds3dVariables(s, undefined, seed);
}

/** Mean of each pair of depth slices: [N,D,H,W,C] -> [N,D/2,H,W,C]. */
export function poolDepth(x: tf.Tensor5D): tf.Tensor5D {
  const [n, d, h, w, c] = x.shape;
  return tf.reshape(tf.mean(tf.reshape(x, [n * (d / 2), 2, h * w, c]), 1), [n, d / 2, h, w, c]);
}

/** Nearest-neighbour x2 upsampling on depth, height and width (ONNX Resize nearest, scales 2). */
export function upsample2(x: tf.Tensor5D): tf.Tensor5D {
  const [n, d, h, w, c] = x.shape;
  // Each axis doubled by broadcasting against ones (rank 4): its gradient is a sum, where tf.stack's (Unpack)
  // and tf.concat's (SplitV) gradients took 60% of a training step on wasm.
  const two = tf.ones([1, 1, 2, 1]);
  const w2 = tf.mul(tf.reshape(x, [n * d * h, w, 1, c]), two);
  const h2 = tf.mul(tf.reshape(w2, [n * d, h, 1, 2 * w * c]), two);
  const d2 = tf.mul(tf.reshape(h2, [n, d, 1, 4 * h * w * c]), two);
  return tf.reshape(d2, [n, 2 * d, 2 * h, 2 * w, c]) as tf.Tensor5D;
}

/** The forward pass on an NDHWC patch [N,D,H,W,M] (each of D,H,W a multiple of 8). Call inside tf.tidy. */
export function forwardTds3d(w: Tds3dWeights, s: Tds3dSpec, x: tf.Tensor5D): Tds3dOutputs {
  const [, D, H, W, M] = x.shape;
  if (M !== s.modalities || D % TDS3D_MULTIPLE || H % TDS3D_MULTIPLE || W % TDS3D_MULTIPLE)
    throw new TdsError(
      'BAD_OPTION',
      `3D TDS input must be [N,D,H,W,${s.modalities}] with D, H, W multiples of ${TDS3D_MULTIPLE}, got [${x.shape}]`,
      'use a patch size such as 64x64x64',
    );
  const get = (n: string) => w.get(n)! as tf.Tensor;
  /** A conv of the channel concatenation of `ts`, as the sum of one conv per part (the kernel sliced by input
   * channels): the same sum, without concat's gradient (SplitV, slow on wasm) on full-resolution maps. */
  const conv = (
    name: string,
    ts: tf.Tensor5D | tf.Tensor5D[],
    o: { stride?: number; dilation?: number; relu?: boolean } = {},
  ) => {
    const st = o.stride ?? 1;
    const k = get(`${name}/kernel`) as tf.Tensor5D;
    const parts = Array.isArray(ts) ? ts : [ts];
    let off = 0;
    const ys = parts.map((t) => {
      const ci = t.shape[4];
      const kk = parts.length === 1 ? k : (tf.slice(k, [0, 0, 0, off, 0], [-1, -1, -1, ci, -1]) as tf.Tensor5D);
      off += ci;
      return conv3dViaConv2d(t, kk, [1, st, st], 'same', o.dilation ?? 1);
    });
    const y = tf.add(ys.length === 1 ? ys[0] : tf.addN(ys), get(`${name}/bias`)) as tf.Tensor5D;
    return o.relu === false ? y : tf.relu(y);
  };
  const down = (name: string, t: tf.Tensor5D) => conv(name, poolDepth(t), { stride: 2 });
  const e1 = conv('enc1b', conv('enc1a', x));
  const e2 = down('enc2', e1);
  const e3 = down('enc3', e2);
  const e4 = down('enc4', e3);
  // Context-ensemble block: a 1x1x1 projection, stacked dilated convs, every tap summed (official CEBlock).
  const p = conv('ce_in', e4);
  const taps: tf.Tensor5D[] = [p];
  let d = p;
  for (const r of s.dilations) {
    d = conv(`ce_dilate${r}`, d, { dilation: r });
    taps.push(d);
  }
  const latent = tf.addN(taps) as tf.Tensor5D;
  const t01 = conv('t01', latent);
  const t02 = conv('t02', latent);
  const t12 = conv('t12', latent);
  // Segmentation: concat(t01, t02) at 1/8, decoded with the encoder's skips.
  let y = conv('dec3', [upsample2(t01), upsample2(t02), e3]);
  y = conv('dec2', [upsample2(y), e2]);
  y = conv('dec1', [upsample2(y), e1]);
  const probs = tf.softmax(conv('seg_logits', y, { relu: false }), -1) as tf.Tensor5D;
  // Class presence: concat(t01, t12) -> global average pool -> dense -> dense (logits), as the 2D heads.
  const g = tf.concat([tf.mean(t01, [1, 2, 3]), tf.mean(t12, [1, 2, 3])], 1) as tf.Tensor2D;
  const h = tf.add(tf.matMul(g, get('cls_fc/kernel') as tf.Tensor2D), get('cls_fc/bias'));
  const presence = tf.add(tf.matMul(h as tf.Tensor2D, get('class/kernel') as tf.Tensor2D), get('class/bias'));
  return { probs, presence: presence as tf.Tensor2D };
}

/** Multiply-adds x 2 of one forward pass at D x H x W (convolutions and dense layers). */
export function tds3dGflops(s: Tds3dSpec, D: number, H: number, W: number): number {
  const vox = (f: number) => (D / f) * (H / f) * (W / f);
  const level: Record<string, number> = {
    enc1a: 1,
    enc1b: 1,
    enc2: 2,
    enc3: 4,
    enc4: 8,
    dec3: 4,
    dec2: 2,
    dec1: 1,
    seg_logits: 1,
  };
  let f = 0;
  for (const [name, shape] of tds3dWeightShapes(s)) {
    if (!name.endsWith('/kernel')) continue;
    const n = shape.reduce((a, b) => a * b, 1);
    const base = name.split('/')[0];
    f += 2 * n * (shape.length === 2 ? 1 : vox(level[base] ?? 8));
  }
  return f / 1e9;
}
