// BraTS case folders: one NIfTI file per MRI modality (+ the segmentation when labelled), all in one geometry.
// A config names the modalities a model uses, in order: BraTS 2015 as distributed for DeepMedic has FLAIR and
// T1c (Flair_subtrMeanDivStd.nii.gz, T1c_subtrMeanDivStd.nii.gz, OTMultiClass.nii.gz, brainmask.nii.gz), BraTS
// 2018 has t1, t1ce, t2, flair (<case>_flair.nii.gz ..., <case>_seg.nii.gz). Intensities are z-scored inside the
// brain per modality (mean 0, sd 1 over the brain mask, or over non-zero voxels without one; 0 outside), the
// normalisation the fixtures' files already carry (reading them again changes them by rounding only).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { TdsError } from '../errors.js';
import { naturalCompare } from './folders.js';
import { readNifti, type Volume } from './nifti.js';

export type Modality = 't1' | 't1c' | 't2' | 'flair';
export const MODALITIES: readonly Modality[] = ['t1', 't1c', 't2', 'flair'];

/** File-name patterns per modality (case-insensitive; checked in this order so t1c never reads as t1). */
const PATTERNS: Record<Modality, RegExp> = {
  t1c: /(^|[_.-])(t1c|t1ce|t1gd)([_.-]|$)/i,
  t1: /(^|[_.-])t1([_.-]|$)/i,
  t2: /(^|[_.-])t2([_.-]|$)/i,
  flair: /(^|[_.-])flair([_.-]|$)/i,
};
/** Ground-truth file names: OTMultiClass (BraTS 2015 for DeepMedic), <case>_seg or seg (BraTS 2018). */
export const TRUTH = /^(OTMultiClass|seg|.+_seg)\.nii(\.gz)?$/i;
const BRAIN = /brain_?mask\.nii(\.gz)?$/i;

export interface BratsCase {
  name: string;
  dir: string;
  /** One file per requested modality, in the requested order. */
  files: string[];
  truth?: string;
  brainMask?: string;
}

/** The ground-truth file of a case folder, if it has one. */
export function caseTruth(dir: string): string | undefined {
  const f = readdirSync(dir)
    .sort(naturalCompare)
    .find((n) => TRUTH.test(n) && statSync(join(dir, n)).isFile());
  return f && join(dir, f);
}

/** Case folders under `root` (the folder itself, its children, or grandchildren such as train/ and validation/). */
export function findCases(root: string): Array<{ name: string; dir: string }> {
  if (!existsSync(root) || !statSync(root).isDirectory())
    throw new TdsError(
      'ENOENT_INPUT',
      `BraTS folder not found: ${root}`,
      'give the folder that holds the case folders',
    );
  const out: Array<{ name: string; dir: string }> = [];
  const visit = (d: string, depth: number) => {
    if (caseTruth(d) || readdirSync(d).some((n) => /\.nii(\.gz)?$/i.test(n))) {
      out.push({ name: basename(d), dir: d });
      return;
    }
    if (depth === 0) return;
    for (const n of readdirSync(d).sort(naturalCompare)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) visit(p, depth - 1);
    }
  };
  visit(root, 2);
  return out;
}

/** Finds the files of `modalities` (and the ground truth and brain mask, when present) in a case folder. */
export function scanCase(dir: string, modalities: readonly Modality[]): BratsCase {
  const names = readdirSync(dir)
    .filter((n) => /\.nii(\.gz)?$/i.test(n) && statSync(join(dir, n)).isFile())
    .sort(naturalCompare);
  const stemOf = (n: string) => n.replace(/\.nii(\.gz)?$/i, '');
  const inputs = names.filter((n) => !TRUTH.test(n) && !BRAIN.test(n));
  const files = modalities.map((m) => {
    const hits = inputs.filter((n) => PATTERNS[m].test(stemOf(n)) && (m !== 't1' || !PATTERNS.t1c.test(stemOf(n))));
    if (hits.length !== 1)
      throw new TdsError(
        'BAD_DATASET',
        `${dir}: ${hits.length ? `${hits.length} files` : 'no file'} for modality ${m}${hits.length ? ` (${hits.join(', ')})` : ''}; found ${inputs.join(', ') || 'no volumes'}`,
        `name one file per modality (e.g. <case>_${m}.nii.gz), or change the config's modalities`,
      );
    return join(dir, hits[0]);
  });
  const truth = names.find((n) => TRUTH.test(n));
  const brain = names.find((n) => BRAIN.test(n));
  return {
    name: dir.split(/[\\/]/).filter(Boolean).pop()!,
    dir,
    files,
    ...(truth ? { truth: join(dir, truth) } : {}),
    ...(brain ? { brainMask: join(dir, brain) } : {}),
  };
}

/** Z-scores `v` in place over the voxels where `inside` is set (0 elsewhere). */
export function zscoreInside(v: Float32Array, inside: Uint8Array): void {
  let n = 0;
  let sum = 0;
  for (let i = 0; i < v.length; i++)
    if (inside[i]) {
      n++;
      sum += v[i];
    }
  const mean = n ? sum / n : 0;
  let sq = 0;
  for (let i = 0; i < v.length; i++) if (inside[i]) sq += (v[i] - mean) ** 2;
  const sd = n > 1 ? Math.sqrt(sq / n) : 1;
  for (let i = 0; i < v.length; i++) v[i] = inside[i] ? (v[i] - mean) / (sd || 1) : 0;
}

export interface LoadedCase {
  case: BratsCase;
  /** The first modality's volume: its geometry is the case's (outputs are written in it). */
  reference: Volume;
  /** Normalised intensities per modality, x fastest. */
  channels: Float32Array[];
  /** The brain (from the mask file, else voxels non-zero in any modality). */
  brain: Uint8Array;
  /** Ground-truth labels when the case has them. */
  labels?: Uint8Array;
}

export async function loadCase(c: BratsCase): Promise<LoadedCase> {
  const vols = await Promise.all(c.files.map((f) => readNifti(f)));
  const ref = vols[0];
  const same = (v: Volume, file: string) => {
    if (v.dims.join('x') !== ref.dims.join('x'))
      throw new TdsError(
        'BAD_IMAGE',
        `${file} is ${v.dims.join('x')} but ${c.files[0]} is ${ref.dims.join('x')}`,
        'co-register the modalities of a case into one geometry (BraTS data comes that way)',
      );
  };
  vols.forEach((v, i) => same(v, c.files[i]));
  const n = ref.data.length;
  let brain = new Uint8Array(n);
  if (c.brainMask) {
    const m = await readNifti(c.brainMask);
    same(m, c.brainMask);
    for (let i = 0; i < n; i++) brain[i] = m.data[i] > 0.5 ? 1 : 0;
  } else for (const v of vols) for (let i = 0; i < n; i++) if (v.data[i] !== 0) brain[i] = 1;
  if (!brain.some((x) => x)) brain = new Uint8Array(n).fill(1);
  const channels = vols.map((v) => {
    const d = Float32Array.from(v.data);
    zscoreInside(d, brain);
    return d;
  });
  let labels: Uint8Array | undefined;
  if (c.truth) {
    const t = await readNifti(c.truth);
    same(t, c.truth);
    labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const l = t.data[i];
      if (!Number.isInteger(l) || l < 0 || l > 255)
        throw new TdsError('BAD_LABEL', `${c.truth}: voxel ${i} has label ${l}`, 'labels must be integers 0-255');
      labels[i] = l;
    }
  }
  return { case: c, reference: ref, channels, brain, ...(labels ? { labels } : {}) };
}
