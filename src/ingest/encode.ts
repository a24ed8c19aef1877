// Encodes RGB frames to an H.264 mp4 through an ffmpeg child process, written atomically.
import { spawn } from 'node:child_process';
import { rename, unlink } from 'node:fs/promises';
import { makeDirs } from '../fs-safe.js';
import { dirname } from 'node:path';
import { once } from 'node:events';
import { ffmpegPath } from './binaries.js';
import { TdsError } from '../errors.js';
import type { Image } from '../types.js';
import { tempName } from './image-io.js';

export interface EncodeOptions {
  fps: number;
  /** x264 constant rate factor; 18 is visually lossless for endoscope video. */
  crf?: number;
}

/** Writes `frames` (all the same size, even width/height) to `path` as H.264 yuv420p mp4. */
export async function encodeVideo(
  path: string,
  frames: AsyncIterable<Image> | Iterable<Image>,
  opts: EncodeOptions,
): Promise<number> {
  makeDirs(dirname(path));
  const tmp = tempName(path) + '.mp4';
  let proc: ReturnType<typeof spawn> | undefined;
  let count = 0;
  let stderr = '';
  try {
    for await (const img of frames as AsyncIterable<Image>) {
      if (!proc) {
        if (img.width % 2 || img.height % 2)
          throw new TdsError(
            'BAD_OPTION',
            `cannot encode ${img.width}x${img.height} to H.264 yuv420p: width and height must be even`,
            'use an even frame size',
          );
        proc = spawn(
          ffmpegPath(),
          [
            '-hide_banner',
            '-loglevel',
            'error',
            '-y',
            '-f',
            'rawvideo',
            '-pix_fmt',
            'rgb24',
            '-s',
            `${img.width}x${img.height}`,
            '-r',
            String(opts.fps),
            '-i',
            'pipe:0',
            '-c:v',
            'libx264',
            '-preset',
            'veryfast',
            '-crf',
            String(opts.crf ?? 18),
            '-pix_fmt',
            'yuv420p',
            '-movflags',
            '+faststart',
            '-f',
            'mp4',
            tmp,
          ],
          { stdio: ['pipe', 'ignore', 'pipe'] },
        );
        proc.stderr!.on('data', (d) => (stderr += d));
        proc.stdin!.on('error', () => {});
      }
      if (!proc.stdin!.write(img.data)) await once(proc.stdin!, 'drain');
      count++;
    }
    if (!proc) throw new TdsError('BAD_OPTION', `no frames to encode into ${path}`, 'give at least one frame');
    proc.stdin!.end();
    const [code] = (await once(proc, 'close')) as [number | null];
    if (code !== 0)
      throw new TdsError(
        'FFMPEG_FAILED',
        `ffmpeg could not encode ${path}: ${stderr.trim().split('\n').pop()}`,
        'check disk space and FFMPEG_PATH',
      );
    await rename(tmp, path);
    return count;
  } catch (e) {
    proc?.kill('SIGKILL');
    await unlink(tmp).catch(() => {});
    throw e;
  }
}
