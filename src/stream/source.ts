// Opens any input as one stream of frames: a video file, URL or device (ffmpeg), a frame folder (ROBOT18
// seq_N, EndoVis17 or plain), a single image, or `synth` (a generated live surgical scene).
import { existsSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { TdsError } from '../errors.js';
import type { Frame } from '../types.js';
import { openDecoder, type DecodeOptions } from '../ingest/decode.js';
import { folderFrames, stem } from '../ingest/folders.js';
import { readRgb } from '../ingest/image-io.js';
import { assertRateFits, isLiveInput } from '../ingest/options.js';
import { probeVideo } from '../ingest/probe.js';
import { synthLive, type SynthLiveOptions } from './synth-live.js';

export type SourceKind = 'video' | 'live' | 'folder' | 'image' | 'synth';

export interface FrameSource {
  kind: SourceKind;
  frames: AsyncIterable<Frame>;
  /** Frames per second of the media (video), when known. */
  fps?: number;
  /** Number of frames expected (files and folders), when known. */
  total?: number;
  close(): void;
}

export interface SourceOptions extends DecodeOptions {
  /** Options of the `synth` source. */
  synth?: Partial<SynthLiveOptions>;
  /** Frame folders: only these sequences (folder names such as `seq_3` or `OP2`); default all. */
  sequences?: string[];
}

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff']);

export async function openSource(input: string, o: SourceOptions = {}): Promise<FrameSource> {
  if (input === 'synth') {
    const s = synthLive({ fps: typeof o.rate === 'number' ? o.rate : 25, realtime: o.realtime ?? true, ...o.synth });
    return { kind: 'synth', frames: s.frames, fps: s.fps, close: s.close };
  }
  if (!isLiveInput(input) && existsSync(input) && statSync(input).isDirectory()) {
    const { scanFolder } = await import('../ingest/folders.js');
    const ds = scanFolder(input);
    const missing = (o.sequences ?? []).filter((n) => !ds.sequences.some((s) => s.name === n));
    if (missing.length)
      throw new TdsError(
        'BAD_OPTION',
        `${input} has no sequence ${missing.join(', ')} (it has ${ds.sequences.map((s) => s.name).join(', ')})`,
        'name sequences by their folder names',
      );
    const total = ds.sequences
      .filter((s) => !o.sequences || o.sequences.includes(s.name))
      .reduce((n, s) => n + s.frames.length, 0);
    let closed = false;
    return {
      kind: 'folder',
      total,
      fps: 1,
      frames: {
        async *[Symbol.asyncIterator]() {
          for await (const f of folderFrames(input, { sequences: o.sequences })) {
            if (closed) return;
            yield f;
          }
        },
      },
      close: () => (closed = true),
    };
  }
  if (!isLiveInput(input) && IMAGE_EXT.has(extname(input).toLowerCase())) {
    if (!existsSync(input)) throw new TdsError('ENOENT_INPUT', `input not found: ${input}`, 'check the path');
    return {
      kind: 'image',
      total: 1,
      frames: {
        async *[Symbol.asyncIterator]() {
          yield { index: 0, ptsMs: 0, left: await readRgb(input), name: stem(input) };
        },
      },
      close: () => {},
    };
  }
  const live = isLiveInput(input);
  const probe = live ? undefined : await probeVideo(input, { stereo: o.stereo, right: o.right });
  if (probe) assertRateFits(o.rate ?? 'native', probe.fps, input);
  const dec = openDecoder(input, o);
  const rate = o.rate ?? 'native';
  const fps = probe
    ? rate === 'native'
      ? probe.fps
      : rate === '1hz'
        ? 1
        : rate
    : typeof rate === 'number'
      ? rate
      : undefined;
  let total = probe
    ? rate === 'native'
      ? probe.frames
      : Math.ceil((probe.durationMs / 1000) * (fps ?? 1))
    : undefined;
  // A time range of the file (a tds queue chunk): about its share of the frames, for progress only.
  if (probe && (o.from || o.until !== undefined)) {
    const end = Math.min(o.until ?? Infinity, probe.durationMs / 1000);
    total = Math.max(0, Math.round((end - (o.from ?? 0)) * (fps ?? 0)));
  }
  return { kind: live ? 'live' : 'video', frames: dec.frames, fps, total, close: dec.close };
}
