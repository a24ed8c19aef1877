// Checkpoints and run state. A checkpoint is a model folder (+ optimizer state) written under a temp name
// and renamed into place; state.json, written last and atomically, is the only thing that says which
// checkpoints count. A kill -9 at any moment leaves the previous state and its checkpoints intact.
import { makeDirs, writeAtomic } from '../fs-safe.js';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from '../model/tf.js';
import { TdsError } from '../errors.js';
import type { TdsJsonInput } from '../model/model-dir.js';
import { loadModelDir, saveModelDir } from '../model/model-weights.js';

export interface EpochRecord {
  epoch: number;
  stage: string;
  lr: number;
  loss: { total: number; seg: number; cls: number; sync: number; scene: number };
  val: { challengeIoU: number; generalJaccard: number; presenceAcc: number; sceneAcc: number; frames: number };
  seconds: number;
  steps: number;
}

export interface RunState {
  version: 1;
  fingerprint: Record<string, unknown>;
  /** Epochs completed (cumulative over stages). */
  epochsDone: number;
  /** Checkpoint of the last completed epoch (or of an interrupted step), relative to RUN_DIR. */
  current?: string;
  /** Set when SIGINT stopped an epoch part-way: resume continues at this step. */
  partial?: { epoch: number; step: number; sums: EpochRecord['loss']; count: number };
  best: Record<string, { dir: string; epoch: number; challengeIoU: number }>;
  history: EpochRecord[];
  done?: boolean;
}

function writeError(path: string, e: unknown): TdsError {
  return new TdsError(
    'BAD_OUTPUT',
    `cannot write ${path}: ${(e as Error).message}`,
    'free disk space or make the run folder writable; earlier checkpoints are intact, resume with --resume',
  );
}

/** Writes model (+ optimizer) to RUN_DIR/rel atomically (temp folder, then rename). */
export async function saveCheckpoint(
  runDir: string,
  rel: string,
  model: tf.LayersModel,
  meta: TdsJsonInput,
  opt?: tf.Optimizer,
): Promise<void> {
  const final = join(runDir, rel);
  const tmp = `${final}.tmp-${process.pid}`;
  try {
    await rm(tmp, { recursive: true, force: true });
    makeDirs(tmp, 'checkpoint folder');
    await saveModelDir(tmp, model, meta);
    if (opt) {
      const weights = [...(await opt.getWeights()), ...adamPowers(opt)];
      const { data, specs } = await tf.io.encodeWeights(weights);
      await writeAtomic(join(tmp, 'optimizer.bin'), new Uint8Array(data as ArrayBuffer));
      await writeAtomic(join(tmp, 'optimizer.json'), JSON.stringify(specs));
    }
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    if (e instanceof TdsError) throw e;
    throw writeError(final, e);
  }
}

/** Copies a checkpoint's weights into `model` (same topology). */
export async function loadCheckpointWeights(runDir: string, rel: string, model: tf.LayersModel): Promise<void> {
  const { model: saved } = await loadModelDir(join(runDir, rel));
  try {
    model.setWeights(saved.getWeights());
  } finally {
    saved.dispose();
  }
}

/** Sets `model`'s weights to the element-wise mean of these checkpoints' weights (same topology), read one
 * checkpoint at a time: stochastic weight averaging over epochs. */
export async function loadAveragedWeights(runDir: string, rels: string[], model: tf.LayersModel): Promise<void> {
  if (!rels.length) throw new TdsError('TRAIN_FAILED', `${runDir}: no checkpoints to average`, 'check train.swa');
  let sums: Float64Array[] | undefined;
  for (const rel of rels) {
    const { model: saved } = await loadModelDir(join(runDir, rel));
    try {
      const ws = saved.getWeights().map((w) => w.dataSync() as Float32Array);
      sums ??= ws.map((w) => new Float64Array(w.length));
      ws.forEach((w, i) => {
        const acc = sums![i];
        for (let j = 0; j < w.length; j++) acc[j] += w[j];
      });
    } finally {
      saved.dispose();
    }
  }
  const shapes = model.getWeights().map((w) => w.shape);
  const mean = sums!.map((acc, i) =>
    tf.tensor(
      Float32Array.from(acc, (v) => v / rels.length),
      shapes[i],
    ),
  );
  try {
    model.setWeights(mean);
  } finally {
    tf.dispose(mean);
  }
}

export async function loadOptimizerState(runDir: string, rel: string, opt: tf.Optimizer): Promise<boolean> {
  const dir = join(runDir, rel);
  if (!existsSync(join(dir, 'optimizer.json'))) return false;
  const specs = JSON.parse(readFileSync(join(dir, 'optimizer.json'), 'utf8')) as tf.io.WeightsManifestEntry[];
  const data = await readFile(join(dir, 'optimizer.bin'));
  const map = tf.io.decodeWeights(data.buffer.slice(data.byteOffset, data.byteOffset + data.length), specs);
  await opt.setWeights(
    specs.filter((s) => !s.name.startsWith(POWER_PREFIX)).map((s) => ({ name: s.name, tensor: map[s.name] })),
  );
  // tfjs's Adam.setWeights recomputes beta^t with pow(), while training multiplies beta in each step: the two
  // differ in the last float32 bits, and Adam amplifies that over the following steps. Restore the products.
  for (const p of adamPowers(opt))
    if (map[p.name])
      (opt as unknown as Record<string, tf.Variable>)[p.name.slice(POWER_PREFIX.length)].assign(
        map[p.name] as tf.Scalar,
      );
  return true;
}

const POWER_PREFIX = 'tds/';

/** Adam's running beta1^t and beta2^t (kept by tfjs outside getWeights), as named tensors. */
function adamPowers(opt: tf.Optimizer): Array<{ name: string; tensor: tf.Tensor }> {
  const o = opt as unknown as Record<string, unknown>;
  return ['accBeta1', 'accBeta2']
    .filter((k) => o[k] instanceof tf.Variable)
    .map((k) => ({ name: POWER_PREFIX + k, tensor: o[k] as tf.Variable }));
}

export function readState(runDir: string): RunState | undefined {
  const p = join(runDir, 'state.json');
  if (!existsSync(p)) return undefined;
  return JSON.parse(readFileSync(p, 'utf8')) as RunState;
}

export async function writeState(runDir: string, s: RunState): Promise<void> {
  try {
    await writeAtomic(join(runDir, 'state.json'), JSON.stringify(s, null, 1));
  } catch (e) {
    throw writeError(join(runDir, 'state.json'), e);
  }
}

/** Removes checkpoint folders that state.json no longer references (and temp leftovers of a crash); the
 * end-of-epoch checkpoints of epochs >= keepFrom stay (weight averaging reads them at the end). */
export async function pruneCheckpoints(runDir: string, s: RunState, keepFrom = Infinity): Promise<void> {
  const dir = join(runDir, 'checkpoints');
  if (!existsSync(dir)) return;
  const keep = new Set(
    [s.current, ...Object.values(s.best).map((b) => b.dir), ...epochCheckpoints(s, keepFrom)]
      .filter(Boolean)
      .map((r) => r!.replace(/^checkpoints\//, '')),
  );
  for (const name of readdirSync(dir)) if (!keep.has(name)) await rm(join(dir, name), { recursive: true, force: true });
}

/** The end-of-epoch checkpoints (relative to the run folder) of the completed epochs >= from, in order. */
export function epochCheckpoints(s: RunState, from: number): string[] {
  return s.history.filter((h) => h.epoch >= from).map((h) => epochCheckpointName(h.epoch));
}

export const epochCheckpointName = (epoch: number, step?: number): string =>
  `checkpoints/e${String(epoch).padStart(4, '0')}${step !== undefined ? `-s${String(step).padStart(6, '0')}` : ''}`;

interface StageLike {
  name: string;
  a: number;
  b: number;
  g: number;
  lr: number;
  untilEpoch: number;
}

/**
 * What a resumed run may change: anything the epochs already started did not depend on. A schedule may be
 * lengthened or its later stages changed (a run that is still improving gets more epochs without starting
 * over); the stage, loss weights and rate of every started epoch must stay as they were.
 */
export function resumeConflicts(
  old: Record<string, unknown>,
  now: Record<string, unknown>,
  epochsStarted: number,
): string[] {
  const stagesOf = (f: Record<string, unknown>) => (f.train as { stages?: StageLike[] } | undefined)?.stages ?? [];
  const without = (f: Record<string, unknown>) => ({ ...f, train: { ...(f.train as object), stages: undefined } });
  const diff = diffFingerprints(without(old), without(now));
  const at = (stages: StageLike[], epoch: number) => {
    const s = stages.find((x) => epoch <= x.untilEpoch);
    return s && JSON.stringify({ name: s.name, a: s.a, b: s.b, g: s.g, lr: s.lr });
  };
  for (let e = 1; e <= epochsStarted; e++) {
    const [a, b] = [at(stagesOf(old), e), at(stagesOf(now), e)];
    if (a !== b) {
      diff.push(`train.stages at epoch ${e} (already run): ${a ?? 'none'} -> ${b ?? 'none'}`);
      break;
    }
  }
  // Stage boundaries inside the run so far matter too: a stage that ended before must still end there.
  for (const s of stagesOf(old)) {
    if (s.untilEpoch >= epochsStarted) continue;
    if (!stagesOf(now).some((x) => x.name === s.name && x.untilEpoch === s.untilEpoch))
      diff.push(`train.stages: stage ${s.name} ended at epoch ${s.untilEpoch} in this run; keep that boundary`);
  }
  return diff;
}

/** Paths where two fingerprints differ ("train.stages.1.lr: 0.0001 -> 0.0002"). */
export function diffFingerprints(a: unknown, b: unknown, path = ''): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  // An option added later (absent in the old run) that defaults to null changes nothing about that run.
  if ((a === undefined || a === null) && (b === undefined || b === null)) return [];
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) =>
      diffFingerprints((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k),
    );
  }
  return [`${path}: ${JSON.stringify(a)} -> ${JSON.stringify(b)}`];
}
