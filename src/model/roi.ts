// Two-stage inference around a region (fundus: the usual locate-then-crop of optic disc segmentation): the first
// pass labels the whole image at the model's size, where a small structure is a few dozen pixels; the largest
// connected region of the chosen classes gives a square crop `scale` x its size, which the second pass segments
// at the same input size, i.e. at several times the resolution. The result is the crop's largest region of those
// classes; everything else is background (class 0): there is one such structure per image (one optic disc), and
// stray regions elsewhere ruin measures taken from its extent (on two Drishti-GS1 folds the vertical cup-to-disc
// ratio's error was 0.11-0.18 with them, 0.07-0.08 without). Training sees both views (src/train/augment.ts `roi`).
import type { ProbMap } from '../types.js';
import { argmaxLabels } from '../postprocess/argmax.js';
import { connectedComponents } from '../postprocess/small-regions.js';
import { resizeProbs } from '../postprocess/resize.js';
import type { Rect } from '../ingest/crop.js';

export interface RoiOptions {
  /** Classes whose region is cropped (fundus: disc rim and cup, ids 1 and 2). */
  classes: number[];
  /** Crop side over the region's larger side (the training crops' range must cover it). */
  scale: number;
}

/** The largest connected region of `classes` in `m`'s argmax: its component id (-1 when there is none), with the
 * region mask and the component map it was found in. */
function largestRegion(m: ProbMap, classes: number[]): { mask: Uint8Array; comp: Int32Array; best: number } {
  const labels = argmaxLabels(m.probs, m.numClasses);
  const want = new Uint8Array(256);
  for (const c of classes) want[c] = 1;
  const mask = labels.map((v) => want[v]);
  const { comp, count } = connectedComponents(mask, m.width, m.height);
  // The component ids cover the background runs too: count region pixels only.
  const size = new Float64Array(count);
  for (let i = 0; i < comp.length; i++) if (mask[i]) size[comp[i]]++;
  let best = -1;
  for (let k = 0; k < count; k++) if (size[k] && (best < 0 || size[k] > size[best])) best = k;
  return { mask, comp, best };
}

/** The square crop (inside the image) around the largest region of `classes` in `m`, in image pixels;
 * undefined when the first pass found none. */
export function roiRect(m: ProbMap, width: number, height: number, o: RoiOptions): Rect | undefined {
  const { mask, comp, best } = largestRegion(m, o.classes);
  if (best < 0) return undefined;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -1;
  let y1 = -1;
  for (let i = 0; i < comp.length; i++) {
    if (comp[i] !== best || !mask[i]) continue;
    const x = i % m.width;
    const y = (i - x) / m.width;
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  // Map-pixel bounds to image pixels (edges, not centres).
  const sx = width / m.width;
  const sy = height / m.height;
  const bw = (x1 + 1 - x0) * sx;
  const bh = (y1 + 1 - y0) * sy;
  const side = Math.round(Math.min(Math.min(width, height), Math.max(32, Math.max(bw, bh) * o.scale)));
  const cx = ((x0 + x1 + 1) / 2) * sx;
  const cy = ((y0 + y1 + 1) / 2) * sy;
  const x = Math.round(Math.min(Math.max(cx - side / 2, 0), width - side));
  const y = Math.round(Math.min(Math.max(cy - side / 2, 0), height - side));
  return { x, y, w: side, h: side };
}

/** `m` with only the largest connected region of `classes` kept; their other regions become background (0). */
export function keepLargestRegion(m: ProbMap, classes: number[]): ProbMap {
  const { mask, comp, best } = largestRegion(m, classes);
  const probs = m.probs.slice();
  const C = m.numClasses;
  for (let i = 0; i < comp.length; i++) {
    if (!mask[i] || comp[i] === best) continue;
    probs.fill(0, i * C, (i + 1) * C);
    probs[i * C] = 1;
  }
  return { ...m, probs };
}

/** The image-size map of a two-stage result: the crop pass's probabilities inside `r`, background elsewhere. */
export function pasteRoi(second: ProbMap, r: Rect, width: number, height: number): ProbMap {
  const C = second.numClasses;
  const probs = new Float32Array(width * height * C);
  for (let i = 0; i < width * height; i++) probs[i * C] = 1;
  const crop = resizeProbs(second, r.w, r.h);
  for (let y = 0; y < r.h; y++)
    probs.set(crop.probs.subarray(y * r.w * C, (y + 1) * r.w * C), ((r.y + y) * width + r.x) * C);
  return { probs, width, height, numClasses: C };
}
