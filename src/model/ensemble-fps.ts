// Engine-only rate of an ensemble (a model at given sizes, optionally with flip): median time per frame on a
// fixed 640x480 frame after warm-up. Shared by `tds cv` (is a variant fast enough to be a default?) and the bench.
import { createEnsemble, type Size } from './ensemble.js';
import { median } from '../median.js';

export async function ensembleFps(
  modelDir: string,
  o: { sizes: Size[]; flip: boolean },
  runs = 20,
  warmup = 3,
): Promise<number> {
  const ens = await createEnsemble(modelDir, { engine: 'ort', sizes: o.sizes, flip: o.flip });
  const img = { data: Buffer.alloc(640 * 480 * 3, 128), width: 640, height: 480, channels: 3 };
  try {
    const times: number[] = [];
    for (let i = 0; i < warmup + runs; i++) {
      const t0 = performance.now();
      (await ens.segment(img)).release?.();
      if (i >= warmup) times.push(performance.now() - t0);
    }
    return 1000 / median(times);
  } finally {
    ens.dispose();
  }
}
