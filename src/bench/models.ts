// Bundled real-surgery model figures: engine-only frames per second (ORT, CPU) at its training size alone and
// with its tds.json inference defaults (the variant `tds cv` chose), on a 640x480 frame, medians after warm-up.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../package-paths.js';
import { readTdsJson } from '../model/model-dir.js';
import { resolveInference } from '../model/inference-defaults.js';
import { ensembleFps } from '../model/ensemble-fps.js';
import type { BenchOptions, BenchResult } from './types.js';

export async function benchModels(o: BenchOptions): Promise<BenchResult[]> {
  const dir = join(packageRoot, 'models', 'endovis15');
  if (!existsSync(join(dir, 'tds.json'))) return [];
  const meta = readTdsJson(dir);
  const runs = o.quick ? 20 : 100;
  const single = await ensembleFps(dir, { sizes: [meta.inputSize], flip: false }, runs, 5);
  const def = resolveInference(meta, {});
  const ensemble = await ensembleFps(dir, def, runs, 5);
  const tag = def.sizes.map((s) => `${s.height}x${s.width}`).join('+') + (def.flip ? '+flip' : '');
  return [
    {
      name: `model.endovis15.engine.${meta.inputSize.height}x${meta.inputSize.width}.fps`,
      value: Math.round(single * 10) / 10,
      unit: 'fps',
    },
    { name: `model.endovis15.engine.default.fps`, value: Math.round(ensemble * 10) / 10, unit: `fps (${tag})` },
  ];
}
