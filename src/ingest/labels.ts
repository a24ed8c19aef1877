// Label conversion both ways: colour or grey label images <-> class-index maps. Unknown values are
// mapped to background (0) and counted, never silently.
import { colorize } from '../colorize.js';
import { TdsError } from '../errors.js';
import type { Image } from '../types.js';
import type { Palette } from './palette.js';

export interface IndexResult {
  /** Class index per pixel, row-major. */
  labels: Uint8Array;
  width: number;
  height: number;
  unknownPixels: number;
  /** Unknown colour ("r,g,b" or grey "v") -> pixel count. */
  unknownValues: Map<string, number>;
}

/** Converts a colour (RGB) or grey label image to class indices, by the palette's label format. */
export function labelToIndex(img: Image, palette: Palette, source = 'label'): IndexResult {
  const n = img.width * img.height;
  const labels = new Uint8Array(n);
  const unknownValues = new Map<string, number>();
  let unknownPixels = 0;
  const ch = img.channels;
  if (palette.labels.format === 'grey') {
    const lut = new Int16Array(256).fill(-1);
    for (const c of palette.classes) lut[c.value!] = c.id;
    for (let i = 0; i < n; i++) {
      const v = img.data[i * ch];
      const id = lut[v];
      if (id >= 0) labels[i] = id;
      else {
        unknownPixels++;
        unknownValues.set(String(v), (unknownValues.get(String(v)) ?? 0) + 1);
      }
    }
  } else {
    if (ch < 3)
      throw new TdsError(
        'BAD_LABEL',
        `${source} has ${ch} channel(s) but ${palette.dataset} labels are colour`,
        'give the RGB colour label PNGs, or a grey-format palette',
      );
    const map = new Map<number, number>();
    for (const c of palette.classes) map.set((c.color[0] << 16) | (c.color[1] << 8) | c.color[2], c.id);
    let lastKey = -1;
    let lastId = 0;
    for (let i = 0; i < n; i++) {
      const o = i * ch;
      const key = (img.data[o] << 16) | (img.data[o + 1] << 8) | img.data[o + 2];
      if (key !== lastKey) {
        lastKey = key;
        lastId = map.get(key) ?? -1;
      }
      if (lastId >= 0) labels[i] = lastId;
      else {
        unknownPixels++;
        const s = `${img.data[o]},${img.data[o + 1]},${img.data[o + 2]}`;
        unknownValues.set(s, (unknownValues.get(s) ?? 0) + 1);
      }
    }
  }
  return { labels, width: img.width, height: img.height, unknownPixels, unknownValues };
}

/** Renders class indices in the palette's colours (RGB), e.g. the challenge colour PNG. */
export function indexToColor(labels: Uint8Array, width: number, height: number, palette: Palette): Image {
  return colorize(
    labels,
    width,
    height,
    palette.classes.map((c) => c.color),
  );
}

/** Renders class indices as the palette's grey values (grey-format datasets). */
export function indexToGrey(labels: Uint8Array, width: number, height: number, palette: Palette): Image {
  const vals = palette.classes.map((c) => c.value ?? c.id);
  const data = Buffer.alloc(width * height);
  for (let i = 0; i < labels.length; i++) data[i] = vals[labels[i]];
  return { data, width, height, channels: 1 };
}

/** Summarises unknown values as "r,g,b x N; ..." (largest first), for reports. */
export function describeUnknown(m: Map<string, number>, limit = 5): string {
  return [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([k, v]) => `(${k}) x ${v}`)
    .join(', ');
}
