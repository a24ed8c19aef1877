// Reads a label PNG of any accepted kind as class indices: colour (the palette's colours), grey values
// (grey-format palettes, e.g. EndoVis17 0/10/20/30) or 8-bit class index. The kind is detected from the
// pixel values against the palette; anything else is an error naming the file and the values.
import { TdsError } from '../errors.js';
import { readLabelImage } from '../ingest/label-file.js';
import { labelToIndex, describeUnknown } from '../ingest/labels.js';
import type { Palette } from '../ingest/palette.js';

export type LabelKind = 'color' | 'grey' | 'index';

export interface ReadLabels {
  labels: Uint8Array;
  width: number;
  height: number;
  kind: LabelKind;
}

export async function readAnyLabel(path: string, palette: Palette): Promise<ReadLabels> {
  const img = await readLabelImage(path);
  const n = img.width * img.height;
  const ch = img.channels;
  let greyish = true;
  if (ch >= 3) {
    for (let i = 0; i < n && greyish; i++) {
      const o = i * ch;
      if (img.data[o] !== img.data[o + 1] || img.data[o] !== img.data[o + 2]) greyish = false;
    }
  }
  const C = palette.classes.length;
  if (ch >= 3 && !greyish && palette.labels.format === 'color') {
    const r = labelToIndex(img, palette, path);
    if (r.unknownPixels)
      throw new TdsError(
        'BAD_LABEL',
        `${path}: colours not in the ${palette.dataset} palette: ${describeUnknown(r.unknownValues)}`,
        "give masks in the palette's colours, grey values or class indices",
      );
    return { labels: r.labels, width: img.width, height: img.height, kind: 'color' };
  }
  const values = new Set<number>();
  for (let i = 0; i < n; i++) values.add(img.data[i * ch]);
  const greyValues = new Set(palette.classes.map((c) => c.value).filter((v): v is number => v !== undefined));
  const vals = [...values];
  if (palette.labels.format === 'grey' && vals.every((v) => greyValues.has(v)) && vals.some((v) => v >= C)) {
    const r = labelToIndex({ ...img, channels: ch }, palette, path);
    return { labels: r.labels, width: img.width, height: img.height, kind: 'grey' };
  }
  if (vals.every((v) => v < C)) {
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) labels[i] = img.data[i * ch];
    return { labels, width: img.width, height: img.height, kind: 'index' };
  }
  if (palette.labels.format === 'grey' && vals.every((v) => greyValues.has(v))) {
    return {
      labels: labelToIndex({ ...img, channels: ch }, palette, path).labels,
      width: img.width,
      height: img.height,
      kind: 'grey',
    };
  }
  // Black-and-white colour masks of a colour palette (e.g. only background) land here too.
  if (ch >= 3 && palette.labels.format === 'color') {
    const r = labelToIndex(img, palette, path);
    if (!r.unknownPixels) return { labels: r.labels, width: img.width, height: img.height, kind: 'color' };
  }
  const bad = vals.filter((v) => v >= C && !greyValues.has(v)).slice(0, 5);
  throw new TdsError(
    'BAD_LABEL',
    `${path}: values ${bad.join(', ')} are neither class indices (0..${C - 1}) nor ${palette.dataset} ${palette.labels.format === 'grey' ? 'grey values' : 'colours'}`,
    "give masks in the palette's colours, grey values or class indices",
  );
}
