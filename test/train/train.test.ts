// tds train end to end on small synthetic data: the four stages, outputs, resume (signal and kill -9), bad input.
import { describe, expect, it, beforeAll } from 'vitest';
import { join } from 'node:path';
import { existsSync, readFileSync, writeFileSync, mkdirSync, unlinkSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { stringify } from 'yaml';
import { train } from '../../src/train/run.js';
import { applyOverrides, loadRunConfig, type RunConfig } from '../../src/train/config.js';
import { diffFingerprints, readState } from '../../src/train/checkpoint.js';
import { writeSynthDataset } from '../../src/ingest/synth-write.js';
import { loadPalette } from '../../src/ingest/palette.js';
import { readTdsJson } from '../../src/model/model-dir.js';
import { TdsError } from '../../src/errors.js';
import { root, tmp, cli, waitUntil } from '../helpers.js';

const robot = loadPalette(join(root, 'configs', 'robot18.yaml'));
let data: string;
let cfgFile: string;

/** The official schedule shrunk to one epoch per stage, 64x64, validation on seq_3. */
function smallConfig(dir: string, extra: Record<string, unknown> = {}): string {
  const base = loadRunConfig(join(root, 'configs', 'robot18.yaml'));
  const t = applyOverrides(base.train, { size: [64, 64], epochsScale: 1 / 70 });
  const doc = {
    dataset: 'robot18',
    labels: base.palette.labels,
    classes: base.palette.classes,
    scenes: base.palette.scenes,
    train: { ...t, seed: 3, validation: { sequences: [3] }, ...extra },
  };
  const f = join(dir, `cfg-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, stringify(doc));
  return f;
}

beforeAll(async () => {
  const d = tmp();
  data = join(d, 'synth');
  await writeSynthDataset(data, robot, { sequences: 3, frames: 2, seed: 5, width: 64, height: 64 });
  cfgFile = smallConfig(d);
});

describe('tds train', () => {
  it('runs the four stages end to end and writes metrics, curves, checkpoints and an exported model', async () => {
    const out = join(tmp(), 'run');
    const cfg = loadRunConfig(cfgFile);
    expect(cfg.train.stages.map((s) => [s.name, s.untilEpoch])).toEqual([
      ['seg', 1],
      ['class', 2],
      ['sync', 3],
      ['scene', 4],
    ]);
    const progress: number[] = [];
    const r = await train({ config: cfg, data, out, onProgress: (p) => progress.push(p.epoch) });
    expect(r).toMatchObject({ interrupted: false, epochsDone: 4, trainFrames: 4, valFrames: 2, backend: 'wasm' });
    expect(progress).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]);
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.epoch, l.stage])).toEqual([
      [1, 'seg'],
      [2, 'class'],
      [3, 'sync'],
      [4, 'scene'],
    ]);
    for (const l of lines) {
      expect(Object.keys(l.loss).sort()).toEqual(['cls', 'scene', 'seg', 'sync', 'total']);
      expect(l.val.challengeIoU).toBeGreaterThan(0);
      expect(l.val.presenceAcc).toBeGreaterThan(0);
      expect(l.val.sceneAcc === 0 || l.val.sceneAcc === 1).toBe(true);
    }
    // stage weights really switch on: class/sync/scene terms only count from their stage
    expect(lines[0].loss.total).toBeCloseTo(lines[0].loss.seg, 5);
    expect(lines[3].loss.total).toBeCloseTo(
      lines[3].loss.seg + 0.2 * lines[3].loss.cls + 0.6 * lines[3].loss.sync + 0.2 * lines[3].loss.scene,
      4,
    );
    const svg = readFileSync(join(out, 'curves.svg'), 'utf8');
    for (const s of ['seg', 'class', 'sync', 'scene']) expect(svg).toContain(`>${s}</text>`);
    const st = readState(out)!;
    expect(Object.keys(st.best).sort()).toEqual(['class', 'scene', 'seg', 'sync']);
    for (const b of Object.values(st.best)) expect(existsSync(join(out, b.dir, 'weights.bin'))).toBe(true);
    const meta = readTdsJson(join(out, 'model'));
    expect(meta.onnx?.file).toBe('model.onnx');
    expect(existsSync(join(out, 'model', 'model.onnx'))).toBe(true);
    expect(meta.producedBy).toMatchObject({ data: expect.stringContaining('synth') });
  });

  it('an interrupted run resumes to exactly the weights of an uninterrupted one', async () => {
    const straight = join(tmp(), 'straight');
    await train({ config: loadRunConfig(cfgFile), data, out: straight });
    const out = join(tmp(), 'interrupted');
    const ac = new AbortController();
    let n = 0;
    const r1 = await train({
      config: loadRunConfig(cfgFile),
      data,
      out,
      signal: ac.signal,
      onProgress: () => ++n === 6 && ac.abort(),
    });
    expect(r1).toMatchObject({ interrupted: true, epochsDone: 1 });
    expect(readState(out)!.partial).toMatchObject({ epoch: 2, step: 2 });
    await expect(train({ config: loadRunConfig(cfgFile), data, out })).rejects.toThrow(
      /already holds a training run .*pass --resume/,
    );
    const r2 = await train({ config: loadRunConfig(cfgFile), data, out, resume: true });
    expect(r2).toMatchObject({ interrupted: false, epochsDone: 4 });
    const a = new Float32Array(readFileSync(join(straight, 'model', 'weights.bin')).buffer.slice(0));
    const b = new Float32Array(readFileSync(join(out, 'model', 'weights.bin')).buffer.slice(0));
    expect(b.length).toBe(a.length);
    let max = 0;
    for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
    expect(max).toBe(0);
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(4);
  });

  it('survives kill -9 of the CLI and resumes from the last completed epoch', async () => {
    const out = join(tmp(), 'killed');
    const child = spawn(
      process.execPath,
      [join(root, 'dist', 'cli', 'index.js'), 'train', '--config', cfgFile, '--data', data, '--out', out],
      { stdio: 'ignore' },
    );
    expect(await waitUntil(() => (readState(out)?.epochsDone ?? 0) >= 1, 60_000)).toBe(true);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const r = cli(['train', '--config', cfgFile, '--data', data, '--out', out, '--resume', '--json']);
    expect(r.stderr).not.toMatch(/tds:/);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ interrupted: false, epochsDone: 4 });
    const epochs = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).epoch);
    expect(epochs).toEqual([1, 2, 3, 4]);
  });

  it('SIGINT: progress saved, exit 130 (not a finished run), --resume finishes', async () => {
    const out = join(tmp(), 'sigint');
    const child = spawn(
      process.execPath,
      [join(root, 'dist', 'cli', 'index.js'), 'train', '--config', cfgFile, '--data', data, '--out', out],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let stdout = '';
    child.stdout!.on('data', (d) => (stdout += d));
    expect(await waitUntil(() => (readState(out)?.epochsDone ?? 0) >= 1, 60_000)).toBe(true);
    child.kill('SIGINT');
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(130);
    expect(stdout).toMatch(/interrupted after \d+ complete epoch\(s\); progress saved/);
    expect(readState(out)!.done).toBeUndefined();
    const r = cli(['train', '--config', cfgFile, '--data', data, '--out', out, '--resume', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ interrupted: false, epochsDone: 4 });
  });

  it('refuses to resume with a different config, naming what differs', async () => {
    const out = join(tmp(), 'diff');
    const ac = new AbortController();
    await train({ config: loadRunConfig(cfgFile), data, out, signal: ac.signal, onProgress: () => ac.abort() });
    const other = loadRunConfig(cfgFile);
    other.train.stages[0].lr = 2e-4;
    await expect(train({ config: other, data, out, resume: true })).rejects.toThrow(
      /cannot resume .* train\.stages at epoch 1 \(already run\): .*"lr":0\.0001.* -> .*"lr":0\.0002/,
    );
    const sized = loadRunConfig(cfgFile);
    sized.train.size = [96, 96];
    await expect(train({ config: sized, data, out, resume: true })).rejects.toThrow(/train\.size\.0: 64 -> 96/);
  });

  it('an option added since a run started (default null) does not block its resume; one that is set does', () => {
    const old = { train: { augment: { hflip: 0.5 } } };
    expect(diffFingerprints(old, { train: { augment: { hflip: 0.5, paste: null } } })).toEqual([]);
    expect(diffFingerprints(old, { train: { augment: { hflip: 0.5, paste: { p: 0.4, classes: [1] } } } })).toEqual([
      'train.augment.paste: undefined -> {"p":0.4,"classes":[1]}',
    ]);
  });

  it('a finished run continues under a longer schedule; epochs already run stay as they were', async () => {
    const out = join(tmp(), 'longer');
    await train({ config: loadRunConfig(cfgFile), data, out });
    const before = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
    const longer = loadRunConfig(cfgFile);
    longer.train.stages.push({ name: 'scene-low', a: 0.2, b: 0.6, g: 0.2, lr: 1e-5, untilEpoch: 6 });
    const r = await train({ config: longer, data, out, resume: true });
    expect(r).toMatchObject({ interrupted: false, epochsDone: 6 });
    const after = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(after.slice(0, 4)).toEqual(before);
    expect(after.slice(4).map((l) => [JSON.parse(l).epoch, JSON.parse(l).stage, JSON.parse(l).lr])).toEqual([
      [5, 'scene-low', 1e-5],
      [6, 'scene-low', 1e-5],
    ]);
    expect(readState(out)).toMatchObject({ done: true, best: { 'scene-low': { epoch: 6 } } });
    expect(readTdsJson(join(out, 'model')).producedBy).toMatchObject({ epochs: 6, bestEpoch: 6 });
    // moving a boundary that the run already passed is refused
    const moved = loadRunConfig(cfgFile);
    moved.train.stages[0].untilEpoch = 2;
    moved.train.stages[1].untilEpoch = 3;
    moved.train.stages[2].untilEpoch = 5;
    moved.train.stages[3].untilEpoch = 6;
    await expect(train({ config: moved, data, out, resume: true })).rejects.toThrow(
      /train\.stages at epoch 2 \(already run\)/,
    );
  });
});

describe('tds train: stochastic weight averaging (train.swa)', () => {
  const weights = (dir: string) => new Float32Array(readFileSync(join(dir, 'weights.bin')).buffer.slice(0));

  it("the final model is the mean of the kept epochs' weights, and an interrupt + resume averages the same", async () => {
    const f = smallConfig(tmp(), { select: 'last', swa: { fromEpoch: 2 } });
    const out = join(tmp(), 'swa');
    await train({ config: loadRunConfig(f), data, out });
    const kept = ['e0002', 'e0003', 'e0004'].map((e) => join(out, 'checkpoints', e));
    for (const k of kept) expect(existsSync(join(k, 'weights.bin'))).toBe(true);
    expect(existsSync(join(out, 'checkpoints', 'e0001'))).toBe(false);
    const ws = kept.map(weights);
    const model = weights(join(out, 'model'));
    expect(model.length).toBe(ws[0].length);
    let max = 0;
    let moved = 0;
    for (let i = 0; i < model.length; i++) {
      max = Math.max(max, Math.abs(model[i] - (ws[0][i] + ws[1][i] + ws[2][i]) / 3));
      moved = Math.max(moved, Math.abs(model[i] - ws[2][i]));
    }
    expect(max).toBeLessThan(1e-6);
    expect(moved).toBeGreaterThan(1e-4); // not simply the last epoch
    expect(readTdsJson(join(out, 'model')).producedBy).toMatchObject({
      epochs: 4,
      swa: { fromEpoch: 2, toEpoch: 4, epochs: 3 },
    });

    // Stopped part-way through epoch 3: the kept epoch-2 checkpoint survives the pruning, the resumed run averages it.
    const out2 = join(tmp(), 'swa-interrupted');
    const ac = new AbortController();
    let n = 0;
    const r1 = await train({
      config: loadRunConfig(f),
      data,
      out: out2,
      signal: ac.signal,
      onProgress: () => ++n === 10 && ac.abort(),
    });
    expect(r1).toMatchObject({ interrupted: true, epochsDone: 2 });
    expect(existsSync(join(out2, 'checkpoints', 'e0002', 'weights.bin'))).toBe(true);
    await train({ config: loadRunConfig(f), data, out: out2, resume: true });
    const a = weights(join(out2, 'model'));
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - model[i]));
    expect(diff).toBe(0);
  });

  it.each([
    [
      { select: 'last', swa: { fromEpoch: 9 } },
      /train\.swa\.fromEpoch: swa\.fromEpoch 9 is after the last epoch \(4\)/,
    ],
    [{ select: 'best', swa: { fromEpoch: 2 } }, /train\.swa: swa averages every epoch .* set train\.select: last/],
    [{ select: 'last', swa: { fromEpoch: 0 } }, /train\.swa\.fromEpoch: /],
  ])('rejects %j', (extra, msg) => {
    expect(() => loadRunConfig(smallConfig(tmp(), extra))).toThrow(msg);
  });

  it('--epochs-scale scales the first averaged epoch with the schedule', () => {
    const base = loadRunConfig(join(root, 'configs', 'endovis15-rigid-in-swa.yaml')).train;
    expect(base.swa).toEqual({ fromEpoch: 43 });
    const t = applyOverrides(base, { epochsScale: 0.1 });
    expect(t.stages.at(-1)!.untilEpoch).toBe(7);
    expect(t.swa).toEqual({ fromEpoch: 4 });
  });
});

describe('tds train: seg class weights (train.segClassWeights)', () => {
  it.each([
    [{ segClassWeights: [1, 2] }, /train\.segClassWeights: 2 weights for 12 classes \(background-tissue, /],
    [{ segClassWeights: [1, 0, 1, 1, 1, 1, 1, 1] }, /train\.segClassWeights\.1: /],
  ])('rejects %j', (extra, msg) => {
    expect(() => loadRunConfig(smallConfig(tmp(), extra))).toThrow(msg);
  });
});

describe('tds train: bad input', () => {
  const cfg = (): RunConfig => loadRunConfig(cfgFile);
  it('a data folder with no sequences', async () => {
    const d = tmp();
    mkdirSync(join(d, 'empty'));
    await expect(train({ config: cfg(), data: join(d, 'empty'), out: join(d, 'r') })).rejects.toThrow(
      /has no sequences with labels/,
    );
  });

  it('frames without labels', async () => {
    const d = tmp();
    await writeSynthDataset(d, robot, { sequences: 3, frames: 1, seed: 1, width: 64, height: 64 });
    unlinkSync(join(d, 'seq_2', 'labels', 'frame000.png'));
    await expect(train({ config: cfg(), data: d, out: join(tmp(), 'r') })).rejects.toThrow(
      /frame .*seq_2\/left_frames\/frame000\.png has no label/,
    );
  });

  it('labels with unknown colours above the allowed fraction', async () => {
    const d = tmp();
    await writeSynthDataset(d, robot, { sequences: 3, frames: 1, seed: 1, width: 64, height: 64 });
    const { writePng } = await import('../../src/ingest/image-io.js');
    await writePng(join(d, 'seq_1', 'labels', 'frame000.png'), {
      data: Buffer.alloc(64 * 64 * 3, 50),
      width: 64,
      height: 64,
      channels: 3,
    });
    await expect(train({ config: cfg(), data: d, out: join(tmp(), 'r') })).rejects.toThrow(
      /100\.00% of pixels have colours not in the robot18 palette: \(50,50,50\) x 4096/,
    );
  });

  it('stages out of order / epochs not increasing', () => {
    const d = tmp();
    const f = smallConfig(d, {
      stages: [
        { name: 'seg', a: 0, b: 0, g: 0, lr: 1e-4, untilEpoch: 5 },
        { name: 'class', a: 0.2, b: 0, g: 0, lr: 1e-4, untilEpoch: 5 },
      ],
    });
    expect(() => loadRunConfig(f)).toThrow(
      /train\.stages\.1\.untilEpoch: stage class ends at epoch 5, not after stage seg \(5\)/,
    );
  });

  it('an unwritable run folder fails clearly and keeps earlier checkpoints', async () => {
    const d = tmp();
    writeFileSync(join(d, 'file'), 'x');
    await expect(train({ config: cfg(), data, out: join(d, 'file') })).rejects.toThrow(/run folder .* is a file/);
    const out = join(d, 'run');
    const ac = new AbortController();
    let n = 0;
    await train({ config: cfg(), data, out, signal: ac.signal, onProgress: () => ++n === 5 && ac.abort() });
    const before = readState(out)!;
    // The checkpoints folder becomes a file: every later write fails.
    rmSync(join(out, 'checkpoints'), { recursive: true });
    writeFileSync(join(out, 'checkpoints'), 'not a folder');
    const e = await train({ config: cfg(), data, out, resume: true }).catch((x) => x);
    expect(e).toBeInstanceOf(TdsError);
    expect(e.message).toMatch(/cannot (write|create)/);
    expect(readState(out)).toEqual(before);
  });

  it('the CLI reports a missing --resume target and bad options in one line', () => {
    const r = cli(['train', '--config', cfgFile, '--data', data, '--out', join(tmp(), 'none'), '--resume']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tds: --resume: .* holds no training run to resume/);
    expect(
      cli(['train', '--config', cfgFile, '--data', data, '--out', join(tmp(), 'x'), '--backend', 'gpu']).stderr,
    ).toMatch(/^tds: unknown --backend "gpu"/);
    expect(
      cli(['train', '--config', cfgFile, '--data', data, '--out', join(tmp(), 'x'), '--epochs-scale', '-1']).stderr,
    ).toMatch(/^tds: --epochs-scale must be a positive number/);
  });
});
