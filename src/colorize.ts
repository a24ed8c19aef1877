// Class indices to colours: the one colouriser of dataset label PNGs (ingest) and of output colour masks
// (postprocess). An index outside the colours is an error (a model/palette mismatch), never a silent colour.
import { TdsError } from './errors.js';
import type { Image } from './types.js';

export type Rgb = [number, number, number];

/** Class indices -> RGB in the given colours (e.g. the challenge palette). */
export function colorize(
  labels: Uint8Array,
  width: number,
  height: number,
  colors: readonly Rgb[] | readonly number[][],
): Image {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < labels.length; i++) {
    const c = colors[labels[i]];
    if (!c)
      throw new TdsError(
        'BAD_LABEL',
        `class index ${labels[i]} at pixel ${i} has no colour (the palette has ${colors.length} classes, 0..${colors.length - 1})`,
        'use a palette that matches the model',
      );
    data[i * 3] = c[0];
    data[i * 3 + 1] = c[1];
    data[i * 3 + 2] = c[2];
  }
  return { data, width, height, channels: 3 };
}
