// Detached-region removal: a rigid laparoscopic instrument enters the abdomen through a trocar, so in the
// endoscope's view it always reaches the edge of the field of view. A foreground region that reaches neither the
// frame's border nor the dark surround outside the endoscope's circle is, on real frames, almost always a
// specular highlight or a glint on wet tissue called instrument. Measured on EndoVis 2015 (leave-one-surgery-out,
// in4 + tools-tip at 224x288): binary IoU 0.745 -> 0.764, class IoU 0.503 -> 0.513, every fold better, and flat
// over dark 24..48 and reach 4..58 px at 640x480 (0.758..0.766; README "Detached regions").
//
// The edge of the view is the frame's border plus the near-black pixels 4-connected to it (the surround outside
// the circle of a scope, or the black frame strip some recorders add: EndoVis OP1 has 3-7 px of it), widened by
// `reach` so that a shaft fading into the dark strip still counts. Regions (8-connected, all foreground classes
// together, so that a tip joined to its shaft goes with it) of at least `keepArea` of the frame are kept wherever
// they are: a large instrument whose shaft is hidden behind tissue. Linear time: the dark pixels' runs, a
// summed-area table of the edge (a run's widened rectangle is four reads) and the run-based components of
// small-region removal (8 ms at 1280x1024, `tds bench` post.remove-detached).
import type { Image } from '../types.js';
import { find, labelRuns } from './small-regions.js';

export interface DetachedOptions {
  /** A pixel is out of view when every channel is below this (0-255) and it is 4-connected to the border. */
  dark: number;
  /** A region reaches the edge when it comes within this fraction of the frame's shorter side of it. */
  reach: number;
  /** Regions of at least this fraction of the frame's pixels are kept wherever they are. */
  keepArea: number;
}

/**
 * The defaults measured on EndoVis 2015 (see the header). Cross-validation is flat in reach from 0.02 to 0.12
 * (binary 0.764..0.762); 0.05 is for the real clip (endo.mp4): where the scope's circle meets the frame's edge
 * a grasper's thin shaft is often missed and its jaws lie 20-40 px inside the edge, which 0.02 removed.
 */
export const DETACHED_DEFAULTS: DetachedOptions = { dark: 32, reach: 0.05, keepArea: 0.05 };

/** The edge of the view: the border and the dark surround 4-connected to it (1 in the returned mask). */
export function viewEdge(image: Image, dark: number): Uint8Array {
  const { width, height, channels: ch, data } = image;
  const n = width * height;
  const zone = new Uint8Array(n);
  if (dark > 0) {
    // The dark pixels' 4-connected runs (those of small-region removal); the ones joined to a run that touches
    // the border are the surround. Run-based, so a scope's black third costs a few runs per row, not a flood.
    const isDark = new Uint8Array(n);
    if (ch === 3)
      for (let p = 0, o = 0; p < n; p++, o += 3)
        isDark[p] = +(data[o] < dark && data[o + 1] < dark && data[o + 2] < dark);
    else
      for (let p = 0, o = 0; p < n; p++, o += ch) {
        let d = 1;
        for (let k = 0; k < ch; k++) if (data[o + k] >= dark) d = 0;
        isDark[p] = d;
      }
    const runs = labelRuns(isDark, width, height, 4);
    const outer = new Uint8Array(runs.count);
    for (let i = 0; i < runs.count; i++) {
      const y = runs.row[i];
      const x0 = runs.start[i] - y * width;
      const x1 = runs.end[i] - y * width;
      if (isDark[runs.start[i]] && (y === 0 || y === height - 1 || x0 === 0 || x1 === width))
        outer[find(runs.parent, i)] = 1;
    }
    for (let i = 0; i < runs.count; i++)
      if (isDark[runs.start[i]] && outer[find(runs.parent, i)]) zone.fill(1, runs.start[i], runs.end[i]);
  }
  zone.fill(1, 0, width);
  zone.fill(1, n - width, n);
  for (let y = 0; y < height; y++) {
    zone[y * width] = 1;
    zone[y * width + width - 1] = 1;
  }
  return zone;
}

/** Summed-area table of a mask: (width+1) x (height+1), so any rectangle's count is four reads. */
function summedArea(mask: Uint8Array, width: number, height: number): Int32Array {
  const W1 = width + 1;
  const t = new Int32Array(W1 * (height + 1));
  for (let y = 0; y < height; y++) {
    let row = 0;
    const o = y * width;
    const a = y * W1;
    const b = a + W1;
    for (let x = 0; x < width; x++) {
      row += mask[o + x];
      t[b + x + 1] = t[a + x + 1] + row;
    }
  }
  return t;
}

/**
 * Sets to background (0) every foreground region of `labels` (width x height, the image's size) that does not
 * reach the edge of the view and is smaller than `keepArea` of the frame. Edits `labels` in place and returns it.
 * Regions are the runs of small-region removal joined across rows (src/postprocess/small-regions.ts).
 */
export function removeDetached(labels: Uint8Array, image: Image, o: DetachedOptions = DETACHED_DEFAULTS): Uint8Array {
  const { width, height } = image;
  if (labels.length !== width * height)
    throw new Error(`removeDetached: ${labels.length} labels for a ${width}x${height} image`);
  if (!(o.dark >= 0 && o.reach >= 0 && o.keepArea >= 0))
    throw new Error(`removeDetached: dark, reach and keepArea must be non-negative, got ${JSON.stringify(o)}`);
  const fg = new Uint8Array(labels.length);
  let any = false;
  for (let p = 0; p < labels.length; p++)
    if (labels[p]) {
      fg[p] = 1;
      any = true;
    }
  if (!any) return labels;
  // A run touches the widened edge when the rectangle it spans, grown by r, holds an edge pixel.
  const r = Math.round(o.reach * Math.min(width, height));
  const sat = summedArea(viewEdge(image, o.dark), width, height);
  const W1 = width + 1;
  const runs = labelRuns(fg, width, height, 8);
  const touches = new Uint8Array(runs.count);
  const area = new Float64Array(runs.count);
  for (let i = 0; i < runs.count; i++) {
    if (!fg[runs.start[i]]) continue;
    const root = find(runs.parent, i);
    area[root] += runs.end[i] - runs.start[i];
    if (touches[root]) continue;
    const y = runs.row[i];
    const x0 = Math.max(0, runs.start[i] - y * width - r);
    const x1 = Math.min(width, runs.end[i] - y * width + r);
    const y0 = Math.max(0, y - r) * W1;
    const y1 = Math.min(height, y + r + 1) * W1;
    if (sat[y1 + x1] - sat[y0 + x1] - sat[y1 + x0] + sat[y0 + x0] > 0) touches[root] = 1;
  }
  const keep = o.keepArea * labels.length;
  for (let i = 0; i < runs.count; i++) {
    if (!fg[runs.start[i]]) continue;
    const root = find(runs.parent, i);
    if (!touches[root] && area[root] < keep) labels.fill(0, runs.start[i], runs.end[i]);
  }
  return labels;
}
