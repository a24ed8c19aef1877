// Leave-one-sequence-out cross-validation (`tds cv`): one model per held-out sequence (for EndoVis 2015, one per
// surgery), each trained by `tds train --hold-out N` in its own process (tfjs trains on one core, so folds run
// side by side), then scored on its held-out sequence by `tds process` + `tds eval` under each inference variant
// (sizes, flip, small-region removal). Optionally also the final model on every sequence. The held-out sequence
// never picks an epoch (each stage keeps its last) nor a variant for its own fold: the variant that wins is
// chosen on the mean over all folds, and only the final model (trained on everything) gets it as its default.
import { makeDirs, writeAtomic } from '../fs-safe.js';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { readConfigFile } from '../ingest/config-file.js';
import { TdsError } from '../errors.js';
import { imageScenes, scanFolder } from '../ingest/folders.js';
import { detachedSchema, readTdsJson, writeTdsJson } from '../model/model-dir.js';
import type { EvalResult } from '../eval/metrics.js';
import { summarizeRefuge, type RefugeImage, type RefugeResult } from '../eval/refuge.js';
import { evaluateFolders } from '../eval/evaluate.js';
import { processInput } from '../stream/process.js';
import { ensembleFps } from '../model/ensemble-fps.js';
import { applyOverrides, loadRunConfig } from './config.js';
import { readState } from './checkpoint.js';
import { writeAveragedModel } from '../model/ensemble.js';

export interface Fold {
  /** The fold's name: its held-out sequence (leave one out) or `foldN` (k-fold). */
  name: string;
  /** The held-out sequences: folder names and numbers. */
  heldOut: Array<{ name: string; id: number }>;
  /** Sequences trained on (folder names). */
  train: string[];
}

function assertDistinct(sequences: Array<{ name: string; id: number }>, k: number): void {
  if (sequences.length < k)
    throw new TdsError(
      'BAD_DATASET',
      `cross-validation needs at least ${k} sequences, found ${sequences.length}`,
      'give a dataset with several sequences (surgeries / videos / images)',
    );
  const ids = sequences.map((s) => s.id);
  if (new Set(ids).size !== ids.length)
    throw new TdsError(
      'BAD_DATASET',
      `sequence numbers repeat (${ids.join(', ')}): a fold holds out numbers`,
      'number every sequence differently (OP1, OP2, ... or seq_1, seq_2, ...)',
    );
}

/** k folds of whole sequences (fundus: one image each), stratified by `strata` (e.g. glaucoma/normal) so every
 * fold holds each kind in proportion: sequences sorted by stratum then name are dealt out in turn. */
export function kFolds(
  sequences: Array<{ name: string; id: number }>,
  k: number,
  strata?: Map<string, string>,
): Fold[] {
  assertDistinct(sequences, k);
  const sorted = [...sequences].sort(
    (a, b) =>
      (strata?.get(a.name) ?? '').localeCompare(strata?.get(b.name) ?? '') ||
      a.name.localeCompare(b.name, 'en', { numeric: true }),
  );
  const groups = Array.from({ length: k }, () => [] as Array<{ name: string; id: number }>);
  sorted.forEach((s, i) => groups[i % k].push(s));
  return groups.map((g, i) => ({
    name: `fold${i + 1}`,
    heldOut: g.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true })),
    train: sequences.filter((s) => !g.includes(s)).map((s) => s.name),
  }));
}

/** Leave one sequence out: one fold per sequence. Needs two or more sequences with distinct numbers. */
export function losoFolds(sequences: Array<{ name: string; id: number }>): Fold[] {
  assertDistinct(sequences, 2);
  return sequences.map((s) => ({
    name: s.name,
    heldOut: [{ name: s.name, id: s.id }],
    train: sequences.filter((t) => t.id !== s.id).map((t) => t.name),
  }));
}

const sizeSchema = z.string().regex(/^\d+x\d+$/, 'HxW');
const variantSchema = z.object({
  name: z.string().regex(/^[\w.-]+$/, 'letters, digits, - _ .'),
  /** HxW input sizes; empty = the model's training size. */
  sizes: z.array(sizeSchema).default([]),
  flip: z.boolean().default(false),
  minArea: z.number().int().min(0).default(0),
  /** Two-stage inference: segment again a square crop `scale` x the region of `classes` found by the first pass. */
  roi: z
    .object({ classes: z.array(z.number().int().min(0)).min(1), scale: z.number().positive() })
    .strict()
    .nullable()
    .default(null),
  /** One pass keeping only the largest connected region of these classes. */
  largest: z.array(z.number().int().min(0)).min(1).nullable().default(null),
  /** Remove foreground regions that do not reach the edge of the view (`{}`: the measured defaults). */
  detached: detachedSchema.nullable().default(null),
});
export type Variant = z.infer<typeof variantSchema>;

/** Default variants: the model's size alone, and the multi-size + flip ensemble, each with and without
 * small-region removal. */
export const DEFAULT_VARIANTS: Variant[] = [
  { name: 'single', sizes: [], flip: false, minArea: 0, roi: null, largest: null, detached: null },
  { name: 'single-minarea', sizes: [], flip: false, minArea: 150, roi: null, largest: null, detached: null },
  { name: 'ensemble', sizes: [], flip: true, minArea: 0, roi: null, largest: null, detached: null },
  { name: 'ensemble-minarea', sizes: [], flip: true, minArea: 150, roi: null, largest: null, detached: null },
];

const cvSchema = z
  .object({
    variants: z.array(variantSchema).min(1).default(DEFAULT_VARIANTS),
    /** `loso` (leave one sequence out) or k folds of whole sequences (stratified by scene where images have one). */
    folds: z.union([z.literal('loso'), z.number().int().min(2)]).default('loso'),
  })
  .strict();

/** The `cv` section of a config (variants to score); defaults when absent. */
export function loadCvSection(configFile: string): z.infer<typeof cvSchema> {
  const obj = readConfigFile(configFile);
  const r = cvSchema.safeParse(obj.cv ?? {});
  if (!r.success) {
    const i = r.error.issues[0];
    throw new TdsError(
      'BAD_OPTION',
      `${configFile}: cv.${i.path.join('.')}: ${i.message}`,
      'see configs/endovis15-rigid.yaml for the cv section',
    );
  }
  return r.data;
}

export interface FoldScore {
  fold: string;
  variant: string;
  frames: number;
  /** Binary foreground (every class but background) IoU and Dice, pooled over the held-out pixels. */
  foregroundIoU: number;
  foregroundDice: number;
  /** Mean over frames of the per-frame foreground IoU. */
  foregroundFrameIoU: number;
  /** Per class, pooled. */
  perClass: Record<string, { iou: number; dice: number }>;
  /** Mean of the pooled IoUs of the non-background classes. */
  meanClassIoU: number;
  /** The ROBOT18 challenge metric (per-frame mean over present classes, then over frames). */
  challengeIoU: number;
  /** Fundus configs: REFUGE's scores (per-image means; glaucoma AUC from the scene head and from the vCDR). */
  refuge?: {
    images: RefugeImage[];
    discDice: number;
    cupDice: number;
    vcdrMAE: number;
    aucScene: number;
    aucVcdr: number;
  };
}

export interface CvReport {
  config: string;
  data: string;
  folds: Fold[];
  scores: FoldScore[];
  /** Per variant: the mean over folds of each score. */
  means: Record<string, Omit<FoldScore, 'fold' | 'variant'>>;
  best: string;
  /** With a final model: engine-only fps of the variants measured on it (best first, until one is fast enough). */
  fps?: Record<string, number>;
  /** The variant the final model got as its default: the best one that runs at >= minFps. */
  default?: string;
  finalModel?: string;
}

export interface CvOptions {
  config: string;
  data: string;
  out: string;
  /** The tds CLI entry point that trains a fold (`node CLI train ...`). */
  cli: string;
  /** Trainings at once (default 2: one per core). */
  parallel?: number;
  /** Also train the final model on every sequence and give it the winning variant as its default. */
  final?: boolean;
  variants?: Variant[];
  epochsScale?: number;
  /** A variant qualifies as the final model's default only at this engine-only rate or more (default 25). */
  minFps?: number;
  /**
   * Scores this close to the best live variant's (binary + class IoU, or disc + cup Dice) count as equal: the
   * fastest of them becomes the default (default 0: the best-scoring live variant).
   */
  tolerance?: number;
  /** Instead of training: average the fold (and final) models of these earlier tds cv folders, same data. */
  average?: string[];
  /** Aborting stops every training in progress (each saves its progress; rerunning tds cv resumes them). */
  signal?: AbortSignal;
  onLog?: (msg: string) => void;
}

function scoreOf(
  fold: string,
  variant: string,
  r: EvalResult & { refuge?: RefugeResult },
  classNames: string[],
): FoldScore {
  const fgClasses = classNames.slice(1);
  const ious = fgClasses.map((n) => r.pooled.perClass[n]?.iou ?? NaN);
  return {
    ...(r.refuge ? { refuge: refugeScore(r.refuge.perImage) } : {}),
    fold,
    variant,
    frames: r.frames,
    foregroundIoU: r.pooled.foreground.iou,
    foregroundDice: r.pooled.foreground.dice,
    foregroundFrameIoU: r.pooled.foreground.frameMeanIoU,
    perClass: r.pooled.perClass,
    meanClassIoU: ious.reduce((a, b) => a + b, 0) / ious.length,
    challengeIoU: r.metrics.challengeIoU,
  };
}

/** REFUGE's scores of some images (a fold's, or every fold's pooled: AUC needs many images of both kinds). */
function refugeScore(rows: RefugeImage[]): NonNullable<FoldScore['refuge']> {
  const q = summarizeRefuge(rows);
  return {
    images: rows,
    discDice: q.discDice,
    cupDice: q.cupDice,
    vcdrMAE: q.vcdrMAE,
    aucScene: q.auc.scene,
    aucVcdr: q.auc.vcdr,
  };
}

function meanScores(scores: FoldScore[], classNames: string[]): Omit<FoldScore, 'fold' | 'variant'> {
  const m = (f: (s: FoldScore) => number) => scores.reduce((a, s) => a + f(s), 0) / scores.length;
  return {
    // REFUGE: per-image means and AUCs over every held-out image (each image is held out exactly once).
    ...(scores.every((s) => s.refuge) && scores.length
      ? { refuge: refugeScore(scores.flatMap((s) => s.refuge!.images)) }
      : {}),
    frames: scores.reduce((a, s) => a + s.frames, 0),
    foregroundIoU: m((s) => s.foregroundIoU),
    foregroundDice: m((s) => s.foregroundDice),
    foregroundFrameIoU: m((s) => s.foregroundFrameIoU),
    perClass: Object.fromEntries(
      classNames.map((n) => [
        n,
        { iou: m((s) => s.perClass[n]?.iou ?? NaN), dice: m((s) => s.perClass[n]?.dice ?? NaN) },
      ]),
    ),
    meanClassIoU: m((s) => s.meanClassIoU),
    challengeIoU: m((s) => s.challengeIoU),
  };
}

/** Runs `node CLI train ...` to completion; resumes a run folder that holds an unfinished run. */
/** Where a run folder stands: started (resume it), finished (its model is written), epochs done. */
export type RunStatus = (runDir: string) => { started: boolean; finished: boolean; epochsDone: number };

/** A 2D run (src/train/run.ts): finished when its state says done at the config's last epoch. */
function frameRunStatus(o: CvOptions): RunStatus {
  // A finished run is kept unless the config's schedule now runs longer (train then continues it).
  const total = applyOverrides(loadRunConfig(o.config).train, { epochsScale: o.epochsScale }).stages.at(-1)!.untilEpoch;
  return (runDir) => {
    const state = readState(runDir);
    return {
      started: !!state,
      finished: !!state?.done && state.epochsDone >= total,
      epochsDone: state?.epochsDone ?? 0,
    };
  };
}

/** Trains one fold (or the final model) as a `tds train` child; resumes a started run, skips a finished one. */
export function trainRun(
  o: CvOptions,
  runDir: string,
  holdOut: string,
  log: (m: string) => void,
  stop: AbortSignal,
  status: RunStatus = frameRunStatus(o),
): Promise<void> {
  const now = status(runDir);
  if (now.finished) {
    log(`${runDir}: already trained (${now.epochsDone} epochs)`);
    return Promise.resolve();
  }
  const state = now.started;
  const args = [
    o.cli,
    'train',
    '--config',
    o.config,
    '--data',
    o.data,
    '--out',
    runDir,
    '--hold-out',
    holdOut,
    ...(state ? ['--resume'] : []),
    ...(o.epochsScale ? ['--epochs-scale', String(o.epochsScale)] : []),
  ];
  log(`training ${runDir} (hold out ${holdOut})${state ? ', resuming' : ''}`);
  makeDirs(runDir, 'run folder');
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    // Stopping (Ctrl-C, SIGTERM, another fold's failure): the training saves its progress and exits; tds cv waits
    // for it, so no training outlives the command.
    const onStop = () => child.kill('SIGINT');
    stop.addEventListener('abort', onStop, { once: true });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('error', rej);
    child.on('exit', (code, signal) => {
      stop.removeEventListener('abort', onStop);
      if (code === 0 && status(runDir).finished) res();
      else if (code === 0 || code === 130 || code === 143)
        rej(
          new TdsError(
            'TRAIN_FAILED',
            `training ${runDir} stopped before its last epoch (interrupted)`,
            'run tds cv again: it resumes the run',
          ),
        );
      else
        rej(
          new TdsError(
            'TRAIN_FAILED',
            `training ${runDir} failed (${signal ?? `exit ${code}`}): ${err.trim().split('\n').pop() ?? ''}`,
            `see the run folder; tds cv resumes it when run again`,
          ),
        );
    });
  });
}

/**
 * Trains every run (fold or final) as a `tds train` child, `o.parallel` at a time. The caller's abort stops them
 * all (each saves its progress) and is reported once, saying that rerunning resumes them.
 */
export async function trainAll(
  o: CvOptions,
  runs: Array<{ dir: string; holdOut: string }>,
  log: (m: string) => void,
  status?: RunStatus,
): Promise<void> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.signal?.aborted) stop.abort();
  const tasks = runs.map((r) => () => trainRun(o, r.dir, r.holdOut, log, stop.signal, status));
  let failed: unknown;
  try {
    await pool(tasks, o.parallel ?? 2, stop);
  } catch (e) {
    failed = e;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
  // Stopped by the caller: the runs' "interrupted" rejections are that stop, said once.
  if (failed && !o.signal?.aborted) throw failed;
  if (o.signal?.aborted)
    throw new TdsError(
      'TRAIN_FAILED',
      `tds cv was stopped; every training in progress saved its progress in ${o.out}`,
      'run the same tds cv command again: it resumes them',
    );
}

/**
 * Runs at most `n` tasks at once. The first failure stops the others (`stop` is aborted) and is thrown once every
 * task has ended; no new task starts after `stop` is aborted.
 */
async function pool(tasks: Array<() => Promise<void>>, n: number, stop: AbortController): Promise<void> {
  let next = 0;
  let failure: { e: unknown } | undefined;
  const worker = async () => {
    while (next < tasks.length && !stop.signal.aborted) {
      try {
        await tasks[next++]();
      } catch (e) {
        failure ??= { e };
        stop.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, worker));
  if (failure) throw failure.e;
}

/**
 * The model folder that an earlier cross-validation gives one fold (`fold-OP1`, or `final`) of an average: a
 * finished training run (ROOT/fold-OP1/run/model) or a fold model kept without its run (ROOT/fold-OP1/tds.json,
 * as the shipped models keep their folds under cv/).
 */
export function averageMember(root: string, run: string): string {
  const runDir = resolve(root, run, 'run');
  if (existsSync(join(runDir, 'state.json'))) {
    if (!readState(runDir)?.done)
      throw new TdsError(
        'TRAIN_FAILED',
        `${runDir} is not a finished training run`,
        'finish that tds cv first (rerun it)',
      );
    return join(runDir, 'model');
  }
  const kept = resolve(root, run);
  if (existsSync(join(kept, 'tds.json'))) return kept;
  throw new TdsError(
    'TRAIN_FAILED',
    `${root} has no ${run}: neither a training run (${join(run, 'run', 'state.json')}) nor a model folder (${join(run, 'tds.json')})`,
    "give the --out folder of an earlier tds cv, or a model's cv/ folder of fold models",
  );
}

export async function crossValidate(o: CvOptions): Promise<CvReport> {
  const log = o.onLog ?? (() => {});
  const minFps = o.minFps ?? 25;
  const cfg = loadRunConfig(o.config);
  const classNames = cfg.palette.classes.map((c) => c.name);
  const section = loadCvSection(o.config);
  const variants = o.variants ?? section.variants;
  const ds = scanFolder(o.data);
  if (ds.layout === 'images')
    throw new TdsError(
      'BAD_DATASET',
      `${o.data} holds no labelled sequences`,
      'give a dataset folder with sequences and labels (EndoVis 2015 OPn, ROBOT18 seq_N, prepared)',
    );
  const seqs = ds.sequences.map((s) => ({ name: s.name, id: s.id }));
  const folds = section.folds === 'loso' ? losoFolds(seqs) : kFolds(seqs, section.folds, await imageScenes(ds));
  makeDirs(o.out);
  const runOf = (name: string) => join(o.out, `fold-${name}`, 'run');
  const finalRun = join(o.out, 'final', 'run');
  if (o.average) {
    // Averaged models: each fold's model runs the same fold's models of the other cv folders (the same held-out
    // surgery: nothing of it was seen by any member).
    const runs = [...folds.map((f) => `fold-${f.name}`), ...(o.final ? ['final'] : [])];
    for (const r of runs) {
      const members = o.average.map((root) => averageMember(root, r));
      await writeAveragedModel(join(o.out, r, 'run', 'model'), members, { producedBy: { averageOf: members } });
    }
  } else {
    const runs = folds.map((f) => ({ dir: runOf(f.name), holdOut: f.heldOut.map((h) => h.id).join(',') }));
    if (o.final) runs.push({ dir: finalRun, holdOut: 'none' });
    await trainAll(o, runs, log);
  }

  const [H, W] = cfg.train.size;
  // A variant without sizes runs the training size, plus 1.5x of it when it flips (the ensemble).
  const sizesOf = (v: Variant) =>
    (v.sizes.length
      ? v.sizes
      : v.flip
        ? [`${H}x${W}`, `${Math.round((H * 1.5) / 32) * 32}x${Math.round((W * 1.5) / 32) * 32}`]
        : [`${H}x${W}`]
    ).map((s) => {
      const [h, w] = s.split('x').map(Number);
      return { height: h, width: w };
    });
  const scores: FoldScore[] = [];
  for (const f of folds) {
    for (const v of variants) {
      const pred = join(o.out, `fold-${f.name}`, `pred-${v.name}`);
      const sizes = sizesOf(v);
      if (!existsSync(join(pred, 'run.json')) || !JSON.parse(readFileSync(join(pred, 'run.json'), 'utf8')).finished) {
        await processInput(o.data, {
          model: join(runOf(f.name), 'model'),
          out: pred,
          sequences: f.heldOut.map((h) => h.name),
          sizes,
          flip: v.flip,
          minArea: v.minArea,
          roi: v.roi,
          largest: v.largest,
          detached: v.detached,
          resume: existsSync(pred),
        });
      }
      const r = await evaluateFolders(pred, o.data, cfg.palette, { sequences: f.heldOut.map((h) => h.name) });
      const s = scoreOf(f.name, v.name, r, classNames);
      log(
        `fold ${f.name} ${v.name}: foreground IoU ${s.foregroundIoU.toFixed(3)}, class IoU ${classNames
          .slice(1)
          .map((n) => `${n} ${s.perClass[n].iou.toFixed(3)}`)
          .join(', ')}`,
      );
      scores.push(s);
    }
  }
  const means = Object.fromEntries(
    variants.map((v) => [
      v.name,
      meanScores(
        scores.filter((s) => s.variant === v.name),
        classNames,
      ),
    ]),
  );
  // The winner: best mean of foreground IoU and mean class IoU over the folds (never one fold's own choice); for
  // fundus data REFUGE's own criterion, disc Dice + cup Dice.
  const merit = (name: string) => {
    const q = means[name].refuge;
    return q ? q.discDice + q.cupDice : means[name].foregroundIoU + means[name].meanClassIoU;
  };
  const best = variants.map((v) => v.name).reduce((a, b) => (merit(b) > merit(a) ? b : a));
  const report: CvReport = { config: resolve(o.config), data: resolve(o.data), folds, scores, means, best };
  if (o.final) {
    // The model's default must also run live: the best-scoring variant whose engine-only rate on this machine
    // reaches minFps (the OR overlay's need), measured on the final model.
    const dir = join(finalRun, 'model');
    const measured = await chooseDefault(
      variants.map((v) => ({ name: v.name, merit: merit(v.name) })),
      async (name) => {
        const v = variants.find((x) => x.name === name)!;
        return Math.round((await ensembleFps(dir, { sizes: sizesOf(v), flip: v.flip })) * 10) / 10;
      },
      minFps,
      o.tolerance ?? 0,
    );
    report.fps = measured.fps;
    const chosen = variants.find((v) => v.name === measured.chosen)!;
    const within = measured.equalTo
      ? `, the fastest of those within ${o.tolerance} of the best live variant ${measured.equalTo}`
      : '';
    report.default = chosen.name;
    const meta = readTdsJson(dir);
    await writeTdsJson(dir, {
      ...meta,
      inference: {
        sizes: sizesOf(chosen),
        flip: chosen.flip,
        minArea: chosen.minArea,
        ...(chosen.roi ? { roi: chosen.roi } : {}),
        ...(chosen.largest ? { largest: chosen.largest } : {}),
        ...(chosen.detached ? { detached: chosen.detached } : {}),
        chosenBy: `tds cv: variant ${chosen.name}, the best mean ${means[chosen.name].refuge ? 'disc + cup Dice' : 'binary + class IoU'} over ${folds.length} cross-validation folds among those at >= ${minFps} fps engine-only${within} (${report.fps[chosen.name]} fps measured${chosen.roi ? ', one pass' : ''})`,
      },
    });
    report.finalModel = dir;
  }
  await writeAtomic(join(o.out, 'cv.json'), JSON.stringify(report, null, 2) + '\n');
  await writeAtomic(join(o.out, 'cv.md'), cvTable(report, classNames));
  return report;
}

/**
 * The final model's default variant: the best-scoring one whose engine-only rate reaches minFps (rates measured
 * best first, until one is fast enough; none fast enough: the fastest). With a tolerance, every variant scoring
 * within it of that one is measured too and the fastest of them wins: three folds cannot tell apart scores
 * closer than their spread, and the OR overlay gains from every frame per second.
 */
export async function chooseDefault(
  variants: Array<{ name: string; merit: number }>,
  fpsOf: (name: string) => Promise<number>,
  minFps: number,
  tolerance = 0,
): Promise<{ chosen: string; fps: Record<string, number>; equalTo?: string }> {
  const ranked = [...variants].sort((a, b) => b.merit - a.merit);
  const fps: Record<string, number> = {};
  let best: (typeof ranked)[number] | undefined;
  for (const v of ranked) {
    fps[v.name] = await fpsOf(v.name);
    if (fps[v.name] >= minFps) {
      best = v;
      break;
    }
  }
  if (!best) return { chosen: ranked.reduce((a, b) => (fps[b.name] > fps[a.name] ? b : a)).name, fps };
  let chosen = best;
  for (const v of ranked) {
    if (v.merit < best.merit - tolerance || v === best) continue;
    fps[v.name] ??= await fpsOf(v.name);
    if (fps[v.name] >= minFps && fps[v.name] > fps[chosen.name]) chosen = v;
  }
  return { chosen: chosen.name, fps, ...(chosen !== best ? { equalTo: best.name } : {}) };
}

/** The report as a Markdown table: per fold and mean, per variant. */
export function cvTable(r: CvReport, classNames: string[]): string {
  const fg = classNames.slice(1);
  const f = (x: number) => (Number.isNaN(x) ? '-' : x.toFixed(3));
  const head = `| variant | fold | frames | binary IoU | binary Dice | binary IoU (frame mean) | ${fg.map((n) => `${n} IoU | ${n} Dice`).join(' | ')} | mean class IoU | challenge IoU |`;
  const sep = `|${' --- |'.repeat(8 + fg.length * 2)}`;
  const row = (variant: string, fold: string, s: Omit<FoldScore, 'fold' | 'variant'>) =>
    `| ${variant} | ${fold} | ${s.frames} | ${f(s.foregroundIoU)} | ${f(s.foregroundDice)} | ${f(s.foregroundFrameIoU)} | ${fg.map((n) => `${f(s.perClass[n]?.iou ?? NaN)} | ${f(s.perClass[n]?.dice ?? NaN)}`).join(' | ')} | ${f(s.meanClassIoU)} | ${f(s.challengeIoU)} |`;
  const lines = [head, sep];
  for (const v of Object.keys(r.means)) {
    for (const s of r.scores.filter((x) => x.variant === v)) lines.push(row(v, s.fold, s));
    lines.push(row(`**${v}**`, '**mean**', r.means[v]));
  }
  if (Object.values(r.means).some((m) => m.refuge)) {
    // Fundus: REFUGE's own table (per-image means; AUC over the fold's images, and over all 50 in the mean row).
    lines.push(
      '',
      '| variant | fold | images | disc Dice | cup Dice | vCDR MAE | glaucoma AUC (vCDR) | glaucoma AUC (scene head) |',
      `|${' --- |'.repeat(8)}`,
    );
    const rrow = (v: string, fold: string, q: NonNullable<FoldScore['refuge']>) =>
      `| ${v} | ${fold} | ${q.images.length} | ${f(q.discDice)} | ${f(q.cupDice)} | ${f(q.vcdrMAE)} | ${f(q.aucVcdr)} | ${f(q.aucScene)} |`;
    for (const v of Object.keys(r.means)) {
      for (const s of r.scores.filter((x) => x.variant === v && x.refuge)) lines.push(rrow(v, s.fold, s.refuge!));
      if (r.means[v].refuge) lines.push(rrow(`**${v}**`, '**all**', r.means[v].refuge!));
    }
  }
  const dflt = r.default
    ? `\nDefault of the final model (best at >= the live rate): ${r.default}; engine-only fps measured: ${Object.entries(
        r.fps ?? {},
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}\n`
    : '';
  return `${lines.join('\n')}\n\nBest variant (mean over folds): ${r.best}\n${dflt}`;
}
