// `tds cv` on a volume dataset (BraTS): leave one case out. Each fold trains the 3D network on the other cases (a
// `tds train --hold-out CASE` child, resumable), segments the held-out case with `tds process`'s code path and
// scores it with the BraTS metrics (Dice and HD95 of WT, TC, ET); cv.json and cv.md hold the per-fold table and
// the means. With --final, a model on every case is trained too (the one to ship).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TdsError } from '../errors.js';
import { makeDirs, writeAtomic } from '../fs-safe.js';
import { caseTruth, findCases } from '../ingest/brats.js';
import type { Palette } from '../ingest/palette.js';
import { BRATS_REGIONS, type BratsRegion } from '../eval/brats.js';
import { bratsConvention, evaluateBrats } from '../eval/brats-eval.js';
import { processVolumes } from '../stream/process-volumes.js';
import { trainAll, type CvOptions, type RunStatus } from './cv.js';
import type { Train3dConfig } from './config3d.js';
import { scaleStageEnds } from './config.js';

export interface Cv3dFold {
  case: string;
  train: string[];
  regions: Record<BratsRegion, { dice: number; hd95: number }>;
  /** Sliding-window inference and whole-case time, ms. */
  inferMs: number;
  totalMs: number;
}

export interface Cv3dReport {
  config: string;
  data: string;
  folds: Cv3dFold[];
  mean: Record<BratsRegion, { dice: number; hd95: number }>;
  finalModel?: string;
}

/** A 3D run: started once state.json exists, finished when its model is written at the schedule's last epoch. */
function volumeRunStatus(total: number): RunStatus {
  return (runDir) => {
    const p = join(runDir, 'state.json');
    if (!existsSync(p)) return { started: false, finished: false, epochsDone: 0 };
    const s = JSON.parse(readFileSync(p, 'utf8')) as { epochsDone: number };
    return {
      started: true,
      finished: s.epochsDone >= total && existsSync(join(runDir, 'model', 'tds.json')),
      epochsDone: s.epochsDone,
    };
  };
}

export async function crossValidateVolumes(o: CvOptions, palette: Palette, t: Train3dConfig): Promise<Cv3dReport> {
  const convention = bratsConvention(palette)!;
  const cases = findCases(o.data).filter((c) => caseTruth(c.dir));
  if (cases.length < 2)
    throw new TdsError(
      'BAD_DATASET',
      `${o.data} holds ${cases.length} labelled case(s); leaving one out needs at least 2`,
      'give the folder of BraTS case folders (train/ and validation/ below it are searched too)',
    );
  const log = o.onLog ?? (() => {});
  makeDirs(o.out);
  const total = (o.epochsScale ? scaleStageEnds(t.stages, o.epochsScale) : t.stages).at(-1)!.untilEpoch;
  const status = volumeRunStatus(total);
  const runOf = (name: string) => join(o.out, `fold-${name}`, 'run');
  const finalRun = join(o.out, 'final', 'run');
  const runs = cases.map((c) => ({ dir: runOf(c.name), holdOut: c.name }));
  if (o.final) runs.push({ dir: finalRun, holdOut: 'none' });
  await trainAll(o, runs, log, status);
  const folds: Cv3dFold[] = [];
  for (const c of cases) {
    const pred = join(o.out, `fold-${c.name}`, 'pred');
    const run = await processVolumes(c.dir, { model: join(runOf(c.name), 'model'), out: pred, resume: true });
    const r = await evaluateBrats(pred, c.dir, convention);
    const rec = run.cases[0];
    folds.push({
      case: c.name,
      train: cases.filter((k) => k.name !== c.name).map((k) => k.name),
      regions: r.cases[0].regions,
      inferMs: rec.inferMs,
      totalMs: rec.totalMs,
    });
    log(`fold ${c.name}: WT Dice ${r.cases[0].regions.WT.dice.toFixed(3)}`);
  }
  const mean = Object.fromEntries(
    BRATS_REGIONS.map((reg) => [
      reg,
      {
        dice: folds.reduce((n, f) => n + f.regions[reg].dice, 0) / folds.length,
        hd95: folds.reduce((n, f) => n + f.regions[reg].hd95, 0) / folds.length,
      },
    ]),
  ) as Cv3dReport['mean'];
  const report: Cv3dReport = {
    config: o.config,
    data: resolve(o.data),
    folds,
    mean,
    ...(o.final ? { finalModel: join(finalRun, 'model') } : {}),
  };
  await writeAtomic(join(o.out, 'cv.json'), JSON.stringify(report, null, 2) + '\n');
  await writeAtomic(join(o.out, 'cv.md'), cv3dTable(report) + '\n');
  return report;
}

export function cv3dTable(r: Cv3dReport): string {
  const f3 = (v: number) => v.toFixed(3);
  const f1 = (v: number) => v.toFixed(1);
  const row = (name: string, g: Cv3dFold['regions'], extra: string) =>
    `| ${name} | ${BRATS_REGIONS.map((k) => `${f3(g[k].dice)} | ${f1(g[k].hd95)}`).join(' | ')} | ${extra} |`;
  return [
    '| held-out case | WT Dice | WT HD95 (mm) | TC Dice | TC HD95 | ET Dice | ET HD95 | inference s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.folds.map((f) => row(f.case, f.regions, (f.totalMs / 1000).toFixed(1))),
    row(
      `**mean (${r.folds.length})**`,
      r.mean,
      (r.folds.reduce((n, f) => n + f.totalMs, 0) / r.folds.length / 1000).toFixed(1),
    ),
  ].join('\n');
}
