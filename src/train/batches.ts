// Training batches: the shared preprocessing (src/model/preprocess) plus augmentation — horizontal and vertical
// flips (p = 0.5 each, official code) and an optional random zoom — all driven by a seeded RNG, so an
// epoch's order and augmentations are reproducible (resume mid-epoch gives the same batches).
import { tf } from '../model/tf.js';
import { preprocessInto, resizeLabels, type Crop, type Normalization } from '../model/preprocess.js';
import { rng } from '../rng.js';
import { augmentReal } from './augment.js';
import type { TrainConfig } from './config.js';
import type { LoadedSample, Sample, SampleCache } from './dataset.js';
import type { Batch } from './step.js';

/** Fisher-Yates with a seeded RNG. */
export function shuffled<T>(xs: T[], seed: number): T[] {
  const r = rng(seed);
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Seed of epoch e's order and of step s's augmentation. */
export const epochSeed = (seed: number, epoch: number) => (seed * 1_000_003 + epoch * 7919) >>> 0;
export const stepSeed = (seed: number, epoch: number, step: number) =>
  (epochSeed(seed, epoch) ^ Math.imul(step + 1, 2654435761)) >>> 0;

function flipInPlace(img: Float32Array, labels: Uint8Array, H: number, W: number, horizontal: boolean): void {
  const swap = (a: number, b: number) => {
    for (let c = 0; c < 3; c++) {
      const t = img[a * 3 + c];
      img[a * 3 + c] = img[b * 3 + c];
      img[b * 3 + c] = t;
    }
    const l = labels[a];
    labels[a] = labels[b];
    labels[b] = l;
  };
  if (horizontal) for (let y = 0; y < H; y++) for (let x = 0; x < W >> 1; x++) swap(y * W + x, y * W + (W - 1 - x));
  else for (let y = 0; y < H >> 1; y++) for (let x = 0; x < W; x++) swap(y * W + x, (H - 1 - y) * W + x);
}

export interface HostSample {
  /** Normalised NHWC pixels of one sample. */
  image: Float32Array;
  labels: Uint8Array;
}

/** True when the config asks for any of the real-endoscopy augmentations (src/train/augment.ts). */
function usesRealAugment(a: TrainConfig['augment']): boolean {
  return !!(
    a.zoom ||
    a.rotate ||
    a.jitter ||
    a.blur ||
    a.noise ||
    a.specular ||
    a.smoke ||
    a.border ||
    a.roi ||
    a.tool ||
    a.paste
  );
}

/** One training sample at the training size, augmented per `seed`; `other` is the frame whose instruments may be
 * pasted in (augment.paste). */
export function augmentSample(
  s: LoadedSample,
  H: number,
  W: number,
  norm: Normalization,
  aug: TrainConfig['augment'],
  seed: number,
  other?: LoadedSample,
): HostSample {
  const r = rng(seed);
  if (usesRealAugment(aug)) {
    const flips = { h: r() < aug.hflip, v: r() < aug.vflip };
    return augmentReal(s.image, s.labels, H, W, norm, aug, flips, r, other);
  }
  let crop: Crop | undefined;
  if (aug.scaleCrop) {
    const z = aug.scaleCrop.min + (aug.scaleCrop.max - aug.scaleCrop.min) * r();
    const w = Math.max(1, Math.round(s.image.width / z));
    const h = Math.max(1, Math.round(s.image.height / z));
    crop = { x: Math.floor(r() * (s.image.width - w + 1)), y: Math.floor(r() * (s.image.height - h + 1)), w, h };
  }
  const image = preprocessInto(s.image, H, W, norm, 'nhwc', new Float32Array(H * W * 3), 0, crop);
  const labels = resizeLabels(s.labels, s.image.width, s.image.height, H, W, crop);
  if (r() < aug.hflip) flipInPlace(image, labels, H, W, true);
  if (r() < aug.vflip) flipInPlace(image, labels, H, W, false);
  return { image, labels };
}

/** Stacks host samples into a Batch of tensors (caller disposes). */
export function toBatch(samples: HostSample[], scenes: number[], H: number, W: number, numClasses: number): Batch {
  const n = samples.length;
  const img = new Float32Array(n * H * W * 3);
  const lab = new Int32Array(n * H * W);
  samples.forEach((s, i) => {
    img.set(s.image, i * H * W * 3);
    lab.set(s.labels, i * H * W);
  });
  return tf.tidy(() => ({
    images: tf.tensor4d(img, [n, H, W, 3]),
    oneHot: tf.oneHot(tf.tensor3d(lab, [n, H, W], 'int32'), numClasses).toFloat() as tf.Tensor4D,
    sceneIds: tf.tensor1d(scenes, 'int32'),
  }));
}

/** Loads and augments the samples of one step; with augment.paste, each sample's paste source is drawn from `pool`
 * (the training frames) by the step's seed, so a resumed epoch pastes the same frames. */
export async function makeBatch(
  cache: SampleCache,
  samples: Sample[],
  cfg: TrainConfig,
  norm: Normalization,
  numClasses: number,
  seed: number,
  pool: Sample[] = [],
): Promise<Batch> {
  const [H, W] = cfg.size;
  const host: HostSample[] = [];
  for (const [i, s] of samples.entries()) {
    const sampleSeed = (seed + i * 97) >>> 0;
    const pick =
      cfg.augment.paste && pool.length ? pool[Math.floor(rng(sampleSeed ^ 0x5bd1e995)() * pool.length)] : undefined;
    const other = pick ? await cache.get(pick) : undefined;
    host.push(augmentSample(await cache.get(s), H, W, norm, cfg.augment, sampleSeed, other));
  }
  return toBatch(
    host,
    samples.map((s) => s.scene),
    H,
    W,
    numClasses,
  );
}
