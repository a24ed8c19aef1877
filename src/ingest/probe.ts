// Reads a video's geometry and timing with ffprobe (through fluent-ffmpeg), per view for stereo input.
import ffmpeg from 'fluent-ffmpeg';
import { ffprobePath } from './binaries.js';
import { TdsError } from '../errors.js';
import { assertInputFile, assertStereoOptions, type StereoPacking } from './options.js';

export interface ProbeResult {
  /** Width of one view (half the coded width for sbs). */
  width: number;
  /** Height of one view (half the coded height for tb). */
  height: number;
  fps: number;
  frames: number;
  durationMs: number;
  codec: string;
}

function parseFraction(s: string | undefined): number {
  if (!s) return NaN;
  const [a, b] = s.split('/').map(Number);
  return b ? a / b : a;
}

async function ffprobe(file: string): Promise<ffmpeg.FfprobeData> {
  ffmpeg.setFfprobePath(ffprobePath());
  return new Promise((resolve, reject) => {
    ffmpeg.ffprobe(file, (err, data) => (err ? reject(err) : resolve(data)));
  });
}

/** Probes one coded stream (no stereo split). */
export async function probeStream(file: string): Promise<ProbeResult> {
  assertInputFile(file);
  let data: ffmpeg.FfprobeData;
  try {
    data = await ffprobe(file);
  } catch (e) {
    const msg =
      String((e as Error).message ?? e)
        .split('\n')
        .filter((l) => l.trim())
        .slice(-1)[0] ?? '';
    throw new TdsError(
      'NOT_VIDEO',
      `cannot read ${file} as video: ${msg.trim()}`,
      'give a video file ffmpeg can decode (mp4, mkv, avi, ...)',
    );
  }
  const v = data.streams.find((s) => s.codec_type === 'video');
  if (!v || !v.width || !v.height) {
    throw new TdsError('NOT_VIDEO', `${file} has no video stream`, 'give a file with a video track');
  }
  const fps = parseFraction(v.avg_frame_rate) || parseFraction(v.r_frame_rate);
  const dur = Number(v.duration) || Number(data.format.duration) || 0;
  const nb = Number(v.nb_frames);
  return {
    width: v.width,
    height: v.height,
    fps: Number.isFinite(fps) ? Math.round(fps * 1000) / 1000 : 0,
    frames: Number.isFinite(nb) && nb > 0 ? nb : Math.round(dur * fps),
    durationMs: Math.round(dur * 1000),
    codec: v.codec_name ?? 'unknown',
  };
}

/** Probes an input as the decoder will split it: per-view size for sbs/tb, and checks a right-view file against the left. */
export async function probeVideo(
  file: string,
  opts: { stereo?: StereoPacking; right?: string } = {},
): Promise<ProbeResult> {
  assertStereoOptions(opts);
  const p = await probeStream(file);
  const stereo = opts.stereo ?? 'none';
  if (opts.right) {
    const r = await probeStream(opts.right);
    assertStereoPair(file, p, opts.right, r);
    return p;
  }
  if (stereo === 'sbs') {
    if (p.width % 2) throw oddStereo(file, 'width', p.width, 'sbs');
    return { ...p, width: p.width / 2 };
  }
  if (stereo === 'tb') {
    if (p.height % 2) throw oddStereo(file, 'height', p.height, 'tb');
    return { ...p, height: p.height / 2 };
  }
  return p;
}

export function oddStereo(file: string, dim: 'width' | 'height', value: number, packing: 'sbs' | 'tb'): TdsError {
  return new TdsError(
    'BAD_STEREO',
    `${file} is ${value} px in ${dim}; --stereo ${packing} needs an even ${dim} to split into two views`,
    packing === 'sbs'
      ? 'check the packing (is it top-bottom?) or re-encode with an even width'
      : 'check the packing (is it side-by-side?) or re-encode with an even height',
  );
}

export function assertStereoPair(left: string, l: ProbeResult, right: string, r: ProbeResult): void {
  if (l.width !== r.width || l.height !== r.height) {
    throw new TdsError(
      'STEREO_MISMATCH',
      `left ${left} is ${l.width}x${l.height} but right ${right} is ${r.width}x${r.height}`,
      'give left and right recordings of the same size',
    );
  }
  if (Math.abs(l.fps - r.fps) > 0.01) {
    throw new TdsError(
      'STEREO_MISMATCH',
      `left ${left} runs at ${l.fps} fps but right ${right} at ${r.fps} fps`,
      'give left and right recordings of the same frame rate',
    );
  }
}
