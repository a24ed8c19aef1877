// `tds train` on MRI volumes (BraTS case folders): the 3D TDS network (src/model/tds3d.ts) trained on random
// patches at the model's working resolution, half of them centred on tumour, with the staged TDS schedule (seg,
// +class, +sync; a fresh Adam at each stage, as the official code restarts its optimizer). One patch per step;
// an epoch is `stepsPerEpoch` patches. Progress is saved after every epoch (weights, Adam state, state.json) and
// `--resume` continues from it; an interrupt finishes the current step and keeps the epochs completed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../model/tf.js';
import { TdsError } from '../errors.js';
import { makeDirs, writeAtomic } from '../fs-safe.js';
import { useBackend, type BackendName } from '../model/backend.js';
import { ensureTrainingKernels } from '../model/kernels/index.js';
import { caseTruth, findCases, loadCase, scanCase, type Modality } from '../ingest/brats.js';
import type { Palette } from '../ingest/palette.js';
import { downsample2, halfDims, labelFractions, type Dims3 } from '../ingest/volume-resample.js';
import { forwardTds3d, tds3dVariables, tds3dWeightShapes, type Tds3dSpec, type Tds3dWeights } from '../model/tds3d.js';
import { tdsLoss3d } from '../model/losses3d.js';
import { packWeights, saveModel3d, unpackWeights } from '../model/model3d-dir.js';
import { BRATS_REGIONS, REGION_LABELS } from '../eval/brats.js';
import { bratsConvention } from '../eval/brats-eval.js';
import { diffFingerprints } from './checkpoint.js';
import { rng } from '../rng.js';
import type { Train3dConfig } from './config3d.js';

export interface Train3dOptions {
  palette: Palette;
  config: Train3dConfig;
  data: string;
  out: string;
  backend?: BackendName;
  resume?: boolean;
  signal?: AbortSignal;
  onEpoch?: (r: Epoch3dRecord) => void;
  command?: string;
}

export interface Epoch3dRecord {
  epoch: number;
  stage: string;
  lr: number;
  loss: { total: number; seg: number; cls: number; sync: number };
  seconds: number;
}

export interface Train3dResult {
  interrupted: boolean;
  epochsDone: number;
  cases: string[];
  modelDir?: string;
}

/** A training case at the model's resolution. */
interface Prepared {
  name: string;
  dims: Dims3;
  /** Intensities per modality, x fastest. */
  channels: Float32Array[];
  brain: Uint8Array;
  /** Per-class fractions, class-major. */
  fractions: Float32Array;
  /** Voxel indices inside the brain, and those mostly tumour (whole tumour). */
  brainVoxels: Int32Array;
  tumourVoxels: Int32Array;
}

/** Regions (WT, TC, ET) as class indices of the palette, from the BraTS convention of its dataset. */
export function paletteRegions(p: Palette): Array<{ name: string; classes: number[] }> {
  const conv = bratsConvention(p);
  if (!conv)
    throw new TdsError(
      'BAD_OPTION',
      `dataset ${p.dataset} is not a BraTS dataset (brats2015 / brats2018)`,
      'set dataset: brats2015 or brats2018',
    );
  return BRATS_REGIONS.map((r) => ({
    name: r,
    classes: REGION_LABELS[conv][r].map((v) => {
      const c = p.classes.findIndex((k) => k.value === v);
      if (c < 0)
        throw new TdsError(
          'BAD_PALETTE',
          `region ${r} needs label value ${v}, which no class has`,
          'list every BraTS label',
        );
      return c;
    }),
  }));
}

export function spec3d(p: Palette, t: Train3dConfig): Tds3dSpec {
  return {
    modalities: t.modalities.length,
    classes: p.classes.length,
    channels: t.channels,
    latent: t.latent,
    dilations: t.dilations,
    regions: paletteRegions(p).map((r) => r.classes),
  };
}

async function prepareCase(dir: string, name: string, p: Palette, t: Train3dConfig): Promise<Prepared> {
  const c = await loadCase(scanCase(dir, t.modalities as Modality[]));
  if (!c.labels) throw new TdsError('BAD_DATASET', `${dir} has no segmentation`, 'training cases need their labels');
  const full = c.reference.dims;
  const scaled = t.voxelScale === 2;
  const dims = scaled ? halfDims(full) : full;
  const values = p.classes.map((k) => k.value ?? k.id);
  let fractions: Float32Array;
  try {
    fractions = labelFractions(c.labels, full, values, t.voxelScale);
  } catch (e) {
    throw new TdsError('BAD_LABEL', `${c.case.truth}: ${(e as Error).message}`, 'check the config’s class values');
  }
  const channels = scaled ? c.channels.map((v) => downsample2(v, full)) : c.channels;
  const brainF = scaled ? downsample2(Float32Array.from(c.brain), full) : Float32Array.from(c.brain);
  const n = dims[0] * dims[1] * dims[2];
  const brain = new Uint8Array(n);
  const inBrain: number[] = [];
  const tumour: number[] = [];
  for (let i = 0; i < n; i++) {
    if (brainF[i] >= 0.5) {
      brain[i] = 1;
      inBrain.push(i);
    }
    if (1 - fractions[i] > 0.5) tumour.push(i);
  }
  return {
    name,
    dims,
    channels,
    brain,
    fractions,
    brainVoxels: Int32Array.from(inBrain),
    tumourVoxels: Int32Array.from(tumour),
  };
}

/** One training patch: input [1,pz,py,px,M] and soft targets [1,pz,py,px,C] (outside the volume: background). */
export function samplePatch(
  c: Prepared,
  t: Train3dConfig,
  C: number,
  rand: () => number,
): { x: Float32Array; y: Float32Array; shape: [number, number, number] } {
  const [px, py, pz] = t.patch;
  const [nx, ny, nz] = c.dims;
  const n = nx * ny * nz;
  const M = c.channels.length;
  const pool = rand() < t.foreground && c.tumourVoxels.length ? c.tumourVoxels : c.brainVoxels;
  const centre = pool.length ? pool[Math.floor(rand() * pool.length)] : Math.floor(rand() * n);
  const cx = centre % nx;
  const cy = Math.floor(centre / nx) % ny;
  const cz = Math.floor(centre / (nx * ny));
  // a random offset of the centre within the patch's middle half, so tumours are not always centred
  const start = (cc: number, p: number, size: number) => {
    const s = cc - Math.floor(p / 2) + Math.round((rand() - 0.5) * (p / 2));
    return size <= p ? Math.floor((size - p) / 2) : Math.min(Math.max(s, 0), size - p);
  };
  const [x0, y0, z0] = [start(cx, px, nx), start(cy, py, ny), start(cz, pz, nz)];
  const flip = rand() < t.augment.flip;
  const scale = c.channels.map(() => 1 + (rand() * 2 - 1) * t.augment.intensity);
  const shift = c.channels.map(() => (rand() * 2 - 1) * t.augment.intensity);
  const x = new Float32Array(pz * py * px * M);
  const y = new Float32Array(pz * py * px * C);
  for (let z = 0; z < pz; z++)
    for (let yy = 0; yy < py; yy++)
      for (let xx = 0; xx < px; xx++) {
        const o = (z * py + yy) * px + (flip ? px - 1 - xx : xx);
        const [vx, vy, vz] = [x0 + xx, y0 + yy, z0 + z];
        if (vx < 0 || vy < 0 || vz < 0 || vx >= nx || vy >= ny || vz >= nz) {
          y[o * C] = 1;
          continue;
        }
        const v = (vz * ny + vy) * nx + vx;
        const inside = c.brain[v];
        for (let m = 0; m < M; m++) x[o * M + m] = inside ? c.channels[m][v] * scale[m] + shift[m] : c.channels[m][v];
        for (let k = 0; k < C; k++) y[o * C + k] = c.fractions[k * n + v];
      }
  return { x, y, shape: [pz, py, px] };
}

interface State3d {
  version: 1;
  fingerprint: Record<string, unknown>;
  epochsDone: number;
  history: Epoch3dRecord[];
}

const stageAt = (t: Train3dConfig, epoch: number) => t.stages.find((s) => epoch <= s.untilEpoch)!;

async function saveProgress(out: string, w: Tds3dWeights, s: Tds3dSpec, opt: tf.Optimizer, state: State3d) {
  const dir = join(out, 'checkpoint');
  makeDirs(dir, 'checkpoint folder');
  await writeAtomic(join(dir, 'weights.bin'), packWeights(w, s));
  const named = await opt.getWeights();
  const parts = named.map((v) => v.tensor.dataSync() as Float32Array);
  const flat = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    flat.set(p, o);
    o += p.length;
  }
  await writeAtomic(join(dir, 'adam.bin'), new Uint8Array(flat.buffer));
  await writeAtomic(
    join(dir, 'adam.json'),
    JSON.stringify(named.map((v) => ({ name: v.name, shape: v.tensor.shape }))),
  );
  await writeAtomic(join(out, 'state.json'), JSON.stringify(state, null, 2) + '\n');
}

async function restoreAdam(dir: string, opt: tf.Optimizer): Promise<void> {
  const specs = JSON.parse(readFileSync(join(dir, 'adam.json'), 'utf8')) as Array<{ name: string; shape: number[] }>;
  const buf = readFileSync(join(dir, 'adam.bin'));
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  let o = 0;
  await opt.setWeights(
    specs.map((s) => {
      const n = s.shape.reduce((a, b) => a * b, 1);
      const t = tf.tensor(all.slice(o, o + n), s.shape);
      o += n;
      return { name: s.name, tensor: t };
    }),
  );
}

export async function train3d(o: Train3dOptions): Promise<Train3dResult> {
  const t = o.config;
  const p = o.palette;
  const spec = spec3d(p, t);
  const fingerprint = { train: t, dataset: p.dataset, classes: p.classes.map((c) => c.value ?? c.id) };
  const statePath = join(o.out, 'state.json');
  let state: State3d = { version: 1, fingerprint, epochsDone: 0, history: [] };
  if (existsSync(statePath)) {
    const old = JSON.parse(readFileSync(statePath, 'utf8')) as State3d;
    if (!o.resume)
      throw new TdsError(
        'BAD_OUTPUT',
        `${o.out} already holds a training run (${old.epochsDone} epochs)`,
        'continue it with --resume, or choose another --out',
      );
    // a lengthened schedule may continue; anything else would mix two recipes in one model
    const diff = diffFingerprints(
      { ...old.fingerprint, train: { ...(old.fingerprint.train as object), stages: null } },
      { ...fingerprint, train: { ...t, stages: null } },
    );
    if (diff.length)
      throw new TdsError(
        'BAD_OPTION',
        `${o.out} was trained with another config (${diff.slice(0, 3).join('; ')})`,
        'resume with the config the run started with, or choose another --out',
      );
    state = { ...old, fingerprint };
  }
  const last = t.stages[t.stages.length - 1].untilEpoch;
  await useBackend(o.backend ?? 'wasm');
  ensureTrainingKernels();
  const found = findCases(o.data).filter((c) => caseTruth(c.dir) && !t.holdOut.includes(c.name));
  if (!found.length)
    throw new TdsError(
      'BAD_DATASET',
      `${o.data} holds no labelled case outside the held-out ${t.holdOut.join(', ') || '(none)'}`,
      'give the folder of BraTS case folders (each with its modalities and segmentation)',
    );
  const cases: Prepared[] = [];
  for (const c of found) cases.push(await prepareCase(c.dir, c.name, p, t));
  const C = p.classes.length;
  const ckpt = join(o.out, 'checkpoint');
  const weights =
    state.epochsDone > 0 && existsSync(join(ckpt, 'weights.bin'))
      ? tds3dVariables(spec, unpackWeights(readFileSync(join(ckpt, 'weights.bin')), spec, join(ckpt, 'weights.bin')))
      : tds3dVariables(spec, undefined, t.seed);
  const vars = tds3dWeightShapes(spec).map(([name]) => weights.get(name)!);
  let stage = state.epochsDone < last ? stageAt(t, state.epochsDone + 1) : t.stages[t.stages.length - 1];
  let opt = tf.train.adam(stage.lr);
  if (state.epochsDone > 0 && state.epochsDone < last && stageAt(t, state.epochsDone).name === stage.name)
    await restoreAdam(ckpt, opt);
  let interrupted = false;
  try {
    for (let epoch = state.epochsDone + 1; epoch <= last; epoch++) {
      const s = stageAt(t, epoch);
      if (s.name !== stage.name) {
        opt.dispose();
        opt = tf.train.adam(s.lr);
        stage = s;
      }
      const t0 = performance.now();
      const sum = { total: 0, seg: 0, cls: 0, sync: 0 };
      let steps = 0;
      for (let step = 0; step < t.stepsPerEpoch; step++) {
        if (o.signal?.aborted) break;
        const rand = rng(t.seed * 1_000_003 + epoch * 10_007 + step);
        const c = cases[Math.floor(rand() * cases.length)];
        const b = samplePatch(c, t, C, rand);
        const terms: number[] = [];
        tf.tidy(() => {
          const x = tf.tensor5d(b.x, [1, ...b.shape, spec.modalities]);
          const y = tf.tensor5d(b.y, [1, ...b.shape, C]);
          opt.minimize(
            () => {
              const l = tdsLoss3d(forwardTds3d(weights, spec, x), y, spec.regions, s);
              terms.push(l.seg.dataSync()[0], l.cls.dataSync()[0], l.sync.dataSync()[0], l.total.dataSync()[0]);
              return l.total;
            },
            false,
            vars,
          );
        });
        sum.seg += terms[0];
        sum.cls += terms[1];
        sum.sync += terms[2];
        sum.total += terms[3];
        steps++;
      }
      if (steps < t.stepsPerEpoch) {
        interrupted = true;
        break;
      }
      const rec: Epoch3dRecord = {
        epoch,
        stage: s.name,
        lr: s.lr,
        loss: { total: sum.total / steps, seg: sum.seg / steps, cls: sum.cls / steps, sync: sum.sync / steps },
        seconds: (performance.now() - t0) / 1000,
      };
      state = { ...state, epochsDone: epoch, history: [...state.history, rec] };
      await saveProgress(o.out, weights, spec, opt, state);
      o.onEpoch?.(rec);
    }
    if (interrupted) return { interrupted, epochsDone: state.epochsDone, cases: cases.map((c) => c.name) };
    const modelDir = join(o.out, 'model');
    await saveModel3d(modelDir, weights, {
      spec,
      modalities: t.modalities,
      classes: p.classes.map((c) => ({ id: c.id, name: c.name, value: c.value ?? c.id, color: c.color })),
      regions: paletteRegions(p),
      voxelScale: t.voxelScale,
      patch: t.inference.patch ?? t.patch,
      inference: { overlap: t.inference.overlap, blend: t.inference.blend, minVoxels: t.inference.minVoxels },
      producedBy: {
        command: o.command ?? 'train',
        dataset: p.dataset,
        data: o.data,
        cases: cases.map((c) => c.name),
        epochs: last,
        stepsPerEpoch: t.stepsPerEpoch,
      },
    });
    return { interrupted: false, epochsDone: state.epochsDone, cases: cases.map((c) => c.name), modelDir };
  } finally {
    opt.dispose();
    weights.forEach((v) => v.dispose());
  }
}
