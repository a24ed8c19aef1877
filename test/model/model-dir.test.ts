import { describe, expect, it, beforeAll } from 'vitest';
import { join } from 'node:path';
import { readFileSync, writeFileSync, unlinkSync, mkdirSync } from 'node:fs';
import { tf } from '../../src/model/tf.js';
import { initModel } from '../../src/model/init.js';
import { readTdsJson } from '../../src/model/model-dir.js';
import { loadModelDir } from '../../src/model/model-weights.js';
import { buildTdsNet } from '../../src/model/profiles.js';
import { loadEncoderWeights } from '../../src/model/encoder-weights.js';
import { useBackend } from '../../src/model/backend.js';
import { loadPalette } from '../../src/ingest/palette.js';
import { TdsError } from '../../src/errors.js';
import { root, tmp, cli } from '../helpers.js';

const robot = loadPalette(join(root, 'configs', 'robot18.yaml'));

beforeAll(async () => {
  await useBackend('cpu');
});

/** Writes a tfjs weights manifest holding `weights` (name -> tensor) as one shard. */
function writeManifest(dir: string, weights: Record<string, tf.Tensor>): string {
  mkdirSync(dir, { recursive: true });
  const specs = Object.entries(weights).map(([name, t]) => ({ name, shape: t.shape, dtype: 'float32' as const }));
  const data = Buffer.concat(Object.values(weights).map((t) => Buffer.from(new Float32Array(t.dataSync()).buffer)));
  writeFileSync(join(dir, 'group1-shard1of1.bin'), data);
  const f = join(dir, 'weights_manifest.json');
  writeFileSync(f, JSON.stringify([{ paths: ['group1-shard1of1.bin'], weights: specs }]));
  return f;
}

describe('model folders', () => {
  it('init -> load round trip keeps weights, description and outputs', async () => {
    const dir = join(tmp(), 'm');
    const meta = await initModel(dir, { profile: 'fast', palette: robot, height: 64, width: 96, seed: 7 });
    expect(meta).toMatchObject({ profile: 'fast', inputSize: { height: 64, width: 96 }, params: 940_715 });
    const tj = readTdsJson(dir);
    expect(tj.classes[1]).toEqual({ id: 1, name: 'instrument-shaft', color: [0, 255, 0] });
    expect(tj.scenes.map((s) => s.name)).toEqual(['preparing', 'peeling', 'incising']);
    expect(tj.normalization.mean).toEqual([0.485, 0.456, 0.406]);
    expect(tj.producedBy).toMatchObject({ tfjs: tf.version.tfjs, seed: 7 });
    const { model } = await loadModelDir(dir);
    const ref = buildTdsNet({ profile: 'fast', numClasses: 12, numScenes: 3, height: 64, width: 96, seed: 7 });
    const a = model.getLayer('t01').getWeights()[0].dataSync();
    const b = ref.getLayer('t01').getWeights()[0].dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    model.dispose();
    ref.dispose();
  });

  it('rejects missing or mismatched parts, naming what was expected', async () => {
    const dir = join(tmp(), 'm');
    await initModel(dir, { profile: 'fast', palette: robot, height: 64, width: 64 });
    const bin = readFileSync(join(dir, 'weights.bin'));
    writeFileSync(join(dir, 'weights.bin'), bin.subarray(0, bin.length - 400));
    await expect(loadModelDir(dir)).rejects.toThrow(/weights hold \d+ bytes but model.json declares \d+/);
    unlinkSync(join(dir, 'weights.bin'));
    await expect(loadModelDir(dir)).rejects.toThrow(/missing weights file weights\.bin/);
    writeFileSync(join(dir, 'weights.bin'), bin);
    const tj = JSON.parse(readFileSync(join(dir, 'tds.json'), 'utf8'));
    tj.classes = tj.classes.slice(0, 4);
    writeFileSync(join(dir, 'tds.json'), JSON.stringify(tj));
    await expect(loadModelDir(dir)).rejects.toThrow(/outputs are seg .*12\].*declares 4 classes and 3 scenes/);
    await expect(loadModelDir(join(dir, 'nope'))).rejects.toThrow(/model folder not found/);
    unlinkSync(join(dir, 'tds.json'));
    await expect(loadModelDir(dir)).rejects.toBeInstanceOf(TdsError);
  });

  it('2D and 3D tds.json readers refuse a missing folder, a missing file, broken JSON and a bad field alike', async () => {
    const { readTds3dJson } = await import('../../src/model/model3d-dir.js');
    const base = tmp();
    for (const read of [readTdsJson, readTds3dJson]) {
      const dir = join(base, read.name);
      expect(() => read(dir)).toThrow(`model folder not found: ${dir}`);
      mkdirSync(dir);
      expect(() => read(dir)).toThrow(`${dir} has no tds.json, so it is not a tds model folder`);
      writeFileSync(join(dir, 'tds.json'), '{"format": ');
      expect(() => read(dir)).toThrow(`${join(dir, 'tds.json')} is not valid JSON`);
      writeFileSync(join(dir, 'tds.json'), '{"format": "something-else"}');
      expect(() => read(dir)).toThrow(new RegExp(`${join(dir, 'tds.json')}: format: `));
      try {
        read(dir);
      } catch (e) {
        expect(e).toBeInstanceOf(TdsError);
        expect((e as TdsError).code).toBe('BAD_MODEL');
      }
    }
  });

  it('loads VGG16 encoder weights by Keras layer name from a tfjs manifest', async () => {
    const model = buildTdsNet({ profile: 'paper', numClasses: 12, numScenes: 3, height: 64, width: 64 });
    try {
      const weights: Record<string, tf.Tensor> = {};
      for (const l of model.layers.filter((x) => /^block\d_conv\d$/.test(x.name))) {
        const [k, bias] = l.getWeights();
        weights[`${l.name}/kernel`] = tf.fill(k.shape, 0.001 * Number(l.name[5]));
        weights[`${l.name}/bias`] = tf.fill(bias.shape, 0.5);
      }
      const file = writeManifest(join(tmp(), 'vgg'), weights);
      expect(loadEncoderWeights(model, file)).toBe(13);
      expect(model.getLayer('block3_conv2').getWeights()[0].dataSync()[0]).toBeCloseTo(0.003, 6);
      expect(model.getLayer('block5_conv3').getWeights()[1].dataSync()[7]).toBe(0.5);

      const missing = { ...weights };
      delete missing['block5_conv3/kernel'];
      expect(() => loadEncoderWeights(model, writeManifest(join(tmp(), 'vgg2'), missing))).toThrow(
        /has no block5_conv3\/kernel/,
      );
      const wrong = { ...weights, 'block1_conv1/kernel': tf.zeros([3, 3, 1, 64]) };
      expect(() => loadEncoderWeights(model, writeManifest(join(tmp(), 'vgg3'), wrong))).toThrow(
        /block1_conv1\/kernel has shape \[3,3,1,64\] but the encoder expects \[3,3,3,64\]/,
      );
    } finally {
      model.dispose();
    }
  });

  it('tds model init / summary from the CLI', () => {
    const dir = join(tmp(), 'cli-m');
    const r = cli(['model', 'init', '--out', dir, '--profile', 'fast', '--size', '128x160']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/created fast model .*940,715 params/);
    const s = cli(['model', 'summary', dir, '--json', '--size', '256x320']);
    expect(s.code).toBe(0);
    const j = JSON.parse(s.stdout);
    expect(j).toMatchObject({ profile: 'fast', params: 940_715, inputSize: { height: 256, width: 320 } });
    expect(j.gflops).toBeGreaterThan(0.5);
    expect(j.gflops).toBeLessThanOrEqual(3);
    expect(j.classes).toHaveLength(12);
    expect(j.scenes).toEqual(['preparing', 'peeling', 'incising']);
    expect(cli(['model', 'init', '--out', dir, '--profile', 'tiny']).stderr).toMatch(/^tds: unknown profile "tiny"/);
    expect(cli(['model', 'init', '--out', dir, '--size', '100x100']).code).toBe(1);
  });
});
