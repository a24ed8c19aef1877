// Frame folders: the ROBOT18 layout (seq_N/left_frames, right_frames, labels), the prepared layout
// (seq_N/images, masks), the EndoVis17-parts layout (images/, ground_truth/), the EndoVis 2015 rigid-instrument
// layout (OPn/Raw/img_NN_raw.png + OPn/Masks/img_NN_class.png), the fundus layouts (Drishti-GS1 case folders,
// REFUGE images with Disc_Cup_Masks: src/ingest/fundus.ts), and plain image folders.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { TdsError } from '../errors.js';
import type { Frame } from '../types.js';
import { readRgb } from './image-io.js';
import { drishtiSequences, fundusScenes, refugeSequences, type FundusScene } from './fundus.js';

export type FolderLayout =
  'robot18' | 'prepared' | 'endovis17-parts' | 'endovis15-rigid' | 'drishti-gs' | 'refuge' | 'images';

export interface FrameEntry {
  /** File stem, e.g. `frame012`. */
  name: string;
  image: string;
  right?: string;
  /** Colour/grey label (raw layouts) or index mask (prepared layout). */
  label?: string;
}

export interface Sequence {
  /** Folder name, e.g. `seq_3` or `OP2`; the folder's own name for single-folder layouts. */
  name: string;
  /** Number in the name (`seq_3` -> 3, `OP2` -> 2), or 0. */
  id: number;
  frames: FrameEntry[];
}

export interface FolderDataset {
  layout: FolderLayout;
  root: string;
  sequences: Sequence[];
}

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff']);

/** Natural order: frame2 before frame10. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

export function stem(file: string): string {
  return basename(file, extname(file));
}

function listImages(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => IMAGE_EXT.has(extname(f).toLowerCase()) && !f.endsWith('.tmp'))
    .sort(naturalCompare)
    .map((f) => join(dir, f));
}

function byStem(files: string[]): Map<string, string> {
  return new Map(files.map((f) => [stem(f), f]));
}

function isDir(p: string): boolean {
  return existsSync(p) && statSync(p).isDirectory();
}

function entries(images: string[], rights: Map<string, string>, labels: Map<string, string>): FrameEntry[] {
  return images.map((image) => {
    const name = stem(image);
    return { name, image, right: rights.get(name), label: labels.get(name) };
  });
}

/** A folder name that names one sequence (one video / surgery) of a dataset: `seq_N` (ROBOT18) or `OPn` (EndoVis 2015). */
export const SEQUENCE_DIR = /^(?:seq_|OP)(\d+)$/;

/** EndoVis 2015 rigid: `Raw/img_NN_raw.png` with `Masks/img_NN_class.png`; frames are named `img_NN`. */
function endovis15Frames(dir: string): FrameEntry[] {
  const labels = new Map(
    listImages(join(dir, 'Masks'))
      .filter((f) => stem(f).endsWith('_class'))
      .map((f) => [stem(f).slice(0, -'_class'.length), f]),
  );
  return listImages(join(dir, 'Raw')).map((image) => {
    const name = stem(image).replace(/_raw$/, '');
    return { name, image, label: labels.get(name) };
  });
}

/** Scenes the dataset gives its images itself (fundus: glaucoma/normal), by sequence name; undefined for layouts
 * whose scenes come from the config's sequence numbers. */
export async function imageScenes(ds: FolderDataset): Promise<Map<string, FundusScene> | undefined> {
  return ds.layout === 'drishti-gs' || ds.layout === 'refuge' ? fundusScenes(ds.root, ds.sequences) : undefined;
}

/** Finds the layout of `dir` and lists its sequences and frames. */
export function scanFolder(dir: string): FolderDataset {
  if (!existsSync(dir)) throw new TdsError('ENOENT_INPUT', `folder not found: ${dir}`, 'check the path');
  if (!statSync(dir).isDirectory())
    throw new TdsError('BAD_DATASET', `${dir} is a file, not a frame folder`, 'give a folder of frames');
  const seqDirs = readdirSync(dir)
    .filter((d) => /^seq_\d+$/.test(d) && isDir(join(dir, d)))
    .sort(naturalCompare);
  if (seqDirs.length) {
    const prepared = seqDirs.every((d) => isDir(join(dir, d, 'images')));
    const sequences = seqDirs.map((d) => {
      const p = join(dir, d);
      const id = Number(d.slice(4));
      if (prepared)
        return {
          name: d,
          id,
          frames: entries(listImages(join(p, 'images')), new Map(), byStem(listImages(join(p, 'masks')))),
        };
      return {
        name: d,
        id,
        frames: entries(
          listImages(join(p, 'left_frames')),
          byStem(listImages(join(p, 'right_frames'))),
          byStem(listImages(join(p, 'labels'))),
        ),
      };
    });
    return { layout: prepared ? 'prepared' : 'robot18', root: dir, sequences };
  }
  const opDirs = readdirSync(dir)
    .filter((d) => /^OP\d+$/.test(d) && isDir(join(dir, d, 'Raw')))
    .sort(naturalCompare);
  if (opDirs.length) {
    return {
      layout: 'endovis15-rigid',
      root: dir,
      sequences: opDirs.map((d) => ({ name: d, id: Number(d.slice(2)), frames: endovis15Frames(join(dir, d)) })),
    };
  }
  // Fundus: one image per sequence (src/ingest/fundus.ts).
  const drishti = drishtiSequences(dir);
  if (drishti.length) return { layout: 'drishti-gs', root: dir, sequences: drishti };
  const refuge = refugeSequences(dir);
  if (refuge?.length) return { layout: 'refuge', root: dir, sequences: refuge };
  if (isDir(join(dir, 'images')) && isDir(join(dir, 'ground_truth'))) {
    return {
      layout: 'endovis17-parts',
      root: dir,
      sequences: [
        {
          name: basename(dir),
          id: 0,
          frames: entries(listImages(join(dir, 'images')), new Map(), byStem(listImages(join(dir, 'ground_truth')))),
        },
      ],
    };
  }
  if (isDir(join(dir, 'left_frames'))) {
    // One sequence without the seq_N wrapper (e.g. `tds extract` output).
    const frames = entries(
      listImages(join(dir, 'left_frames')),
      byStem(listImages(join(dir, 'right_frames'))),
      byStem(listImages(join(dir, 'labels'))),
    );
    return { layout: 'robot18', root: dir, sequences: [{ name: basename(dir), id: 0, frames }] };
  }
  return {
    layout: 'images',
    root: dir,
    sequences: [{ name: basename(dir), id: 0, frames: entries(listImages(dir), new Map(), new Map()) }],
  };
}

export interface FolderReadOptions {
  /** Only these sequences (folder names); default all, in order. */
  sequences?: string[];
  /** Frame rate used to give folder frames a timestamp; default 1 (one frame per second). */
  fps?: number;
}

/** Reads a frame folder as frames in order (left and, where present, right views), pull-based. */
export async function* folderFrames(dir: string, opts: FolderReadOptions = {}): AsyncGenerator<Frame> {
  const ds = scanFolder(dir);
  const seqs = opts.sequences ? ds.sequences.filter((s) => opts.sequences!.includes(s.name)) : ds.sequences;
  const all = seqs.flatMap((s) => s.frames.map((f) => ({ seq: s, f })));
  if (!all.length)
    throw new TdsError(
      'BAD_DATASET',
      `no frames found in ${dir}`,
      'give a folder of PNG/JPEG frames, a ROBOT18 seq_N layout, or an EndoVis17 images/ folder',
    );
  const fps = opts.fps ?? 1;
  let index = 0;
  for (const { seq, f } of all) {
    const left = await readRgb(f.image);
    const right = f.right ? await readRgb(f.right) : undefined;
    if (right && (right.width !== left.width || right.height !== left.height)) {
      throw new TdsError(
        'STEREO_MISMATCH',
        `right view ${f.right} is ${right.width}x${right.height} but left ${f.image} is ${left.width}x${left.height}`,
        'give left and right frames of the same size',
      );
    }
    yield {
      index,
      ptsMs: (index * 1000) / fps,
      left,
      right,
      name: f.name,
      sequence: ds.layout === 'images' ? undefined : seq.name,
    };
    index++;
  }
}
