// Turns a raw dataset (ROBOT18 colour labels, EndoVis17-parts grey labels) into the prepared layout:
// DIR/seq_N/images/frameNNN.png (RGB) and DIR/seq_N/masks/frameNNN.png (8-bit class index).
import { join } from 'node:path';
import { TdsError } from '../errors.js';
import { readRgb, writePng } from './image-io.js';
import { imageScenes, scanFolder } from './folders.js';
import { readLabel } from './label-file.js';
import { sceneByName, type Palette } from './palette.js';
import { writeAtomic } from '../fs-safe.js';
import { assertCropFits, cropImage, cropLabels, type Rect } from './crop.js';
import { ensureOutputDir, refuseNonEmpty } from './output-dir.js';

export interface PrepareOptions {
  crop?: Rect;
  overwrite?: boolean;
  onFrame?: (done: number, total: number) => void;
}

export interface PrepareSummary {
  sequences: number;
  frames: number;
  /** Frames skipped because they have no label file. */
  unlabelled: number;
  unknownPixels: number;
  unknownValues: Record<string, number>;
  classPixels: number[];
}

export async function prepareDataset(
  input: string,
  out: string,
  palette: Palette,
  opts: PrepareOptions = {},
): Promise<PrepareSummary> {
  const ds = scanFolder(input);
  if (ds.layout === 'images' || ds.layout === 'prepared') {
    throw new TdsError(
      'BAD_DATASET',
      `${input} is not a raw labelled dataset (found layout: ${ds.layout})`,
      'give a ROBOT18 folder (seq_N/left_frames + labels), an EndoVis17-parts, EndoVis 2015, Drishti-GS1 or REFUGE folder',
    );
  }
  const total = ds.sequences.reduce((n, s) => n + s.frames.length, 0);
  if (!total)
    throw new TdsError(
      'BAD_DATASET',
      `no frames found in ${input}`,
      'check the folder layout (see README: Data layouts)',
    );
  ensureOutputDir(out);
  const seqNames = ds.sequences.map((s, i) =>
    ds.layout === 'endovis17-parts'
      ? `seq_${i + 1}`
      : ds.layout === 'endovis15-rigid' || ds.layout === 'drishti-gs' || ds.layout === 'refuge'
        ? `seq_${s.id}`
        : s.name,
  );
  // Fundus images carry their own scene (glaucoma/normal); the prepared layout keeps it in scenes.json, as
  // tds synth does, since seq_N no longer says which image it was.
  const named = await imageScenes(ds);
  refuseNonEmpty(
    out,
    seqNames.flatMap((n) => [`${n}/images`, `${n}/masks`]),
    opts.overwrite,
  );
  const s: PrepareSummary = {
    sequences: 0,
    frames: 0,
    unlabelled: 0,
    unknownPixels: 0,
    unknownValues: {},
    classPixels: new Array(palette.classes.length).fill(0),
  };
  let done = 0;
  for (const [si, seq] of ds.sequences.entries()) {
    let wrote = 0;
    for (const f of seq.frames) {
      done++;
      if (!f.label) {
        s.unlabelled++;
        opts.onFrame?.(done, total);
        continue;
      }
      let img = await readRgb(f.image);
      const lab = await readLabel(f.label, palette, { frame: { path: f.image, width: img.width, height: img.height } });
      let labels = lab.labels;
      if (opts.crop) {
        assertCropFits(opts.crop, img.width, img.height, f.image);
        img = cropImage(img, opts.crop);
        labels = cropLabels(labels, lab.width, opts.crop);
      }
      s.unknownPixels += lab.unknownPixels;
      for (const [k, v] of lab.unknownValues) s.unknownValues[k] = (s.unknownValues[k] ?? 0) + v;
      for (const v of labels) s.classPixels[v]++;
      const dir = join(out, seqNames[si]);
      await writePng(join(dir, 'images', `${f.name}.png`), img);
      await writePng(join(dir, 'masks', `${f.name}.png`), {
        data: Buffer.from(labels.buffer, labels.byteOffset, labels.length),
        width: img.width,
        height: img.height,
        channels: 1,
      });
      wrote++;
      s.frames++;
      opts.onFrame?.(done, total);
    }
    if (wrote) s.sequences++;
  }
  if (named && s.frames) {
    const sequences: Record<string, { scene: number; name: string; source: string }> = {};
    ds.sequences.forEach((q, i) => {
      const n = named.get(q.name);
      if (n !== undefined) sequences[seqNames[i]] = { scene: sceneByName(palette, n), name: n, source: q.name };
    });
    await writeAtomic(join(out, 'scenes.json'), JSON.stringify({ sequences }, null, 1) + '\n');
  }
  if (!s.frames)
    throw new TdsError(
      'BAD_DATASET',
      `no frame in ${input} has a label`,
      'labels go in seq_N/labels/ (ROBOT18) or ground_truth/ (EndoVis17), named like their frames',
    );
  return s;
}
