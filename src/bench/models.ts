// Bundled real-surgery model figures: engine-only frames per second (ORT, CPU) at its training size alone and
// with its tds.json inference defaults (the cross-validated ensemble), on a 640x480 frame, medians after warm-up.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../package-paths.js';
import { readTdsJson } from '../model/model-dir.js';
import { resolveInference } from '../model/inference-defaults.js';
import { createEnsemble } from '../stream/ensemble.js';
import { synthSequence } from '../ingest/synth.js';
import { median, type BenchOptions, type BenchResult } from './run.js';

async function fps(dir: string, o: { sizes: Array<{ height: number; width: number }>; flip: boolean }, runs: number): Promise<number> {
  const ens = await createEnsemble(dir, { engine: 'ort', sizes: o.sizes, flip: o.flip });
  const img = synthSequence({ seed: 2, seq: 1, width: 640, height: 480 }).render(0).left;
  try {
    const times: number[] = [];
    for (let i = 0; i < runs + 5; i++) {
      const t0 = performance.now();
      await ens.segment(img);
      if (i >= 5) times.push(performance.now() - t0);
    }
    return 1000 / median(times);
  } finally {
    ens.dispose();
  }
}

export async function benchModels(o: BenchOptions): Promise<BenchResult[]> {
  const dir = join(packageRoot, 'models', 'endovis15');
  if (!existsSync(join(dir, 'tds.json'))) return [];
  const meta = readTdsJson(dir);
  const runs = o.quick ? 20 : 100;
  const single = await fps(dir, { sizes: [meta.inputSize], flip: false }, runs);
  const def = resolveInference(meta, {});
  const ensemble = await fps(dir, def, runs);
  const tag = def.sizes.map((s) => `${s.height}x${s.width}`).join('+') + (def.flip ? '+flip' : '');
  return [
    { name: `model.endovis15.engine.${meta.inputSize.height}x${meta.inputSize.width}.fps`, value: Math.round(single * 10) / 10, unit: 'fps' },
    { name: `model.endovis15.engine.default.fps`, value: Math.round(ensemble * 10) / 10, unit: `fps (${tag})` },
  ];
}
