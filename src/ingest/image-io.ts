// PNG/JPEG reading and atomic PNG writing through sharp.
import { rename, unlink } from 'node:fs/promises';
import { makeDirs, tempName } from '../fs-safe.js';
import { dirname } from 'node:path';
import sharp from 'sharp';
import { TdsError } from '../errors.js';
import type { Image } from '../types.js';
import { readBmp } from './fundus.js';

/** Reads an image as 8-bit RGB (alpha dropped, grey expanded). */
/** Frames larger than this (8K UHD is 33 Mpx) are refused before decoding rather than exhausting memory. */
export const MAX_IMAGE_PIXELS = 64 * 1024 * 1024;

export async function readRgb(path: string): Promise<Image> {
  if (/\.bmp$/i.test(path)) return toRgb(readBmp(path));
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    meta = await sharp(path).metadata();
  } catch (e) {
    throw readError(path, e);
  }
  if ((meta.width ?? 0) * (meta.height ?? 0) > MAX_IMAGE_PIXELS)
    throw new TdsError(
      'BAD_IMAGE',
      `${path} is ${meta.width}x${meta.height} (${Math.round(((meta.width ?? 0) * (meta.height ?? 0)) / 1e6)} Mpx), larger than the ${MAX_IMAGE_PIXELS / 1024 / 1024} Mpx tds reads`,
      'downscale it (endoscope frames are at most 4K)',
    );
  try {
    const { data, info } = await sharp(path)
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    // Grey input: sharp may keep 1 channel despite toColourspace; expand.
    return toRgb({ data, width: info.width, height: info.height, channels: info.channels });
  } catch (e) {
    throw readError(path, e);
  }
}

function toRgb(img: Image): Image {
  if (img.channels === 3) return img;
  const out = Buffer.alloc(img.width * img.height * 3);
  for (let i = 0; i < img.width * img.height; i++)
    out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = img.data[i * img.channels];
  return { data: out, width: img.width, height: img.height, channels: 3 };
}

/** Reads an image keeping its stored channels (1 for grey/index PNGs, 3 for RGB), alpha dropped. */
export async function readRaw(path: string): Promise<Image> {
  // sharp (libvips) has no BMP decoder; REFUGE's masks are BMP.
  if (/\.bmp$/i.test(path)) return readBmp(path);
  try {
    const meta = await sharp(path).metadata();
    // removeAlpha() on a 1-channel image would expand it to sRGB; only strip alpha where there is one.
    let img = meta.hasAlpha ? sharp(path).removeAlpha() : sharp(path);
    if ((meta.channels ?? 3) - (meta.hasAlpha ? 1 : 0) === 1) img = img.toColourspace('b-w');
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: info.channels };
  } catch (e) {
    throw readError(path, e);
  }
}

function readError(path: string, e: unknown): TdsError {
  const msg = (e as Error).message ?? String(e);
  if (/missing|no such file/i.test(msg))
    return new TdsError('ENOENT_INPUT', `image not found: ${path}`, 'check the path');
  return new TdsError('BAD_IMAGE', `cannot read image ${path}: ${msg}`, 'give a PNG or JPEG file');
}

/** Temp name beside the target, so the final rename is atomic on the same filesystem (src/fs-safe.ts). */
export { tempName };

/**
 * Writes an Image as PNG atomically (temp file, then rename). 1 channel = grey/index PNG. `compressionLevel`
 * trades size for speed (zlib 0..9, default 6); label maps compress well even at 1.
 */
export async function writePng(path: string, img: Image, compressionLevel = 6): Promise<void> {
  makeDirs(dirname(path));
  const tmp = tempName(path);
  try {
    const src = sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 1 | 3 | 4 } });
    // Index masks must stay 1-channel PNGs; sharp would otherwise write them as sRGB.
    await (img.channels === 1 ? src.toColourspace('b-w') : src).png({ compressionLevel }).toFile(tmp);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    if (e instanceof TdsError) throw e;
    if (/ENOSPC|no space left/i.test((e as Error).message))
      throw new TdsError(
        'BAD_OUTPUT',
        `no space left to write ${path}`,
        'free disk space, or write to another disk; outputs written before this one are complete',
      );
    throw new TdsError(
      'BAD_OUTPUT',
      `cannot write ${path}: ${(e as Error).message}`,
      'check that the folder is writable and the disk has space',
    );
  }
}
