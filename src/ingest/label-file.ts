// Reads one label file (colour, grey or prepared index PNG) as class indices, checked against its frame.
import { TdsError } from '../errors.js';
import { readRaw } from './image-io.js';
import { labelToIndex, describeUnknown, type IndexResult } from './labels.js';
import type { Palette } from './palette.js';
import type { Image } from '../types.js';
import { drishtiCupPath, drishtiToRefuge, isDrishtiLabel } from './fundus.js';

/** A label file's pixels; a Drishti-GS1 disc soft map is read with its cup soft map, in REFUGE's encoding. */
export async function readLabelImage(path: string): Promise<Image> {
  if (!isDrishtiLabel(path)) return readRaw(path);
  const cup = drishtiCupPath(path);
  return drishtiToRefuge(await readRaw(path), await readRaw(cup), path);
}

export interface LabelCheck {
  /** The frame this label belongs to, for the size check and messages. */
  frame?: { path: string; width: number; height: number };
}

/** Reads a raw dataset label (colour or grey per the palette) and converts it; size must match its frame. */
export async function readLabel(path: string, palette: Palette, check: LabelCheck = {}): Promise<IndexResult> {
  const img = await readLabelImage(path);
  assertSize(path, img.width, img.height, check);
  const r = labelToIndex(img, palette, path);
  const frac = r.unknownPixels / (img.width * img.height);
  if (frac > palette.labels.maxUnknownFraction) {
    throw new TdsError(
      'BAD_LABEL',
      `${path}: ${(frac * 100).toFixed(2)}% of pixels have colours not in the ${palette.dataset} palette: ${describeUnknown(r.unknownValues)}`,
      `check that the config matches the dataset, or raise labels.maxUnknownFraction (now ${palette.labels.maxUnknownFraction})`,
    );
  }
  return r;
}

/** Reads a prepared 8-bit class-index mask. Values must be below the number of classes. */
export async function readIndexMask(path: string, numClasses: number, check: LabelCheck = {}): Promise<Uint8Array> {
  const img = await readRaw(path);
  assertSize(path, img.width, img.height, check);
  const n = img.width * img.height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = img.data[i * img.channels];
    if (v >= numClasses) {
      throw new TdsError(
        'BAD_LABEL',
        `${path}: pixel ${i % img.width},${Math.floor(i / img.width)} has class ${v}, but the palette has ${numClasses} classes`,
        'prepare masks with the same config you train with',
      );
    }
    out[i] = v;
  }
  return out;
}

function assertSize(path: string, w: number, h: number, check: LabelCheck): void {
  const f = check.frame;
  if (f && (f.width !== w || f.height !== h)) {
    throw new TdsError(
      'BAD_LABEL',
      `label ${path} is ${w}x${h} but its frame ${f.path} is ${f.width}x${f.height}`,
      "give the label that belongs to this frame, at the frame's size",
    );
  }
}
