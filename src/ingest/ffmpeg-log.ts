// What ffmpeg's stderr says while it decodes, and what its ending means: a line parser (the output size, each
// frame's pts from `showinfo`, the last lines, damage reports) and a pure classifier from how ffmpeg ended to
// the error a user sees (or none). Kept apart from the process handling in decode.ts so both are table-tested.
import { TdsError } from '../errors.js';

/** Lines ffmpeg prints when a file is damaged but it keeps going; for files these end the stream with an error. */
export const DAMAGE =
  /(error while decoding|invalid nal|corrupt|partial file|truncat|moov atom not found|Invalid data found)/i;

/** Accumulates what ffmpeg's stderr reports, line by line. */
export class FfmpegLog {
  width = 0;
  height = 0;
  /** The output stream's header (and so its size) has been seen. */
  headerSeen = false;
  /** Presentation time (ms) of each output frame, in order. */
  readonly pts: number[] = [];
  /** The last 20 lines that were not per-frame reports. */
  readonly tail: string[] = [];
  readonly damage: string[] = [];
  private inOutput = false;
  private pending = '';

  /** Feeds a chunk of stderr text; complete lines are parsed, a partial last line waits for the next chunk. */
  push(chunk: string): void {
    this.pending += chunk;
    const lines = this.pending.split(/\r?\n|\r/);
    this.pending = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  line(line: string): void {
    if (line.startsWith('Output #0')) this.inOutput = true;
    const m = this.inOutput && !this.headerSeen ? /Stream #0:0.*Video: rawvideo.*?, (\d+)x(\d+)/.exec(line) : null;
    if (m) {
      this.width = Number(m[1]);
      this.height = Number(m[2]);
      this.headerSeen = true;
    }
    const s = /\bn:\s*\d+\s+pts:\s*-?\d+\s+pts_time:(-?[0-9.e+-]+)/.exec(line);
    if (s) this.pts.push(Number(s[1]) * 1000);
    else if (line.trim()) {
      this.tail.push(line.trim());
      if (this.tail.length > 20) this.tail.shift();
      if (DAMAGE.test(line)) this.damage.push(line.trim());
    }
  }
}

export interface DecodeEnd {
  input: string;
  live: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Frames delivered before the end. */
  frames: number;
  /** Bytes of a frame left over at the end (a frame cut short). */
  leftover: number;
  frameBytes: number;
  tail: readonly string[];
  damage: readonly string[];
}

/** The error for how a decode ended, or undefined when it ended well. */
export function classifyEnd(e: DecodeEnd): TdsError | undefined {
  const last = e.tail.at(-1) ?? '';
  if (e.code !== 0) {
    if (e.frames === 0 && e.input !== '-') {
      const all = e.tail.join('\n');
      // "low score" probing means ffmpeg guessed at a format that is not there: not a video (even when it then
      // also says the index is missing).
      if (
        (/detected only with low score|could not find codec|does not contain any stream|Invalid data found/i.test(
          all,
        ) &&
          !/moov atom not found/i.test(all.replace(/.*low score.*\n?/g, ''))) ||
        /low score/i.test(all)
      ) {
        return new TdsError(
          'NOT_VIDEO',
          `cannot decode ${e.input}: ${last}`,
          'give a video file ffmpeg can decode (mp4, mkv, avi, ts, ...)',
        );
      }
      if (/moov atom not found/i.test(all)) {
        return new TdsError(
          'CORRUPT_VIDEO',
          `${e.input} is truncated or incomplete (no index found): ${last}`,
          'the recording was cut off; re-export or re-copy the complete file',
        );
      }
    }
    const why = e.tail.find((l) => /error|invalid|not found|failed/i.test(l) && !/Conversion failed/.test(l)) ?? last;
    const fix =
      e.input === '-'
        ? 'stdin cannot seek: pipe a streamable container (mpegts, mkv, or mp4 written with -movflags +faststart)'
        : 'check that the input is complete and readable';
    return new TdsError(
      'CORRUPT_VIDEO',
      `ffmpeg failed on ${e.input} after ${e.frames} frame(s) (exit ${e.code ?? e.signal}): ${why}`,
      fix,
    );
  }
  if (e.leftover)
    return new TdsError(
      'CORRUPT_VIDEO',
      `${e.input} ended inside frame ${e.frames} (${e.leftover} of ${e.frameBytes} bytes)`,
      'the file is truncated; re-export or re-copy it',
    );
  if (e.frames === 0 && !e.live)
    return new TdsError(
      'NOT_VIDEO',
      `${e.input} decoded to no frames: ${last}`,
      'give a video file with at least one frame',
    );
  if (e.damage.length && !e.live)
    return new TdsError(
      'CORRUPT_VIDEO',
      `${e.input} is damaged after frame ${e.frames - 1}: ${e.damage[0]}`,
      'frames before the damage were decoded; re-export or re-copy the file',
    );
  return undefined;
}
