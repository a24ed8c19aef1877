// The committed demo model on synthetic sequences from a seed it never saw (training used seed 7).
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { statSync, readdirSync } from 'node:fs';
import { writeSynthDataset } from '../../src/ingest/synth-write.js';
import { loadPalette } from '../../src/ingest/palette.js';
import { processInput } from '../../src/stream/process.js';
import { evaluateFolders } from '../../src/eval/evaluate.js';
import { readTdsJson } from '../../src/model/model-dir.js';
import { root, tmp } from '../helpers.js';

const MODEL = join(root, 'models', 'demo');
const robot = loadPalette(join(root, 'configs', 'robot18.yaml'));

describe('demo model', () => {
  it('is a fast-profile model folder of at most 10 MB, trained by tds train', () => {
    const meta = readTdsJson(MODEL);
    expect(meta).toMatchObject({
      profile: 'fast',
      inputSize: { height: 256, width: 320 },
      onnx: { file: 'model.onnx', source: 'export' },
    });
    expect(String(meta.producedBy.command)).toMatch(/^tds train --config configs\/demo\.yaml/);
    const bytes = readdirSync(MODEL).reduce((n, f) => n + statSync(join(MODEL, f)).size, 0);
    expect(bytes).toBeLessThanOrEqual(10 * 2 ** 20);
  });

  it('segments unseen synthetic sequences with the challenge IoU the README reports', async () => {
    const d = tmp();
    // 32 frames: 0.923 here; 80 frames of seeds 99 / 1234 give 0.932 / 0.925 (README, Demo model).
    await writeSynthDataset(join(d, 'gt'), robot, { sequences: 8, frames: 4, seed: 99, width: 320, height: 256 });
    await processInput(join(d, 'gt'), { model: MODEL, out: join(d, 'pred'), minArea: 20 });
    const r = await evaluateFolders(join(d, 'pred'), join(d, 'gt'), robot);
    expect(r.frames).toBe(32);
    // The issue asks for >= 0.85 on a small unseen set and >= 0.90 on unseen sequences; this set meets 0.90.
    expect(r.metrics.challengeIoU).toBeGreaterThanOrEqual(0.9);
  });
});
