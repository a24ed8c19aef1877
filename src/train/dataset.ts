// Training data from frame sequences: ROBOT18 raw (colour labels), prepared index masks, EndoVis17-parts
// (grey labels) or `tds synth` output (scenes.json). Split by sequence, never by frame. Samples are decoded
// lazily and cached (decoded full-resolution image + labels) up to a memory budget.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TdsError } from '../errors.js';
import type { Image } from '../types.js';
import { imageScenes, scanFolder, type FolderLayout } from '../ingest/folders.js';
import { readRgb } from '../ingest/image-io.js';
import { readLabel, readIndexMask } from '../ingest/label-file.js';
import { sceneByName, sceneOfSequence, type Palette } from '../ingest/palette.js';

export interface Sample {
  /** `seq_N/frameNNN`. */
  id: string;
  sequence: string;
  seqId: number;
  image: string;
  label: string;
  /** Scene id, or -1 when the config does not know the sequence (its scene loss is then skipped). */
  scene: number;
}

export interface DataSplit {
  layout: FolderLayout;
  train: Sample[];
  val: Sample[];
  /** Where scenes came from: scenes.json (synth, prepared fundus), the dataset's per-image labels (fundus), or the
   * config's per-sequence mapping. */
  scenesFrom: 'scenes.json' | 'dataset' | 'config';
}

/** The samples of `dir` split by sequence, with their scenes (`listSamples`, plus the per-image scenes fundus
 * datasets carry: src/ingest/fundus.ts). */
export async function loadSamples(
  dir: string,
  palette: Palette,
  validation: number[],
  allowNoValidation = false,
): Promise<DataSplit> {
  const ds = scanFolder(dir);
  const named = await imageScenes(ds);
  return listSamples(dir, palette, validation, allowNoValidation, named);
}

/** `allowNoValidation`: an empty validation list is fine (a model kept at its last epoch needs none).
 * `namedScenes`: scene names per sequence given by the dataset itself (they win over the config's mapping). */
export function listSamples(
  dir: string,
  palette: Palette,
  validation: number[],
  allowNoValidation = false,
  namedScenes?: Map<string, string>,
): DataSplit {
  const ds = scanFolder(dir);
  if (ds.layout === 'images')
    throw new TdsError(
      'BAD_DATASET',
      `${dir} has no sequences with labels`,
      'give a ROBOT18 folder (seq_N/left_frames + labels), prepared masks (tds prepare), an EndoVis17-parts folder, or tds synth output',
    );
  const frames = ds.sequences.reduce((n, s) => n + s.frames.length, 0);
  if (!ds.sequences.length || !frames)
    throw new TdsError(
      'BAD_DATASET',
      `${dir} holds no sequences with frames`,
      'check the folder layout (README: Data layouts)',
    );
  const scenesFile = join(dir, 'scenes.json');
  const synthScenes = existsSync(scenesFile)
    ? (JSON.parse(readFileSync(scenesFile, 'utf8')) as { sequences?: Record<string, { scene: number }> }).sequences
    : undefined;
  const samples: Sample[] = [];
  for (const seq of ds.sequences) {
    for (const f of seq.frames) {
      if (!f.label)
        throw new TdsError(
          'BAD_DATASET',
          `frame ${f.image} has no label`,
          'put its label in seq_N/labels/ (or masks/, ground_truth/) under the same name, or remove the frame',
        );
      const named = namedScenes?.get(seq.name);
      const scene = synthScenes
        ? (synthScenes[seq.name]?.scene ?? -1)
        : named !== undefined
          ? sceneByName(palette, named)
          : sceneOfSequence(palette, seq.id);
      samples.push({
        id: `${seq.name}/${f.name}`,
        sequence: seq.name,
        seqId: seq.id,
        image: f.image,
        label: f.label,
        scene,
      });
    }
  }
  const val = samples.filter((s) => validation.includes(s.seqId));
  const train = samples.filter((s) => !validation.includes(s.seqId));
  const seqs = [...new Set(samples.map((s) => s.seqId))].join(', ');
  if (!val.length && !(allowNoValidation && !validation.length))
    throw new TdsError(
      'BAD_DATASET',
      `none of the validation sequences [${validation.join(', ')}] is in ${dir} (it has ${seqs})`,
      'set train.validation.sequences in the config to sequences the data holds',
    );
  if (!train.length)
    throw new TdsError(
      'BAD_DATASET',
      `every sequence in ${dir} is a validation sequence; nothing is left to train on`,
      'set train.validation.sequences to a subset of the sequences',
    );
  return {
    layout: ds.layout,
    train,
    val,
    scenesFrom: synthScenes ? 'scenes.json' : namedScenes ? 'dataset' : 'config',
  };
}

export interface LoadedSample {
  image: Image;
  labels: Uint8Array;
}

/** Decodes samples on demand and keeps them while the budget allows. */
export class SampleCache {
  private readonly cache = new Map<string, LoadedSample>();
  private bytes = 0;
  unknownPixels = 0;
  constructor(
    private readonly palette: Palette,
    private readonly layout: FolderLayout,
    private readonly budgetBytes: number,
  ) {}

  async get(s: Sample): Promise<LoadedSample> {
    const hit = this.cache.get(s.id);
    if (hit) return hit;
    const image = await readRgb(s.image);
    const frame = { path: s.image, width: image.width, height: image.height };
    let labels: Uint8Array;
    if (this.layout === 'prepared') labels = await readIndexMask(s.label, this.palette.classes.length, { frame });
    else {
      const r = await readLabel(s.label, this.palette, { frame });
      this.unknownPixels += r.unknownPixels;
      labels = r.labels;
    }
    const loaded = { image, labels };
    const size = image.data.length + labels.length;
    if (this.bytes + size <= this.budgetBytes) {
      this.cache.set(s.id, loaded);
      this.bytes += size;
    }
    return loaded;
  }
}
