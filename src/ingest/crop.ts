// Crops interleaved images and label maps (e.g. EndoVis17's 1920x1080 frames to the official 1280x1024 at 320,28).
import { TdsError } from '../errors.js';
import type { Image } from '../types.js';

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export function parseCrop(s: string): Rect {
  const p = s.split(',').map((v) => Number(v.trim()));
  if (p.length !== 4 || p.some((v) => !Number.isInteger(v) || v < 0) || p[2] === 0 || p[3] === 0) {
    throw new TdsError(
      'BAD_OPTION',
      `--crop must be x,y,w,h as non-negative integers with w,h > 0, got ${JSON.stringify(s)}`,
      'e.g. --crop 320,28,1280,1024',
    );
  }
  return { x: p[0], y: p[1], w: p[2], h: p[3] };
}

export function assertCropFits(r: Rect, width: number, height: number, source: string): void {
  if (r.x + r.w > width || r.y + r.h > height) {
    throw new TdsError(
      'BAD_OPTION',
      `--crop ${r.x},${r.y},${r.w},${r.h} does not fit ${source} (${width}x${height})`,
      'choose a crop inside the frame',
    );
  }
}

export function cropImage(img: Image, r: Rect): Image {
  const ch = img.channels;
  const out = Buffer.alloc(r.w * r.h * ch);
  for (let y = 0; y < r.h; y++) {
    const src = ((r.y + y) * img.width + r.x) * ch;
    img.data.copy(out, y * r.w * ch, src, src + r.w * ch);
  }
  return { data: out, width: r.w, height: r.h, channels: ch };
}

export function cropLabels(labels: Uint8Array, width: number, r: Rect): Uint8Array {
  const out = new Uint8Array(r.w * r.h);
  for (let y = 0; y < r.h; y++)
    out.set(labels.subarray((r.y + y) * width + r.x, (r.y + y) * width + r.x + r.w), y * r.w);
  return out;
}
