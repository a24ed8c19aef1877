// Merging a video's chunks into the folder `tds process` would have written for the whole video. Each chunk ran
// `tds process` on its time range into OUT/.tds-queue/chunk-NNNN, numbering its frames from 0; the merge gives
// them their place in the whole video (frame index and file name), moves their PNGs, writes labels.ndjson in
// frame order, joins the overlay segments, and writes run.json last (its presence marks the merge done).
// Safe to run again after a crash at any point: moved files are found where they went.
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { makeDirs, tempName, writeAtomic } from '../fs-safe.js';
import { TdsError } from '../errors.js';
import { ffmpegPath } from '../ingest/binaries.js';
import { videoFrameStem } from '../ingest/frame-names.js';
import type { FrameLine } from '../stream/frame-line.js';

export const STAGE_DIR = '.tds-queue';

export const chunkDir = (out: string, index: number) => join(out, STAGE_DIR, `chunk-${String(index).padStart(4, '0')}`);

interface RunJson {
  settings: Record<string, unknown>;
  counts: { frames: number; processed: number; resumed: number };
  timings: { wallMs: number; fps: number };
  finished: boolean;
  queue?: { key: string };
  [k: string]: unknown;
}

const readRun = (dir: string): RunJson | undefined => {
  try {
    return JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunJson;
  } catch {
    return undefined;
  }
};

/** True when chunk `index` of the video in `out` finished. */
export function chunkFinished(out: string, index: number): boolean {
  return !!readRun(chunkDir(out, index))?.finished;
}

/** True when `out` holds the merged outputs of the video `key`. */
export function merged(out: string, key: string): boolean {
  const r = readRun(out);
  return !!r?.finished && r.queue?.key === key;
}

function moveInto(from: string, to: string): void {
  if (existsSync(from)) renameSync(from, to);
  else if (!existsSync(to))
    throw new TdsError('QUEUE_FAILED', `chunk output ${from} is missing`, 'run the video again (tds queue add)');
}

async function concatVideos(parts: string[], dest: string): Promise<void> {
  const list = tempName(dest) + '.txt';
  await writeAtomic(list, parts.map((p) => `file '${p.replace(/'/g, "'\\''")}'`).join('\n') + '\n');
  const tmp = tempName(dest) + '.mp4';
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-f', 'concat', '-safe', '0', '-i', list];
  args.push('-c', 'copy', '-movflags', '+faststart', tmp);
  const code = await new Promise<number | null>((resolve) => {
    const p = spawn(ffmpegPath(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (c) => {
      if (c !== 0) process.stderr.write(err.slice(-500));
      resolve(c);
    });
  });
  rmSync(list, { force: true });
  if (code !== 0) {
    rmSync(tmp, { force: true });
    throw new TdsError(
      'QUEUE_FAILED',
      `joining the overlay segments into ${dest} failed`,
      'see the ffmpeg message above',
    );
  }
  renameSync(tmp, dest);
}

export interface MergeInput {
  key: string;
  out: string;
  chunks: number;
  chunkSeconds: number | null;
  overlay: boolean;
  /** false: the chunks wrote no colour PNGs (--masks-only). */
  color?: boolean;
}

/** Merges the finished chunks of a video into `out`; returns the number of frames. */
export async function mergeVideo(v: MergeInput): Promise<number> {
  if (merged(v.out, v.key)) return readRun(v.out)!.counts.frames;
  const runs: RunJson[] = [];
  for (let i = 0; i < v.chunks; i++) {
    const r = readRun(chunkDir(v.out, i));
    if (!r?.finished)
      throw new TdsError('QUEUE_FAILED', `chunk ${i + 1}/${v.chunks} of ${v.out} is not finished`, 'wait for its job');
    runs.push(r);
  }
  makeDirs(join(v.out, 'masks'));
  const color = v.color !== false;
  if (color) makeDirs(join(v.out, 'color'));
  const lines: string[] = [];
  let offset = 0;
  let lastPts = -Infinity;
  for (let i = 0; i < v.chunks; i++) {
    const dir = chunkDir(v.out, i);
    const chunkLines = readFileSync(join(dir, 'labels.ndjson'), 'utf8').split('\n').filter(Boolean);
    for (const text of chunkLines) {
      const l = JSON.parse(text) as FrameLine;
      const name = videoFrameStem(offset + l.frame);
      // Chunks meet exactly (each took from <= pts < until): a repeated or reordered timestamp is a bug.
      if (!(l.ptsMs > lastPts) && Number.isFinite(l.ptsMs))
        throw new TdsError(
          'QUEUE_FAILED',
          `chunk ${i + 1} of ${v.out} repeats media time ${l.ptsMs} ms`,
          'report this',
        );
      lastPts = l.ptsMs;
      moveInto(join(dir, 'masks', `${l.name}.png`), join(v.out, 'masks', `${name}.png`));
      if (color) moveInto(join(dir, 'color', `${l.name}.png`), join(v.out, 'color', `${name}.png`));
      // Same key order and number formatting as tds process writes (JSON.stringify of the same object).
      lines.push(JSON.stringify({ ...l, frame: offset + l.frame, name }));
    }
    offset += chunkLines.length;
  }
  await writeAtomic(join(v.out, 'labels.ndjson'), lines.map((l) => l + '\n').join(''));
  if (v.overlay) {
    const parts = [...Array(v.chunks).keys()].map((i) => join(chunkDir(v.out, i), 'overlay.mp4'));
    if (parts.every(existsSync)) await concatVideos(parts, join(v.out, 'overlay.mp4'));
    else if (!existsSync(join(v.out, 'overlay.mp4')))
      throw new TdsError('QUEUE_FAILED', `an overlay segment of ${v.out} is missing`, 'run the video again');
  }
  const wallMs = runs.reduce((a, r) => a + r.timings.wallMs, 0);
  const { range: _range, ...settings } = runs[0].settings;
  const first = runs[0];
  await writeAtomic(
    join(v.out, 'run.json'),
    JSON.stringify(
      {
        ...first,
        settings,
        counts: { frames: offset, processed: offset, resumed: 0 },
        // Summed over the chunks: core time of the work, not the wall time of the queue.
        timings: { wallMs, fps: Math.round((offset / (wallMs / 1000)) * 100) / 100 },
        finished: true,
        interrupted: false,
        error: undefined,
        queue: { key: v.key, chunks: v.chunks, chunkSeconds: v.chunkSeconds },
      },
      null,
      2,
    ) + '\n',
  );
  rmSync(join(v.out, STAGE_DIR), { recursive: true, force: true });
  return offset;
}
