// `tds train` as a library function: the staged TDS schedule over frame sequences with validation after every
// epoch, best checkpoint per stage (the next stage starts from it with a fresh Adam, as the official code does),
// resumable at the last completed epoch or interrupted step, and a final model folder with model.onnx.
import { makeDirs, writeAtomic } from '../fs-safe.js';
import { existsSync, statSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { tf } from '../model/tf.js';
import { TdsError } from '../errors.js';
import { useBackend, type BackendName } from '../model/backend.js';
import { buildTdsNet } from '../model/profiles.js';
import { describeModel } from '../model/init.js';
import type { TdsJsonInput } from '../model/model-dir.js';
import { saveModelDir } from '../model/model-weights.js';
import { exportModelDir } from '../model/onnx-file.js';
import { IMAGENET } from '../model/preprocess.js';
import { trainStep, type StepLosses } from './step.js';
import { loadSamples, SampleCache } from './dataset.js';
import { epochSeed, makeBatch, shuffled, stepSeed } from './batches.js';
import { validate } from './validate.js';
import { curvesSvg } from './curves.js';
import {
  epochCheckpointName,
  epochCheckpoints,
  loadAveragedWeights,
  resumeConflicts,
  loadCheckpointWeights,
  loadOptimizerState,
  pruneCheckpoints,
  readState,
  saveCheckpoint,
  writeState,
  type EpochRecord,
  type RunState,
} from './checkpoint.js';
import type { RunConfig } from './config.js';

export interface TrainProgress {
  stage: string;
  stageIndex: number;
  epoch: number;
  totalEpochs: number;
  step: number;
  steps: number;
  losses: StepLosses;
  lastValIoU?: number;
  /** Estimated time left for the whole run, from the mean step time so far. */
  etaSeconds: number;
}

export interface TrainOptions {
  config: RunConfig;
  data: string;
  out: string;
  backend?: BackendName;
  resume?: boolean;
  /** Aborting finishes the current step, saves, and returns with `interrupted: true`. */
  signal?: AbortSignal;
  onProgress?: (p: TrainProgress) => void;
  onEpoch?: (r: EpochRecord) => void;
  /** Recorded in the final model's tds.json. */
  command?: string;
}

export interface TrainResult {
  interrupted: boolean;
  epochsDone: number;
  history: EpochRecord[];
  best: RunState['best'];
  modelDir?: string;
  backend: string;
  trainFrames: number;
  valFrames: number;
}

const zeroLoss = (): EpochRecord['loss'] => ({ total: 0, seg: 0, cls: 0, sync: 0, scene: 0 });

export async function train(o: TrainOptions): Promise<TrainResult> {
  const { palette, train: cfg } = o.config;
  if (existsSync(o.out) && !statSync(o.out).isDirectory())
    throw new TdsError('BAD_OUTPUT', `run folder ${o.out} is a file`, 'give a folder path with --out');
  const fingerprint = {
    train: cfg,
    classes: palette.classes.map((c) => c.name),
    scenes: palette.scenes.map((s) => ({ name: s.name, sequences: s.sequences })),
    data: resolve(o.data),
  };
  let state: RunState = openRunState(o.out, fingerprint, !!o.resume, cfg.stages[cfg.stages.length - 1].untilEpoch);
  makeDirs(join(o.out, 'checkpoints'), 'run folder');
  const backend = await useBackend(o.backend ?? 'wasm');
  const split = await loadSamples(o.data, palette, cfg.validation.sequences, cfg.select === 'last');
  const cache = new SampleCache(palette, split.layout, cfg.cacheMB * 2 ** 20);
  const [H, W] = cfg.size;
  const C = palette.classes.length;
  const classNames = palette.classes.map((c) => c.name);
  const norm = IMAGENET;
  const model = buildTdsNet({
    profile: cfg.profile,
    numClasses: C,
    numScenes: palette.scenes.length,
    height: H,
    width: W,
    seed: cfg.seed,
    instanceNormBlocks: cfg.instanceNormBlocks ?? 0,
    encoderWidth: cfg.encoderWidth ?? 1,
  });
  const meta = (extra: Record<string, unknown> = {}): TdsJsonInput =>
    describeModel(model, {
      profile: cfg.profile,
      palette,
      height: H,
      width: W,
      normalization: norm,
      producedBy: {
        command: o.command ?? 'train',
        config: o.config.source,
        data: resolve(o.data),
        train: cfg,
        ...extra,
      },
    });
  const totalEpochs = cfg.stages[cfg.stages.length - 1].untilEpoch;
  const steps = Math.ceil(split.train.length / cfg.batchSize);
  const t0 = performance.now();
  let stepsRun = 0;
  const result = (interrupted: boolean, modelDir?: string): TrainResult => ({
    interrupted,
    epochsDone: state.epochsDone,
    history: state.history,
    best: state.best,
    modelDir,
    backend,
    trainFrames: split.train.length,
    valFrames: split.val.length,
  });

  try {
    for (const [si, stage] of cfg.stages.entries()) {
      const prevUntil = si ? cfg.stages[si - 1].untilEpoch : 0;
      if (state.epochsDone >= stage.untilEpoch) continue;
      const opt: tf.Optimizer = tf.train.adam(stage.lr);
      try {
        const resuming = state.epochsDone > prevUntil || (state.partial && state.partial.epoch > prevUntil);
        if (resuming && state.current) {
          await loadCheckpointWeights(o.out, state.current, model);
          await loadOptimizerState(o.out, state.current, opt);
        } else if (si > 0) {
          // Official schedule: each stage starts from the previous stage's best checkpoint, with a fresh optimizer.
          const prev = state.best[cfg.stages[si - 1].name];
          if (prev) await loadCheckpointWeights(o.out, prev.dir, model);
        }
        for (let epoch: number = Math.max(state.epochsDone, prevUntil) + 1; epoch <= stage.untilEpoch; epoch++) {
          const e0 = performance.now();
          const order = shuffled(split.train, epochSeed(cfg.seed, epoch));
          const partial = state.partial?.epoch === epoch ? state.partial : undefined;
          const sums = partial ? { ...partial.sums } : zeroLoss();
          let count = partial?.count ?? 0;
          for (let step = partial?.step ?? 0; step < steps; step++) {
            if (o.signal?.aborted) {
              const rel = epochCheckpointName(epoch, step);
              await saveCheckpoint(o.out, rel, model, meta({ interruptedAt: { epoch, step } }), opt);
              state = { ...state, current: rel, partial: { epoch, step, sums, count } };
              await writeState(o.out, state);
              await pruneCheckpoints(o.out, state, cfg.swa?.fromEpoch);
              return result(true);
            }
            const batch = await makeBatch(
              cache,
              order.slice(step * cfg.batchSize, (step + 1) * cfg.batchSize),
              cfg,
              norm,
              C,
              stepSeed(cfg.seed, epoch, step),
              split.train,
            );
            let l: StepLosses;
            try {
              l = trainStep(model, opt, batch, stage, cfg.syncMode, cfg.segClassWeights);
            } finally {
              tf.dispose([batch.images, batch.oneHot, batch.sceneIds]);
            }
            if (!Number.isFinite(l.total))
              throw new TdsError(
                'BAD_OPTION',
                `training diverged at epoch ${epoch}, step ${step} (loss ${l.total})`,
                `lower the learning rate of stage ${stage.name}`,
              );
            for (const k of Object.keys(sums) as Array<keyof StepLosses>) sums[k] += l[k];
            count++;
            stepsRun++;
            const perStep = (performance.now() - t0) / 1000 / stepsRun;
            const left = (totalEpochs - epoch) * steps + (steps - step - 1);
            o.onProgress?.({
              stage: stage.name,
              stageIndex: si,
              epoch,
              totalEpochs,
              step: step + 1,
              steps,
              losses: l,
              lastValIoU: state.history.at(-1)?.val.challengeIoU,
              etaSeconds: left * perStep,
            });
          }
          const val = await validate(model, split.val, cache, cfg.size, norm, classNames);
          const loss = Object.fromEntries(
            Object.entries(sums).map(([k, v]) => [k, v / Math.max(count, 1)]),
          ) as EpochRecord['loss'];
          const record: EpochRecord = {
            epoch,
            stage: stage.name,
            lr: stage.lr,
            loss,
            val,
            seconds: (performance.now() - e0) / 1000,
            steps: count,
          };
          state = await endEpoch(o.out, state, {
            model,
            opt,
            record,
            keepAsBest: cfg.select === 'last',
            meta,
            keepFrom: cfg.swa?.fromEpoch,
          });
          o.onEpoch?.(record);
        }
      } finally {
        opt.dispose();
      }
    }
    // The final model: the last stage's best checkpoint (or the mean of the averaged epochs' weights),
    // exported to ONNX for the default engine.
    const last = state.best[cfg.stages[cfg.stages.length - 1].name];
    const averaged = cfg.swa ? epochCheckpoints(state, cfg.swa.fromEpoch) : [];
    if (cfg.swa) await loadAveragedWeights(o.out, averaged, model);
    else if (last) await loadCheckpointWeights(o.out, last.dir, model);
    const modelDir = join(o.out, 'model');
    const lastVal = cfg.swa ? undefined : state.history.find((h) => h.epoch === last?.epoch)?.val;
    const swa = cfg.swa
      ? { swa: { fromEpoch: cfg.swa.fromEpoch, toEpoch: state.epochsDone, epochs: averaged.length } }
      : {};
    await saveModelDir(
      modelDir,
      model,
      meta({ epochs: state.epochsDone, val: lastVal, bestEpoch: cfg.swa ? undefined : last?.epoch, ...swa }),
    );
    await exportModelDir(modelDir);
    state = { ...state, done: true };
    await writeState(o.out, state);
    return result(false, modelDir);
  } finally {
    model.dispose();
  }
}

/**
 * The end of an epoch: its checkpoint (with the optimizer, for resuming), the stage's best checkpoint when this
 * epoch is the best so far on validation (or always, with select: last), then state.json, metrics.jsonl and
 * curves.svg, and old checkpoints pruned. Returns the new state.
 */
async function endEpoch(
  out: string,
  state: RunState,
  e: {
    model: tf.LayersModel;
    opt: tf.Optimizer;
    record: EpochRecord;
    keepAsBest: boolean;
    meta: (extra: Record<string, unknown>) => TdsJsonInput;
    /** Keep every end-of-epoch checkpoint from this epoch on (weight averaging). */
    keepFrom?: number;
  },
): Promise<RunState> {
  const { epoch, stage, val } = e.record;
  const rel = epochCheckpointName(epoch);
  await saveCheckpoint(out, rel, e.model, e.meta({ epoch, val }), e.opt);
  const best: RunState['best'] = { ...state.best };
  const prevBest = best[stage];
  if (!prevBest || e.keepAsBest || val.challengeIoU > prevBest.challengeIoU || Number.isNaN(prevBest.challengeIoU)) {
    const bestRel = `checkpoints/best-${stage}-e${String(epoch).padStart(4, '0')}`;
    await saveCheckpoint(out, bestRel, e.model, e.meta({ epoch, val, best: stage }));
    best[stage] = { dir: bestRel, epoch, challengeIoU: val.challengeIoU };
  }
  const next: RunState = {
    ...state,
    epochsDone: epoch,
    current: rel,
    partial: undefined,
    best,
    history: [...state.history, e.record],
  };
  await writeState(out, next);
  await writeRunFiles(out, next);
  await pruneCheckpoints(out, next, e.keepFrom);
  return next;
}

/**
 * The run state to start from: a fresh one, or the folder's own when resuming (refused without --resume, and
 * when the setup differs in anything the epochs already run depended on; a longer schedule continues it).
 */
function openRunState(out: string, fingerprint: Record<string, unknown>, resume: boolean, lastEpoch: number): RunState {
  const state = readState(out);
  if (state && !resume)
    throw new TdsError(
      'BAD_OUTPUT',
      `${out} already holds a training run (${state.epochsDone} epoch(s) done)`,
      'pass --resume to continue it, or choose another --out',
    );
  if (!state && resume)
    throw new TdsError(
      'BAD_OPTION',
      `--resume: ${out} holds no training run to resume`,
      'drop --resume to start a new run there',
    );
  if (!state) return { version: 1, fingerprint, epochsDone: 0, best: {}, history: [] };
  const started = state.epochsDone + (state.partial ? 1 : 0);
  const diff = resumeConflicts(state.fingerprint, fingerprint, started);
  if (diff.length)
    throw new TdsError(
      'BAD_OPTION',
      `cannot resume ${out} with a different setup: ${diff.slice(0, 5).join('; ')}`,
      `resume with the config, data and options of the original run (only stages after epoch ${started} may change), or start a new run`,
    );
  // A longer schedule continues a finished run; the fingerprint records the schedule now in force.
  return { ...state, fingerprint, done: state.done && state.epochsDone >= lastEpoch ? true : undefined };
}

/** metrics.jsonl (one line per epoch) and curves.svg, rewritten from the state so they never disagree with it. */
async function writeRunFiles(out: string, s: RunState): Promise<void> {
  await writeAtomic(join(out, 'metrics.jsonl'), s.history.map((h) => JSON.stringify(h)).join('\n') + '\n');
  await writeAtomic(
    join(out, 'curves.svg'),
    curvesSvg(
      s.history.map((h) => ({ epoch: h.epoch, stage: h.stage, loss: h.loss.total, valIoU: h.val.challengeIoU })),
    ),
  );
}
