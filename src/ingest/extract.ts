// Extracts video frames to the ROBOT18 layout: DIR/left_frames/frameNNN.png (+ right_frames for stereo).
import { frameStem } from './frame-names.js';
import { join } from 'node:path';
import { writePng } from './image-io.js';
import { openDecoder, type DecodeOptions } from './decode.js';
import { ensureOutputDir, refuseNonEmpty } from './output-dir.js';

export interface ExtractOptions extends DecodeOptions {
  overwrite?: boolean;
  onFrame?: (index: number, ptsMs: number) => void;
}

export interface ExtractSummary {
  frames: number;
  width: number;
  height: number;
  stereo: boolean;
  firstPtsMs: number;
  lastPtsMs: number;
  ms: number;
}

export async function extractFrames(input: string, out: string, opts: ExtractOptions = {}): Promise<ExtractSummary> {
  const t0 = performance.now();
  ensureOutputDir(out);
  refuseNonEmpty(out, ['left_frames', 'right_frames'], opts.overwrite);
  const dec = openDecoder(input, opts);
  const s: ExtractSummary = { frames: 0, width: 0, height: 0, stereo: false, firstPtsMs: NaN, lastPtsMs: NaN, ms: 0 };
  try {
    for await (const f of dec.frames) {
      const stem = frameStem(f.index);
      const writes = [writePng(join(out, 'left_frames', `${stem}.png`), f.left)];
      if (f.right) writes.push(writePng(join(out, 'right_frames', `${stem}.png`), f.right));
      await Promise.all(writes);
      if (s.frames === 0) {
        s.width = f.left.width;
        s.height = f.left.height;
        s.stereo = !!f.right;
        s.firstPtsMs = f.ptsMs;
      }
      s.lastPtsMs = f.ptsMs;
      s.frames++;
      opts.onFrame?.(f.index, f.ptsMs);
    }
  } finally {
    dec.close();
  }
  s.ms = Math.round(performance.now() - t0);
  return s;
}
