// Decodes video with an ffmpeg child process writing raw RGB to a pipe, split into exact frames.
// Two faces over one decoder: a pull-based async iterable (lossless, backpressure through the pipe)
// and an Observable (push). Closing either kills ffmpeg at once: no child outlives its stream.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Observable } from 'rxjs';
import { ffmpegPath } from './binaries.js';
import { TdsError } from '../errors.js';
import type { Frame, Image } from '../types.js';
import { assertInputFile, assertRateFits, assertStereoOptions, isLiveInput, type Rate, type StereoPacking } from './options.js';
import { assertStereoPair, oddStereo, probeStream } from './probe.js';

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
}

export interface Decoder {
  frames: AsyncIterable<Frame>;
  /** Kills ffmpeg now; iteration then ends. Safe to call twice. */
  close(): void;
  /** The child's pid once spawned (for diagnostics). */
  readonly pid: number | undefined;
}

// Lines ffmpeg prints when a file is damaged but it keeps going; for files these end the stream with an error.
const DAMAGE = /(error while decoding|invalid nal|corrupt|partial file|truncat|moov atom not found|Invalid data found)/i;

function buildArgs(input: string, opts: DecodeOptions): { args: string[]; mapped: string } {
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

/** Starts ffmpeg and returns a pull-based decoder. Validation errors surface on the first pull. */
export function openDecoder(input: string, opts: DecodeOptions = {}): Decoder {
  let child: ChildProcessWithoutNullStreams | undefined;
  let closed = false;
  const packing: StereoPacking | 'pair' = opts.right ? 'pair' : opts.stereo ?? 'none';

  const kill = () => {
    closed = true;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };

  async function* frames(): AsyncGenerator<Frame> {
    assertStereoOptions(opts);
    assertInputFile(input);
    if (opts.right) {
      assertInputFile(opts.right, 'right-view file');
      if (!isLiveInput(input) && !isLiveInput(opts.right)) {
        assertStereoPair(input, await probeStream(input), opts.right, await probeStream(opts.right));
      }
    }
    if (typeof opts.rate === 'number' && !isLiveInput(input)) assertRateFits(opts.rate, (await probeStream(input)).fps, input);
    if (closed) return;
    const { args } = buildArgs(input, opts);
    const proc = spawn(ffmpegPath(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child = proc;
    if (input === '-') (opts.stdin ?? process.stdin).pipe(proc.stdin);
    else proc.stdin.end();
    proc.stdin.on('error', () => {}); // ffmpeg may close stdin first; not our error

    let width = 0;
    let height = 0;
    let inOutput = false;
    const pts: number[] = [];
    const stderrTail: string[] = [];
    const damage: string[] = [];
    let headerSeen = false;
    let wake: (() => void) | undefined;
    let stderrDone = false;
    let pending = '';
    const notify = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split(/\r?\n|\r/);
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('Output #0')) inOutput = true;
        const m = inOutput && !headerSeen ? /Stream #0:0.*Video: rawvideo.*?, (\d+)x(\d+)/.exec(line) : null;
        if (m) {
          width = Number(m[1]);
          height = Number(m[2]);
          headerSeen = true;
        }
        const s = /\bn:\s*\d+\s+pts:\s*-?\d+\s+pts_time:(-?[0-9.e+-]+)/.exec(line);
        if (s) pts.push(Number(s[1]) * 1000);
        else if (line.trim()) {
          stderrTail.push(line.trim());
          if (stderrTail.length > 20) stderrTail.shift();
          if (DAMAGE.test(line)) damage.push(line.trim());
        }
      }
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
        throw new TdsError('FFMPEG_FAILED', `cannot start ffmpeg at ${ffmpegPath()}: ${first.error.message}`, 'set FFMPEG_PATH to a working ffmpeg, or reinstall with npm ci');
      }
      let res: IteratorResult<Buffer> = first as IteratorResult<Buffer>;
      while (!res.done) {
        chunks.push(res.value);
        queued += res.value.length;
        if (!frameBytes) {
          await waitFor(() => headerSeen);
          if (!headerSeen) break;
          if (packing === 'sbs' && width % 2) throw oddStereo(input, 'width', width, 'sbs');
          if (packing === 'tb' && height % 2) throw oddStereo(input, 'height', height, 'tb');
          frameBytes = width * height * 3;
        }
        if (queued >= frameBytes) {
          const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, queued);
          let off = 0;
          while (queued - off >= frameBytes) {
            await waitFor(() => pts.length > index);
            const frame = makeFrame(all.subarray(off, off + frameBytes), index, pts[index] ?? NaN);
            off += frameBytes;
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
      const last = stderrTail.slice(-1)[0] ?? '';
      if (code !== 0) {
        if (index === 0 && input !== '-') {
          const all = stderrTail.join('\n');
          if (/detected only with low score|could not find codec|does not contain any stream|Invalid data found/i.test(all) && !/moov atom not found/i.test(all.replace(/.*low score.*\n?/g, '')) || /low score/i.test(all)) {
            throw new TdsError('NOT_VIDEO', `cannot decode ${input}: ${last}`, 'give a video file ffmpeg can decode (mp4, mkv, avi, ts, ...)');
          }
          if (/moov atom not found/i.test(all)) {
            throw new TdsError('CORRUPT_VIDEO', `${input} is truncated or incomplete (no index found): ${last}`, 'the recording was cut off; re-export or re-copy the complete file');
          }
        }
        const why = stderrTail.find((l) => /error|invalid|not found|failed/i.test(l) && !/Conversion failed/.test(l)) ?? last;
        const fix = input === '-' ? 'stdin cannot seek: pipe a streamable container (mpegts, mkv, or mp4 written with -movflags +faststart)' : 'check that the input is complete and readable';
        throw new TdsError('CORRUPT_VIDEO', `ffmpeg failed on ${input} after ${index} frame(s) (exit ${code ?? signal}): ${why}`, fix);
      }
      if (queued) {
        throw new TdsError('CORRUPT_VIDEO', `${input} ended inside frame ${index} (${queued} of ${frameBytes} bytes)`, 'the file is truncated; re-export or re-copy it');
      }
      if (index === 0 && !isLiveInput(input)) {
        throw new TdsError('NOT_VIDEO', `${input} decoded to no frames: ${last}`, 'give a video file with at least one frame');
      }
      if (damage.length && !isLiveInput(input)) {
        throw new TdsError('CORRUPT_VIDEO', `${input} is damaged after frame ${index - 1}: ${damage[0]}`, 'frames before the damage were decoded; re-export or re-copy the file');
      }
    } finally {
      kill();
    }

    function makeFrame(whole: Buffer, i: number, ptsMs: number): Frame {
      const t = Number.isFinite(ptsMs) ? Math.round(ptsMs * 1000) / 1000 : NaN;
      if (packing === 'none') {
        return { index: i, ptsMs: t, left: { data: Buffer.from(whole), width, height, channels: 3 } };
      }
      if (packing === 'sbs' || packing === 'pair') {
        const vw = width / 2;
        return { index: i, ptsMs: t, left: splitView(whole, width, height, 0, 0, vw, height), right: splitView(whole, width, height, vw, 0, vw, height) };
      }
      const vh = height / 2;
      return { index: i, ptsMs: t, left: splitView(whole, width, height, 0, 0, width, vh), right: splitView(whole, width, height, 0, vh, width, vh) };
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
