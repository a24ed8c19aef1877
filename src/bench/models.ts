// Bundled real-surgery model figures: engine-only frames per second (ORT, CPU) at its training size alone and
// with its tds.json inference defaults (the variant `tds cv` chose), on a 640x480 frame, medians after warm-up.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../package-paths.js';
import { readTdsJson } from '../model/model-dir.js';
import { resolveInference } from '../model/inference-defaults.js';
import { ensembleFps } from '../model/ensemble-fps.js';
import { spread, type BenchOptions, type BenchResult } from './types.js';
import { createVolumeSegmenter } from '../model/segment-volume.js';
import { niftiHeader } from '../ingest/nifti.js';
import type { LoadedCase } from '../ingest/brats.js';

export async function benchModels(o: BenchOptions): Promise<BenchResult[]> {
  return [...(await benchEndovis(o)), ...(await benchBrats(o))];
}

/**
 * The bundled BraTS model on a whole 240x240x155 case (BraTS's grid), from z-scored volumes in memory to the label
 * volume (2 mm volumes, sliding window, trilinear argmax back to 1 mm, 3D small-component removal): a smooth
 * synthetic brain, since the time depends on the grid, not on what the scan shows.
 */
async function benchBrats(o: BenchOptions): Promise<BenchResult[]> {
  const dir = join(packageRoot, 'models', 'brats');
  if (!existsSync(join(dir, 'tds.json'))) return [];
  const seg = await createVolumeSegmenter(dir);
  try {
    const dims: [number, number, number] = [240, 240, 155];
    const n = dims[0] * dims[1] * dims[2];
    const brain = new Uint8Array(n);
    const channels = seg.meta.modalities.map(() => new Float32Array(n));
    for (let z = 0, i = 0; z < dims[2]; z++)
      for (let y = 0; y < dims[1]; y++)
        for (let x = 0; x < dims[0]; x++, i++) {
          if (Math.hypot((x - 120) / 70, (y - 120) / 90, (z - 77) / 65) >= 1) continue;
          brain[i] = 1;
          channels.forEach((c, m) => (c[i] = Math.sin(x / 9 + m) * Math.cos(y / 11) + Math.sin(z / 7)));
        }
    const header = niftiHeader(dims);
    const c: LoadedCase = {
      case: { name: 'bench', dir: '', files: [] },
      reference: { dims, spacing: [1, 1, 1], affine: header.affine, data: new Float32Array(0), header },
      channels,
      brain,
    };
    const times: number[] = [];
    for (let i = 0; i < (o.quick ? 2 : 4); i++) {
      const r = await seg.segment(c);
      if (i) times.push(r.totalMs / 1000);
    }
    return [spread('model.brats.case.240x240x155.s', times, 's', (v) => Math.round(v * 100) / 100)];
  } finally {
    await seg.dispose();
  }
}

async function benchEndovis(o: BenchOptions): Promise<BenchResult[]> {
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
