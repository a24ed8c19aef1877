// The one preprocessing module for training and inference: resize to the model's input size (half-pixel
// bilinear, as cv2.INTER_LINEAR / PyTorch align_corners=False) and normalise with the model's mean/std
// (ImageNet by default, as the official code does). Output is a float array in NCHW or NHWC.
import { TdsError } from '../errors.js';
import type { Image } from '../types.js';
import { axisTaps as taps } from '../resample.js';

export interface Normalization {
  /** Per-channel mean on the 0..1 scale. */
  mean: [number, number, number];
  std: [number, number, number];
}

/** torchvision ImageNet statistics, used by the official TDSNet data pipeline. */
export const IMAGENET: Normalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

export type Layout = 'nchw' | 'nhwc';

export function assertRgb(img: Image, source = 'image'): void {
  if (img.channels !== 3)
    throw new TdsError(
      'BAD_IMAGE',
      `${source} has ${img.channels} channel(s); the model needs RGB (3)`,
      'convert the image to RGB',
    );
  if (img.data.length !== img.width * img.height * 3)
    throw new TdsError(
      'BAD_IMAGE',
      `${source}: ${img.data.length} bytes do not make a ${img.width}x${img.height} RGB image`,
      'pass {data, width, height, channels: 3} with width*height*3 bytes',
    );
}

/** A source window (pixels) to resample instead of the whole image: training's random zoom. */
export interface Crop {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Source coordinate taps for half-pixel bilinear resampling of a window [off, off+src) onto dst samples. */
function windowTaps(
  off: number,
  src: number,
  dst: number,
  limit: number,
): { i0: Int32Array; i1: Int32Array; w: Float32Array } {
  const t = taps(src, dst);
  for (let d = 0; d < dst; d++) {
    t.i0[d] = Math.min(t.i0[d] + off, limit - 1);
    t.i1[d] = Math.min(t.i1[d] + off, limit - 1);
  }
  return t;
}

/**
 * The one normalisation of 0..255 pixel values used by inference, training crops and training augmentation,
 * so that the same pixel always becomes the same float (bit-identical): v * scale[c] - shift[c].
 */
export function normalizer(norm: Normalization): { scale: number[]; shift: number[] } {
  return {
    scale: [0, 1, 2].map((c) => 1 / (255 * norm.std[c])),
    shift: [0, 1, 2].map((c) => norm.mean[c] / norm.std[c]),
  };
}

/**
 * Writes one image, resized and normalised, into `out` at batch position `b` (out holds N x 3 x H x W floats).
 * Returns `out`. The image is only read. `crop` resamples a window of the image instead of all of it.
 */
export function preprocessInto(
  img: Image,
  height: number,
  width: number,
  norm: Normalization,
  layout: Layout,
  out: Float32Array,
  b = 0,
  crop?: Crop,
): Float32Array {
  assertRgb(img);
  if (crop) return preprocessWindow(img, height, width, norm, layout, out, b, crop);
  const plane = height * width;
  const base = b * plane * 3;
  const { scale, shift } = normalizer(norm);
  const src = img.data;
  const W = img.width;
  const same = img.width === width && img.height === height;
  // Channel c of pixel p goes to base + p * ps + c * cs (NHWC: 3, 1; NCHW: 1, plane).
  const ps = layout === 'nchw' ? 1 : 3;
  const cs = layout === 'nchw' ? plane : 1;
  const [s0, s1, s2] = scale;
  const [h0, h1, h2] = shift;
  if (same) {
    for (let p = 0; p < plane; p++) {
      const o = base + p * ps;
      out[o] = src[p * 3] * s0 - h0;
      out[o + cs] = src[p * 3 + 1] * s1 - h1;
      out[o + 2 * cs] = src[p * 3 + 2] * s2 - h2;
    }
    return out;
  }
  const ty = taps(img.height, height);
  const tx = taps(img.width, width);
  // Byte offsets of the two source columns per output column, computed once per frame instead of per pixel.
  const x0 = new Int32Array(width);
  const x1 = new Int32Array(width);
  for (let x = 0; x < width; x++) {
    x0[x] = tx.i0[x] * 3;
    x1[x] = tx.i1[x] * 3;
  }
  // The same arithmetic, in the same order, as before (bit-identical floats): top/bottom rows, then the rows' mix.
  const sample = (r0: number, r1: number, a0: number, a1: number, wx: number, wy: number) => {
    const a = src[r0 + a0];
    const bb = src[r0 + a1];
    const cc = src[r1 + a0];
    const d = src[r1 + a1];
    const top = a + (bb - a) * wx;
    const bot = cc + (d - cc) * wx;
    return top + (bot - top) * wy;
  };
  for (let y = 0; y < height; y++) {
    const r0 = ty.i0[y] * W * 3;
    const r1 = ty.i1[y] * W * 3;
    const wy = ty.w[y];
    for (let x = 0; x < width; x++) {
      const o = base + (y * width + x) * ps;
      const a0 = x0[x];
      const a1 = x1[x];
      const wx = tx.w[x];
      out[o] = sample(r0, r1, a0, a1, wx, wy) * s0 - h0;
      out[o + cs] = sample(r0, r1, a0 + 1, a1 + 1, wx, wy) * s1 - h1;
      out[o + 2 * cs] = sample(r0, r1, a0 + 2, a1 + 2, wx, wy) * s2 - h2;
    }
  }
  return out;
}

function preprocessWindow(
  img: Image,
  height: number,
  width: number,
  norm: Normalization,
  layout: Layout,
  out: Float32Array,
  b: number,
  crop: Crop,
): Float32Array {
  const plane = height * width;
  const base = b * plane * 3;
  const { scale, shift } = normalizer(norm);
  const ty = windowTaps(crop.y, crop.h, height, img.height);
  const tx = windowTaps(crop.x, crop.w, width, img.width);
  const src = img.data;
  const W = img.width;
  for (let y = 0; y < height; y++) {
    const r0 = ty.i0[y] * W;
    const r1 = ty.i1[y] * W;
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      for (let c = 0; c < 3; c++) {
        const a = src[(r0 + tx.i0[x]) * 3 + c];
        const bb = src[(r0 + tx.i1[x]) * 3 + c];
        const cc = src[(r1 + tx.i0[x]) * 3 + c];
        const d = src[(r1 + tx.i1[x]) * 3 + c];
        const top = a + (bb - a) * tx.w[x];
        const v = top + (cc + (d - cc) * tx.w[x] - top) * ty.w[y];
        out[layout === 'nchw' ? base + c * plane + p : base + p * 3 + c] = v * scale[c] - shift[c];
      }
    }
  }
  return out;
}

/** Nearest-neighbour resampling of a label map (half-pixel centres), optionally of a window, into HxW. */
export function resizeLabels(
  labels: Uint8Array,
  srcW: number,
  srcH: number,
  height: number,
  width: number,
  crop?: Crop,
): Uint8Array {
  const c = crop ?? { x: 0, y: 0, w: srcW, h: srcH };
  if (!crop && srcW === width && srcH === height) return labels.slice();
  const out = new Uint8Array(height * width);
  const xs = new Int32Array(width);
  for (let x = 0; x < width; x++) xs[x] = Math.min(c.x + Math.floor(((x + 0.5) * c.w) / width), srcW - 1);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(c.y + Math.floor(((y + 0.5) * c.h) / height), srcH - 1);
    for (let x = 0; x < width; x++) out[y * width + x] = labels[sy * srcW + xs[x]];
  }
  return out;
}

/** Images -> normalised float array [N,3,H,W] or [N,H,W,3]. */
export function preprocess(
  images: Image[],
  height: number,
  width: number,
  norm: Normalization = IMAGENET,
  layout: Layout = 'nhwc',
): Float32Array {
  const out = new Float32Array(images.length * 3 * height * width);
  images.forEach((img, b) => {
    try {
      preprocessInto(img, height, width, norm, layout, out, b);
    } catch (e) {
      if (e instanceof TdsError)
        throw new TdsError(e.code, `image ${b}: ${e.message.replace(/ \(fix:.*$/, '')}`, e.fix);
      throw e;
    }
  });
  return out;
}
