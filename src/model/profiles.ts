// TDSNet in tfjs layers (NHWC), as the official code builds it (xuhuaren/TDSNet util/models.py):
// encoder -> context-ensemble block -> three task-task latent branches -> segmentation, class, scene heads.
// Two profiles share the decomposition: `paper` (VGG16, 22,122,331 params with 12 classes / 3 scenes) and
// `fast` (light encoder, narrow channels, seg convs at 1/4 resolution and one refine conv at 1/2) for live
// rates on CPU.
import { tf } from './tf.js';
import { ResizeBilinear } from './resize-layer.js';
import { InstanceNorm } from './instance-norm-layer.js';
import { TdsError } from '../errors.js';

export type ProfileName = 'paper' | 'fast';
export const PROFILES: readonly ProfileName[] = ['paper', 'fast'];

export interface BuildOptions {
  profile: ProfileName;
  numClasses: number;
  numScenes: number;
  /** Input height/width, multiples of 32 (the encoder downsamples 5 times). */
  height: number;
  width: number;
  /** Seed for He-normal initialisation; same seed, same weights. */
  seed?: number;
  /** Instance-normalise every conv of the first this-many encoder blocks (conv -> IN -> ReLU); 0 = none. */
  instanceNormBlocks?: number;
  /** Scale the encoder's channels by this factor, rounded to multiples of 8 (1 = the profile's own widths). */
  encoderWidth?: number;
}

interface Spec {
  /** Encoder convs per block; the block ends with a 2x2 max-pool (VGG) or the first conv strides 2 (fast). */
  encoder: Array<{ convs: number[]; pool: boolean }>;
  /** Channels of the context-ensemble latent and the task branches (256 in the paper). */
  latent: number;
  /** Hidden width of the class and scene heads (256 in the paper). */
  headHidden: number;
  /** Upsampling before the seg convs (16 in the paper, from H/16 to H). */
  segUp: number;
  segConvs: number[];
  /** Upsampling of the seg logits to the input size after the convs (1 in the paper). */
  segFinalUp: number;
  /** Encoder layer whose output (at the seg convs' resolution) is concatenated into the seg head (fast only). */
  segSkip?: string;
  /** fast only: after the seg convs, a x2 bilinear upsample, concat with this encoder layer, these convs. */
  segRefine?: { skip: string; convs: number[] };
}

const SPECS: Record<ProfileName, Spec> = {
  // VGG16 features: 13 conv3x3+ReLU in 5 blocks, each followed by 2x2 max-pool (conv5 at H/16, pooled to H/32).
  paper: {
    encoder: [
      { convs: [64, 64], pool: true },
      { convs: [128, 128], pool: true },
      { convs: [256, 256, 256], pool: true },
      { convs: [512, 512, 512], pool: true },
      { convs: [512, 512, 512], pool: true },
    ],
    latent: 256,
    headHidden: 256,
    segUp: 16,
    segConvs: [64, 32, 32],
    segFinalUp: 1,
  },
  // Five stride-2 stages (no pooling), 16..128 channels; seg convs at H/4, one refine conv at H/2, then a x2
  // bilinear upsample.
  fast: {
    encoder: [
      { convs: [16], pool: false },
      { convs: [32, 32], pool: false },
      { convs: [64, 64], pool: false },
      { convs: [128, 128], pool: false },
      { convs: [128], pool: false },
    ],
    latent: 64,
    headHidden: 64,
    segUp: 4,
    segConvs: [32, 16, 16],
    segFinalUp: 2,
    // Without skips, boundaries come from H/16 features only; one skip from the H/4 encoder stage gives the
    // reduced-resolution head the detail that thin instruments, thread and needles need.
    segSkip: 'block2_conv2',
    // Labels at H/4 cap what any model can score: one-hot labels average-pooled to H/4 and upsampled back
    // reach challenge IoU 0.945 on the synthetic validation frames (thread 0.89, needle 0.87, clasper 0.87),
    // at H/2 0.985. The refine stage at H/2 (skip from the first encoder conv) costs ~0.2 GFLOP.
    segRefine: { skip: 'block1_conv1', convs: [16] },
  },
};

/** CE block dilation rates (official CEBlock: dilate1..dilate16). */
export const DILATIONS = [1, 2, 4, 8, 16];

export function assertInputSize(height: number, width: number): void {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 32 || width < 32 || height % 32 || width % 32) {
    throw new TdsError(
      'BAD_MODEL',
      `input size must be HxW with both multiples of 32 (the encoder downsamples by 32), got ${height}x${width}`,
      'e.g. 256x320 or 512x640',
    );
  }
}

export function buildTdsNet(o: BuildOptions): tf.LayersModel {
  if (!PROFILES.includes(o.profile))
    throw new TdsError(
      'BAD_MODEL',
      `unknown profile ${JSON.stringify(o.profile)}`,
      `use one of ${PROFILES.join(', ')}`,
    );
  assertInputSize(o.height, o.width);
  if (o.numClasses < 2 || o.numScenes < 1)
    throw new TdsError(
      'BAD_MODEL',
      `need at least 2 classes and 1 scene, got ${o.numClasses} and ${o.numScenes}`,
      'check the config',
    );
  const spec = SPECS[o.profile];
  const widthScale = o.encoderWidth ?? 1;
  if (!(widthScale > 0) || widthScale > 4)
    throw new TdsError(
      'BAD_MODEL',
      `encoderWidth must be a factor in (0, 4], got ${widthScale}`,
      'e.g. 1.5 (the fast encoder at 24..192 channels)',
    );
  // Multiples of 8 keep the wasm conv kernels on their vectorised paths.
  const widen = (f: number) => (widthScale === 1 ? f : Math.max(8, Math.round((f * widthScale) / 8) * 8));
  const inBlocks = o.instanceNormBlocks ?? 0;
  if (!Number.isInteger(inBlocks) || inBlocks < 0 || inBlocks > spec.encoder.length)
    throw new TdsError(
      'BAD_MODEL',
      `instanceNormBlocks must be an integer in 0..${spec.encoder.length}, got ${inBlocks}`,
      'e.g. 2 (the first two encoder blocks)',
    );
  let seed = o.seed ?? 1;
  const he = () => tf.initializers.heNormal({ seed: seed++ });
  const conv = (
    name: string,
    filters: number,
    opts: { kernel?: number; stride?: number; dilation?: number; relu?: boolean; bias?: boolean } = {},
  ) =>
    tf.layers.conv2d({
      name,
      filters,
      kernelSize: opts.kernel ?? 3,
      strides: opts.stride ?? 1,
      dilationRate: opts.dilation ?? 1,
      padding: 'same',
      activation: opts.relu === false ? 'linear' : 'relu',
      kernelInitializer: he(),
      useBias: opts.bias !== false,
      biasInitializer: 'zeros',
    });

  const input = tf.input({ shape: [o.height, o.width, 3], name: 'image' });
  let x: tf.SymbolicTensor = input;
  const encoderOut = new Map<string, tf.SymbolicTensor>();
  spec.encoder.forEach((block, b) => {
    block.convs.forEach((f0, c) => {
      const f = widen(f0);
      const stride = !block.pool && c === 0 ? 2 : 1;
      const name = `block${b + 1}_conv${c + 1}`;
      if (b < inBlocks) {
        // No bias: instance norm subtracts each channel's mean, so a bias would get no gradient.
        x = conv(name, f, { stride, relu: false, bias: false }).apply(x) as tf.SymbolicTensor;
        x = new InstanceNorm({ name: `${name}_in`, relu: true }).apply(x) as tf.SymbolicTensor;
      } else x = conv(name, f, { stride }).apply(x) as tf.SymbolicTensor;
      encoderOut.set(name, x);
    });
    if (block.pool)
      x = tf.layers.maxPooling2d({ name: `block${b + 1}_pool`, poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor;
  });

  // Context-ensemble block: ConvTranspose k4 s2 p1 (H/32 -> H/16), five stacked dilated convs, summed latent.
  const L = spec.latent;
  const up = tf.layers
    .conv2dTranspose({
      name: 'ce_deconv',
      filters: L,
      kernelSize: 4,
      strides: 2,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: he(),
      biasInitializer: 'zeros',
    })
    .apply(x) as tf.SymbolicTensor;
  const taps: tf.SymbolicTensor[] = [up];
  let d = up;
  for (const rate of DILATIONS) {
    d = conv(`ce_dilate${rate}`, L, { dilation: rate }).apply(d) as tf.SymbolicTensor;
    taps.push(d);
  }
  const latent = tf.layers.add({ name: 'ce_latent' }).apply(taps) as tf.SymbolicTensor;
  const t01 = conv('t01', L).apply(latent) as tf.SymbolicTensor;
  const t02 = conv('t02', L).apply(latent) as tf.SymbolicTensor;
  const t12 = conv('t12', L).apply(latent) as tf.SymbolicTensor;

  // Segmentation head: concat(t01, t02) -> bilinear up -> convs -> 1x1 -> (up) -> softmax.
  let s = tf.layers.concatenate({ name: 'seg_concat' }).apply([t01, t02]) as tf.SymbolicTensor;
  s = new ResizeBilinear({ name: 'seg_up', factor: spec.segUp }).apply(s) as tf.SymbolicTensor;
  if (spec.segSkip)
    s = tf.layers.concatenate({ name: 'seg_skip' }).apply([s, encoderOut.get(spec.segSkip)!]) as tf.SymbolicTensor;
  spec.segConvs.forEach((f, i) => {
    s = conv(`seg_conv${i + 1}`, f).apply(s) as tf.SymbolicTensor;
  });
  if (spec.segRefine) {
    s = new ResizeBilinear({ name: 'seg_refine_up', factor: 2 }).apply(s) as tf.SymbolicTensor;
    s = tf.layers
      .concatenate({ name: 'seg_refine_skip' })
      .apply([s, encoderOut.get(spec.segRefine.skip)!]) as tf.SymbolicTensor;
    spec.segRefine.convs.forEach((f, i) => {
      s = conv(`seg_refine${i + 1}`, f).apply(s) as tf.SymbolicTensor;
    });
  }
  s = conv('seg_logits', o.numClasses, { kernel: 1, relu: false }).apply(s) as tf.SymbolicTensor;
  // fast: softmax at reduced resolution, then a bilinear upsample of the probabilities (a convex combination,
  // so still a distribution per pixel): 4x less softmax work than at full resolution, which dominated ORT time.
  const seg =
    spec.segFinalUp > 1
      ? (new ResizeBilinear({ name: 'seg', factor: spec.segFinalUp }).apply(
          tf.layers.softmax({ name: 'seg_softmax', axis: -1 }).apply(s),
        ) as tf.SymbolicTensor)
      : (tf.layers.softmax({ name: 'seg', axis: -1 }).apply(s) as tf.SymbolicTensor);

  // Class and scene heads: concat -> global average pool -> dense -> dense (logits; no activation between, as official).
  const head = (prefix: string, a: tf.SymbolicTensor, b: tf.SymbolicTensor, n: number, outName: string) => {
    let h = tf.layers.concatenate({ name: `${prefix}_concat` }).apply([a, b]) as tf.SymbolicTensor;
    h = tf.layers.globalAveragePooling2d({ name: `${prefix}_gap` }).apply(h) as tf.SymbolicTensor;
    h = tf.layers
      .dense({ name: `${prefix}_fc`, units: spec.headHidden, kernelInitializer: he(), biasInitializer: 'zeros' })
      .apply(h) as tf.SymbolicTensor;
    return tf.layers
      .dense({ name: outName, units: n, kernelInitializer: he(), biasInitializer: 'zeros' })
      .apply(h) as tf.SymbolicTensor;
  };
  const cls = head('cls', t01, t12, o.numClasses, 'class');
  const scene = head('scene', t02, t12, o.numScenes, 'scene');
  return tf.model({ inputs: input, outputs: [seg, cls, scene], name: `tdsnet_${o.profile}` });
}

/** Layer names of the encoder (for weight loading and parameter accounting). */
export function encoderLayerNames(model: tf.LayersModel): string[] {
  return model.layers.filter((l) => /^block\d+_conv\d+$/.test(l.name)).map((l) => l.name);
}
