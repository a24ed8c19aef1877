// Writes synthetic sequences to disk in the ROBOT18 layout (+ scenes.json, optional stereo mp4).
import { frameStem } from './frame-names.js';
import { writeFile, rename } from 'node:fs/promises';
import { makeDirs } from '../fs-safe.js';
import { join } from 'node:path';
import { indexToColor } from './labels.js';
import { writePng, tempName } from './image-io.js';
import { encodeVideo } from './encode.js';
import type { Palette } from './palette.js';
import type { Image } from '../types.js';
import { SYNTH_SCENES, synthSequence } from './synth.js';

export interface SynthWriteOptions {
  sequences: number;
  frames: number;
  seed: number;
  width: number;
  height: number;
  /** Also write seq_N/video.mp4: side-by-side stereo H.264. */
  video?: boolean;
  /** Frame rate of the encoded video; default 25. */
  fps?: number;
  /** First sequence number; default 1. */
  firstSeq?: number;
  onFrame?: (done: number, total: number) => void;
}

export interface SynthSummary {
  sequences: Record<string, { scene: number; name: string; frames: number }>;
  seed: number;
  width: number;
  height: number;
  classPixels: number[];
}

function sbs(l: Image, r: Image): Image {
  const w = l.width;
  const out = Buffer.alloc(w * 2 * l.height * 3);
  for (let y = 0; y < l.height; y++) {
    l.data.copy(out, y * w * 6, y * w * 3, (y + 1) * w * 3);
    r.data.copy(out, y * w * 6 + w * 3, y * w * 3, (y + 1) * w * 3);
  }
  return { data: out, width: w * 2, height: l.height, channels: 3 };
}

export async function writeSynthDataset(out: string, palette: Palette, o: SynthWriteOptions): Promise<SynthSummary> {
  const summary: SynthSummary = {
    sequences: {},
    seed: o.seed,
    width: o.width,
    height: o.height,
    classPixels: new Array(palette.classes.length).fill(0),
  };
  const first = o.firstSeq ?? 1;
  const total = o.sequences * o.frames;
  let done = 0;
  for (let s = 0; s < o.sequences; s++) {
    const seqNo = first + s;
    const name = `seq_${seqNo}`;
    const dir = join(out, name);
    const seq = synthSequence({ seed: o.seed, seq: seqNo, width: o.width, height: o.height });
    const packed: Image[] = [];
    for (let t = 0; t < o.frames; t++) {
      const f = seq.render(t);
      const stem = frameStem(t);
      await writePng(join(dir, 'left_frames', `${stem}.png`), f.left);
      await writePng(join(dir, 'right_frames', `${stem}.png`), f.right!);
      await writePng(join(dir, 'labels', `${stem}.png`), indexToColor(f.labels, o.width, o.height, palette));
      for (const v of f.labels) summary.classPixels[v]++;
      if (o.video) packed.push(sbs(f.left, f.right!));
      o.onFrame?.(++done, total);
    }
    if (o.video) await encodeVideo(join(dir, 'video.mp4'), packed, { fps: o.fps ?? 25 });
    summary.sequences[name] = { scene: seq.scene, name: SYNTH_SCENES[seq.scene], frames: o.frames };
  }
  makeDirs(out);
  const p = join(out, 'scenes.json');
  const tmp = tempName(p);
  await writeFile(tmp, JSON.stringify(summary, null, 2) + '\n');
  await rename(tmp, p);
  return summary;
}
