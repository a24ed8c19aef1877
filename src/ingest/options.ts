// Decode options shared by probe, decode and the CLI: frame rate selection, stereo packing, live inputs.
import { existsSync, statSync } from 'node:fs';
import { TdsError } from '../errors.js';

/** `1hz` = one frame per second of media time; `native` = every frame; a number = that many fps. */
export type Rate = '1hz' | 'native' | number;
/** How a stereo pair arrives: `none` (mono), `sbs` (side-by-side), `tb` (top-bottom). A second file is `right`. */
export type StereoPacking = 'none' | 'sbs' | 'tb';

export function parseRate(value: string | number | undefined): Rate {
  if (value === undefined) return 'native';
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value > 0 && value <= MAX_RATE) return value;
  } else {
    const v = value.trim().toLowerCase();
    if (v === '1hz' || v === 'native') return v;
    const n = Number(v.replace(/fps$/, ''));
    if (v !== '' && Number.isFinite(n) && n > 0 && n <= MAX_RATE) return n;
  }
  throw new TdsError(
    'BAD_RATE',
    `unknown --rate value ${JSON.stringify(value)}`,
    `use 1hz, native, or a number of frames per second from above 0 up to ${MAX_RATE}, such as 5`,
  );
}

/** Frames per second above this are no video any endoscope records (and would flood the disk with copies). */
export const MAX_RATE = 1000;

/** A fixed rate must not exceed the source's own: sampling faster only repeats frames. */
export function assertRateFits(rate: Rate, sourceFps: number | undefined, input: string): void {
  if (typeof rate !== 'number' || !sourceFps) return;
  if (rate > sourceFps + 1e-6)
    throw new TdsError(
      'BAD_RATE',
      `--rate ${rate} is above ${input}'s own ${Math.round(sourceFps * 1000) / 1000} fps: sampling faster would only repeat frames`,
      `use --rate native for every frame, or a rate up to ${Math.round(sourceFps * 1000) / 1000}`,
    );
}

/** `--right` and `--stereo sbs|tb` both say where the right view is; only one can be meant. */
export function assertStereoOptions(o: { stereo?: StereoPacking; right?: string }): void {
  if (o.right && o.stereo && o.stereo !== 'none')
    throw new TdsError(
      'BAD_STEREO',
      `--right ${o.right} and --stereo ${o.stereo} both give the right view`,
      'use --right FILE for a second recording, or --stereo sbs|tb for a packed one, not both',
    );
}

export function parseStereo(value: string | undefined): StereoPacking {
  if (value === undefined) return 'none';
  if (value === 'none' || value === 'sbs' || value === 'tb') return value;
  throw new TdsError(
    'BAD_OPTION',
    `unknown --stereo value ${JSON.stringify(value)}`,
    'use none, sbs (side-by-side) or tb (top-bottom); give a second file with --right',
  );
}

/** URLs, devices and stdin are handed to ffmpeg as they are; everything else must be an existing file. */
export function isLiveInput(input: string): boolean {
  return input === '-' || /^[a-z][a-z0-9+.-]*:\/\//i.test(input) || input.startsWith('/dev/');
}

export function assertInputFile(path: string, what = 'input'): void {
  if (isLiveInput(path)) return;
  if (!existsSync(path)) {
    throw new TdsError(
      'ENOENT_INPUT',
      `${what} not found: ${path}`,
      'check the path, or give a URL (rtsp://, udp://), a device (/dev/video0) or - for stdin',
    );
  }
  if (statSync(path).isDirectory()) {
    throw new TdsError(
      'NOT_VIDEO',
      `${what} is a folder, not a video: ${path}`,
      'give a video file, or use a frame-folder command',
    );
  }
}
