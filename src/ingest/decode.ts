// Decodes video with an ffmpeg child process writing raw RGB to a pipe, split into exact frames.
// Two faces over one decoder: a pull-based async iterable (lossless, backpressure through the pipe)
// and an Observable (push). Closing either kills ffmpeg at once: no child outlives its stream.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Observable } from 'rxjs';
import { ffmpegPath } from './binaries.js';
import { TdsError } from '../errors.js';
import type { Frame, Image } from '../types.js';
import {
  assertInputFile,
  assertRateFits,
  assertStereoOptions,
  isLiveInput,
  type Rate,
  type StereoPacking,
} from './options.js';
import { assertStereoPair, oddStereo, probeStream } from './probe.js';
import { classifyEnd, FfmpegLog } from './ffmpeg-log.js';

export interface DecodeOptions {
  /** Frame selection; default `native`. */
  rate?: Rate;
  /** Stereo packing of `input`; default `none`. Ignored when `right` is given. */
  stereo?: StereoPacking;
  /** A second file holding the right view (same size and rate as the left). */
  right?: string;
  /** Replay a file at its own pace (ffmpeg `-re`), like a live feed. */
  realtime?: boolean;
  /** Readable piped to ffmpeg's stdin when `input` is `-`; default process.stdin. */
  stdin?: NodeJS.ReadableStream;
  /** Extra ffmpeg input options placed before `-i` (e.g. ['-rtsp_transport','tcp']). */
  inputOptions?: string[];
  /** Files: start at this media time in seconds (frames at or after it; timestamps and what follows are those
   * of decoding the whole file). For splitting a recording into chunks (tds queue). */
  from?: number;
  /** Files: stop before this media time in seconds (frames before it). */
  until?: number;
}

export interface Decoder {
  frames: AsyncIterable<Frame>;
  /** Kills ffmpeg now; iteration then ends. Safe to call twice. */
  close(): void;
  /** The child's pid once spawned (for diagnostics). */
  readonly pid: number | undefined;
}

function buildArgs(input: string, opts: DecodeOptions, seekAt = 0): { args: string[]; mapped: string } {
  const args = ['-hide_banner', '-loglevel', 'info'];
  if (input !== '-') args.push('-nostdin');
  const inOpts = [...(opts.inputOptions ?? [])];
  if (input.startsWith('/dev/video') && !inOpts.includes('-f')) inOpts.push('-f', 'v4l2');
  // Network streams: ffmpeg's default probing (5 s / 5 MB) is what a reopened feed waits for before its first
  // frame; 0.5 s finds an endoscope's H.264/MPEG-TS stream (measured: a killed udp feed is back in ~2.0 s with
  // 1 s keyframes, was ~6 s). -analyzeduration/-probesize/-fflags given by the caller win.
  if (/^(udp|rtp|rtsp|srt|tcp):\/\//i.test(input)) {
    if (!inOpts.includes('-analyzeduration')) inOpts.push('-analyzeduration', '500000');
    if (!inOpts.includes('-probesize')) inOpts.push('-probesize', '500000');
    if (!inOpts.includes('-fflags')) inOpts.push('-fflags', 'nobuffer');
  }
  const rt = opts.realtime ? ['-re'] : [];
  // A seek that keeps the whole file's timeline: -copyts -start_at_zero leaves every timestamp as a whole-file
  // decode gives it (the start time subtracted, the seek not), so a chunk's frames carry the same pts as in
  // one long run. ffmpeg's own accurate seek is off: the decoder drops frames before `from` itself and checks
  // that the seek landed early enough (MPEG-TS seeks can land on a later keyframe).
  if (seekAt > 0) inOpts.push('-ss', String(seekAt), '-noaccurate_seek', '-copyts', '-start_at_zero');
  args.push(...rt, ...inOpts, '-i', input);
  if (opts.right) args.push(...rt, '-i', opts.right);
  const rate = opts.rate ?? 'native';
  const rateFilter = rate === 'native' ? [] : [`fps=${rate === '1hz' ? 1 : rate}`];
  // showinfo reports each output frame's pts on stderr; frames are paired with it in order.
  const chain = [...rateFilter, 'showinfo'].join(',');
  if (opts.right) {
    args.push('-filter_complex', `[0:v:0][1:v:0]hstack=inputs=2,${chain}[v]`, '-map', '[v]');
  } else {
    args.push('-filter_complex', `[0:v:0]${chain}[v]`, '-map', '[v]');
  }
  // passthrough: the rawvideo muxer would otherwise duplicate/drop frames to a constant rate behind showinfo's back.
  args.push('-an', '-sn', '-dn', '-vsync', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  return { args, mapped: '[v]' };
}

function splitView(buf: Buffer, w: number, h: number, x0: number, y0: number, vw: number, vh: number): Image {
  const out = Buffer.allocUnsafe(vw * vh * 3);
  const rowBytes = vw * 3;
  for (let y = 0; y < vh; y++) {
    const src = ((y0 + y) * w + x0) * 3;
    buf.copy(out, y * rowBytes, src, src + rowBytes);
  }
  return { data: out, width: vw, height: vh, channels: 3 };
}

/** How far before `from` a ranged decode seeks, tried in turn (the last one decodes from the start). ffmpeg
 * lands on the keyframe before the seek point, so a small margin decodes least; a seek that lands past `from`
 * (MPEG-TS) is retried further back. */
const SEEK_MARGINS_S = [0.5, 5, 60, Infinity];

class SeekMissed extends Error {}

/** Starts ffmpeg and returns a pull-based decoder. Validation errors surface on the first pull. */
export function openDecoder(input: string, opts: DecodeOptions = {}): Decoder {
  let child: ChildProcessWithoutNullStreams | undefined;
  let closed = false;
  const packing: StereoPacking | 'pair' = opts.right ? 'pair' : (opts.stereo ?? 'none');

  const stopChild = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const kill = () => {
    closed = true;
    stopChild();
  };

  async function* frames(): AsyncGenerator<Frame> {
    if ((opts.from || opts.until !== undefined) && (isLiveInput(input) || (opts.rate ?? 'native') !== 'native'))
      throw new TdsError(
        'BAD_OPTION',
        `a time range (from/until) needs a file decoded at its native rate: ${input}`,
        'drop the range, or the rate option',
      );
    if (!opts.from) return yield* run(0);
    // Seek a little before `from`, then further back whenever the seek landed past it.
    for (const margin of SEEK_MARGINS_S) {
      try {
        return yield* run(Math.max(0, opts.from - margin));
      } catch (e) {
        if (!(e instanceof SeekMissed)) throw e;
      }
    }
  }

  async function* run(seekAt: number): AsyncGenerator<Frame> {
    assertStereoOptions(opts);
    assertInputFile(input);
    if (opts.right) {
      assertInputFile(opts.right, 'right-view file');
      if (!isLiveInput(input) && !isLiveInput(opts.right)) {
        assertStereoPair(input, await probeStream(input), opts.right, await probeStream(opts.right));
      }
    }
    if (typeof opts.rate === 'number' && !isLiveInput(input))
      assertRateFits(opts.rate, (await probeStream(input)).fps, input);
    if (closed) return;
    const { args } = buildArgs(input, opts, seekAt);
    const proc = spawn(ffmpegPath(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child = proc;
    if (input === '-') (opts.stdin ?? process.stdin).pipe(proc.stdin);
    else proc.stdin.end();
    proc.stdin.on('error', () => {}); // ffmpeg may close stdin first; not our error

    const stderr = new FfmpegLog();
    let wake: (() => void) | undefined;
    let stderrDone = false;
    const notify = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk: string) => {
      stderr.push(chunk);
      notify();
    });
    proc.stderr.on('end', () => {
      stderrDone = true;
      notify();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      proc.on('close', (code, signal) => resolve({ code, signal }));
    });
    const spawnError = new Promise<Error>((resolve) => proc.on('error', resolve));

    const waitFor = async (cond: () => boolean) => {
      while (!cond() && !stderrDone && !closed) await new Promise<void>((r) => (wake = r));
    };

    let index = 0;
    let raw = 0;
    // Chunks of the pipe not yet made into frames; joined once per frame (joining per chunk copied each
    // 1280x1024 frame ~60 times, which made decoding the pipeline's bottleneck).
    const chunks: Buffer[] = [];
    let queued = 0;
    let frameBytes = 0;
    try {
      const stdout = proc.stdout;
      const iter = stdout[Symbol.asyncIterator]();
      const first = await Promise.race([iter.next(), spawnError.then((e) => ({ error: e }))]);
      if ('error' in first) {
        throw new TdsError(
          'FFMPEG_FAILED',
          `cannot start ffmpeg at ${ffmpegPath()}: ${first.error.message}`,
          'set FFMPEG_PATH to a working ffmpeg, or reinstall with npm ci',
        );
      }
      let res: IteratorResult<Buffer> = first as IteratorResult<Buffer>;
      while (!res.done) {
        chunks.push(res.value);
        queued += res.value.length;
        if (!frameBytes) {
          await waitFor(() => stderr.headerSeen);
          if (!stderr.headerSeen) break;
          if (packing === 'sbs' && stderr.width % 2) throw oddStereo(input, 'width', stderr.width, 'sbs');
          if (packing === 'tb' && stderr.height % 2) throw oddStereo(input, 'height', stderr.height, 'tb');
          frameBytes = stderr.width * stderr.height * 3;
        }
        if (queued >= frameBytes) {
          const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, queued);
          let off = 0;
          while (queued - off >= frameBytes) {
            await waitFor(() => stderr.pts.length > raw);
            const frame = makeFrame(all.subarray(off, off + frameBytes), index, stderr.pts[raw] ?? NaN);
            off += frameBytes;
            if (opts.from && frame.ptsMs < opts.from * 1000) {
              raw++;
              continue;
            }
            // The first frame after a seek is at or past `from`: frames just after `from` may be missing.
            if (raw === 0 && seekAt > 0) throw new SeekMissed();
            raw++;
            if (opts.until !== undefined && frame.ptsMs >= opts.until * 1000) return;
            index++;
            yield frame;
            if (closed) return;
          }
          chunks.length = 0;
          if (off < queued) chunks.push(all.subarray(off));
          queued -= off;
        }
        res = await iter.next();
      }
      if (closed) return;
      const { code, signal } = await exited;
      if (closed) return;
      const failure = classifyEnd({
        input,
        live: isLiveInput(input),
        code,
        signal,
        frames: raw,
        leftover: queued,
        frameBytes,
        tail: stderr.tail,
        damage: stderr.damage,
      });
      if (failure) throw failure;
    } finally {
      stopChild();
    }

    function makeFrame(whole: Buffer, i: number, ptsMs: number): Frame {
      const t = Number.isFinite(ptsMs) ? Math.round(ptsMs * 1000) / 1000 : NaN;
      const { width, height } = stderr;
      if (packing === 'none') {
        // The joined buffer is fresh for each frame; when the frame is most of it (any frame larger than a pipe
        // chunk), the frame keeps it rather than a copy: one 3.9 MB allocation and copy less per 1280x1024 frame.
        // A small frame is copied, so it never holds a buffer many times its size.
        const data = whole.length * 2 >= whole.buffer.byteLength ? whole : Buffer.from(whole);
        return { index: i, ptsMs: t, left: { data, width, height, channels: 3 } };
      }
      if (packing === 'sbs' || packing === 'pair') {
        const vw = width / 2;
        return {
          index: i,
          ptsMs: t,
          left: splitView(whole, width, height, 0, 0, vw, height),
          right: splitView(whole, width, height, vw, 0, vw, height),
        };
      }
      const vh = height / 2;
      return {
        index: i,
        ptsMs: t,
        left: splitView(whole, width, height, 0, 0, width, vh),
        right: splitView(whole, width, height, 0, vh, width, vh),
      };
    }
  }

  return {
    frames: { [Symbol.asyncIterator]: () => frames() },
    close: kill,
    get pid() {
      return child?.pid;
    },
  };
}

/**
 * Decodes `input` to an Observable of frames. Unsubscribing kills ffmpeg at once.
 * Emission follows the decoder's pace; a slow synchronous subscriber slows ffmpeg through the pipe.
 */
export function decodeVideo(input: string, opts: DecodeOptions = {}): Observable<Frame> {
  return new Observable<Frame>((subscriber) => {
    const dec = openDecoder(input, opts);
    (async () => {
      for await (const f of dec.frames) {
        if (subscriber.closed) break;
        subscriber.next(f);
      }
      subscriber.complete();
    })().catch((e) => subscriber.error(e));
    return () => dec.close();
  });
}
