// Rendering for people: the challenge colour mask, and an alpha-blended overlay of the frame with a small
// legend of the classes present (drawn as SVG and composited by sharp).
import sharp from 'sharp';
import type { Image } from '../types.js';

export { colorize, type Rgb } from '../colorize.js';
import type { Rgb } from '../colorize.js';

/** Frame with every non-background class tinted by its colour at `alpha` (background is left as it is). */
export function blend(frame: Image, labels: Uint8Array, colors: Rgb[], alpha = 0.5): Image {
  const data = Buffer.from(frame.data);
  const a = Math.max(0, Math.min(1, alpha));
  for (let i = 0; i < labels.length; i++) {
    const k = labels[i];
    if (k === 0) continue;
    const c = colors[k];
    if (!c) continue;
    for (let ch = 0; ch < 3; ch++) data[i * 3 + ch] = Math.round(data[i * 3 + ch] * (1 - a) + c[ch] * a);
  }
  return { data, width: frame.width, height: frame.height, channels: 3 };
}

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch]!);

/** SVG legend: a swatch and name per class, sized for the frame. */
export function legendSvg(
  entries: Array<{ name: string; color: Rgb }>,
  frameHeight: number,
): { svg: Buffer; width: number; height: number } {
  const fs = Math.max(10, Math.round(frameHeight / 40));
  const row = Math.round(fs * 1.4);
  const width = Math.round(fs * 0.62 * Math.max(4, ...entries.map((e) => e.name.length)) + fs * 2.5);
  const height = row * entries.length + fs;
  const rows = entries
    .map((e, i) => {
      const y = Math.round(fs / 2 + i * row);
      return `<rect x="${fs / 2}" y="${y}" width="${fs}" height="${fs}" fill="rgb(${e.color.join(',')})" stroke="white"/><text x="${fs * 2}" y="${y + fs * 0.85}" font-size="${fs}" fill="white" font-family="sans-serif">${esc(e.name)}</text>`;
    })
    .join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="black" fill-opacity="0.55"/>${rows}</svg>`;
  return { svg: Buffer.from(svg), width, height };
}

/** Overlay with a legend of `present` classes in the top-left corner; returns raw RGB. */
export async function renderOverlay(
  frame: Image,
  labels: Uint8Array,
  colors: Rgb[],
  names: string[],
  present: number[],
  alpha = 0.5,
): Promise<Image> {
  const base = blend(frame, labels, colors, alpha);
  const shown = present.filter((k) => k !== 0);
  if (!shown.length) return base;
  const lg = legendSvg(
    shown.map((k) => ({ name: names[k] ?? String(k), color: colors[k] })),
    frame.height,
  );
  if (lg.width > frame.width || lg.height > frame.height) return base;
  const data = await sharp(base.data, { raw: { width: base.width, height: base.height, channels: 3 } })
    .composite([{ input: lg.svg, left: 4, top: 4 }])
    .removeAlpha()
    .raw()
    .toBuffer();
  return { data, width: frame.width, height: frame.height, channels: 3 };
}
