// `tds eval` for BraTS: predicted label volumes (DIR/<case>/seg.nii.gz, as tds process writes them, or
// DIR/<case>.nii.gz) against the cases' ground truth (a case folder holding OTMultiClass.nii(.gz), BraTS 2015 as
// distributed for DeepMedic, or <case>_seg.nii.gz / seg.nii.gz, BraTS 2018), scored per case with Dice and HD95
// of WT, TC and ET (src/eval/brats.ts) and averaged over cases. Writes eval-brats.csv beside the predictions.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TdsError } from '../errors.js';
import { writeAtomic } from '../fs-safe.js';
import type { Palette } from '../ingest/palette.js';
import { readNifti } from '../ingest/nifti.js';
import { caseTruth, findCases } from '../ingest/brats.js';
import { BRATS_REGIONS, bratsScores, type BratsConvention, type BratsRegion } from './brats.js';

/** The label convention a BraTS config scores with (its `dataset`: brats2015 / brats2018), else undefined. */
export function bratsConvention(p: Palette): BratsConvention | undefined {
  const m = /^brats[-_]?(?:20)?(15|18)/i.exec(p.dataset);
  return m ? (m[1] === '15' ? '2015' : '2018') : undefined;
}

export interface BratsCaseScore {
  case: string;
  /** Dice and HD95 (mm) per region. */
  regions: Record<BratsRegion, { dice: number; hd95: number }>;
  /** True when no prediction was found and --missing zero scored it as a failure. */
  missing?: boolean;
}

export interface BratsEvalResult {
  convention: BratsConvention;
  cases: BratsCaseScore[];
  /** Means over cases. */
  mean: Record<BratsRegion, { dice: number; hd95: number }>;
}

function predictionOf(predDir: string, name: string): string | undefined {
  for (const p of [join(predDir, name, 'seg.nii.gz'), join(predDir, name, 'seg.nii'), join(predDir, `${name}.nii.gz`)])
    if (existsSync(p)) return p;
  return undefined;
}

export async function evaluateBrats(
  predDir: string,
  gtDir: string,
  convention: BratsConvention,
  o: { missing?: 'error' | 'zero'; write?: boolean } = {},
): Promise<BratsEvalResult> {
  const cases = findCases(gtDir).flatMap((c) => {
    const truth = caseTruth(c.dir);
    return truth ? [{ ...c, truth }] : [];
  });
  if (!cases.length)
    throw new TdsError(
      'BAD_DATASET',
      `${gtDir} holds no BraTS case with ground truth (OTMultiClass.nii.gz, <case>_seg.nii.gz or seg.nii.gz)`,
      'give the folder of case folders that have their segmentation',
    );
  const scores: BratsCaseScore[] = [];
  for (const c of cases) {
    const truth = await readNifti(c.truth);
    const predFile = predictionOf(predDir, c.name);
    if (!predFile) {
      if (o.missing !== 'zero')
        throw new TdsError(
          'ENOENT_INPUT',
          `no prediction for case ${c.name} in ${predDir} (looked for ${c.name}/seg.nii.gz and ${c.name}.nii.gz)`,
          'run tds process on that case, or pass --missing zero to score it as a failure',
        );
      const empty = new Uint8Array(truth.data.length);
      const s = bratsScores(empty, truth.data, truth.dims, truth.spacing, convention);
      scores.push({ case: c.name, regions: pick(s), missing: true });
      continue;
    }
    const pred = await readNifti(predFile);
    if (pred.dims.join('x') !== truth.dims.join('x'))
      throw new TdsError(
        'BAD_IMAGE',
        `${predFile} is ${pred.dims.join('x')} but the ground truth of ${c.name} is ${truth.dims.join('x')}`,
        'predict in the geometry of the input volume (tds process does)',
      );
    const s = bratsScores(pred.data, truth.data, truth.dims, truth.spacing, convention);
    scores.push({ case: c.name, regions: pick(s) });
  }
  const mean = Object.fromEntries(
    BRATS_REGIONS.map((r) => [
      r,
      {
        dice: scores.reduce((a, s) => a + s.regions[r].dice, 0) / scores.length,
        hd95: scores.reduce((a, s) => a + s.regions[r].hd95, 0) / scores.length,
      },
    ]),
  ) as BratsEvalResult['mean'];
  if (o.write !== false && existsSync(predDir)) {
    const head = ['case', ...BRATS_REGIONS.map((r) => `${r}_dice`), ...BRATS_REGIONS.map((r) => `${r}_hd95`)];
    const row = (name: string, v: Record<BratsRegion, { dice: number; hd95: number }>) =>
      [name, ...BRATS_REGIONS.map((r) => v[r].dice.toFixed(4)), ...BRATS_REGIONS.map((r) => v[r].hd95.toFixed(2))].join(
        ',',
      );
    await writeAtomic(
      join(predDir, 'eval-brats.csv'),
      [head.join(','), ...scores.map((s) => row(s.case, s.regions)), row('mean', mean)].join('\n') + '\n',
    );
  }
  return { convention, cases: scores, mean };
}

function pick(s: ReturnType<typeof bratsScores>): Record<BratsRegion, { dice: number; hd95: number }> {
  return Object.fromEntries(BRATS_REGIONS.map((r) => [r, { dice: s[r].dice, hd95: s[r].hd95 }])) as Record<
    BratsRegion,
    { dice: number; hd95: number }
  >;
}
