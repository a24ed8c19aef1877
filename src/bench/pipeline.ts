// Batch figures: small-region and detached-region removal at 1280x1024; the batch pipeline end to end on a generated 1280x1024
// stereo-free clip (decode, inference, post-processing, PNG writing; masks only and with colour PNGs) against
// inference alone on the same frames, as medians of interleaved repeats with their spread.
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthSequence } from '../ingest/synth.js';
import { encodeVideo } from '../ingest/encode.js';
import { openDecoder } from '../ingest/decode.js';
import { removeSmallRegions } from '../postprocess/small-regions.js';
import { removeDetached } from '../postprocess/detached.js';
import { processInput } from '../stream/process.js';
import { createEnsemble } from '../model/ensemble.js';
import { initModel } from '../model/init.js';
import { useBackend } from '../model/backend.js';
import { loadPalette } from '../ingest/palette.js';
import { configPath, packageRoot } from '../package-paths.js';
import type { Image } from '../types.js';
import { median } from '../median.js';
import { spread, type BenchOptions, type BenchResult } from './types.js';

/** The demo model when present (same network the README figures use), else a fresh fast model. */
export async function benchModel(dir: string): Promise<string> {
  const demo = join(packageRoot, 'models', 'demo');
  if (existsSync(join(demo, 'tds.json'))) return demo;
  await useBackend('cpu');
  const m = join(dir, 'fast');
  await initModel(m, { profile: 'fast', palette: loadPalette(configPath('robot18')), height: 256, width: 320 });
  return m;
}

export async function benchPipeline(o: BenchOptions): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tds-bench-pipe-'));
  try {
    const seq = synthSequence({ seed: 5, seq: 2, width: 1280, height: 1024 });
    const n = o.quick ? 24 : 60;
    const frames: Image[] = [];
    for (let t = 0; t < n; t++) frames.push(seq.render(t * 0.3).left);
    // Small-region removal on a realistic mask with noise specks.
    const labels = seq.render(0).labels.slice();
    for (let i = 0; i < 3000; i++) labels[(Math.imul(i, 2654435761) >>> 0) % labels.length] = (i % 11) + 1;
    const rs: number[] = [];
    // Five warm-up calls in --quick runs too: with two, V8 had not optimised it yet (19-26 ms quick vs 7 full).
    for (let i = 0; i < (o.quick ? 15 : 35); i++) {
      const t0 = performance.now();
      removeSmallRegions(labels, 1280, 1024, { minArea: 50 });
      if (i >= 5) rs.push(performance.now() - t0);
    }
    // Detached-region removal on the same mask and its frame (the EndoVis model's default post-processing).
    const ds: number[] = [];
    for (let i = 0; i < (o.quick ? 15 : 35); i++) {
      const l = labels.slice();
      const t0 = performance.now();
      removeDetached(l, frames[0]);
      if (i >= 5) ds.push(performance.now() - t0);
    }
    const clip = join(dir, 'clip1280.mp4');
    await encodeVideo(clip, frames, { fps: 25 });
    const model = await benchModel(dir);
    // Engine only: the same decoded frames through the segmenter (preprocess + ORT + read back).
    const decoded: Image[] = [];
    for await (const f of openDecoder(clip).frames) decoded.push(f.left);
    const ens = await createEnsemble(model);
    for (const f of decoded.slice(0, 5)) (await ens.segment(f)).release?.();
    // Three passes over the frames, so an engine-only run lasts about as long as a batch run (~4 s): a 1.4-s run
    // caught this machine's short slow spells alone (engine-only 38-49 fps within one run).
    const engineRun = async () => {
      const t0 = performance.now();
      for (let pass = 0; pass < 3; pass++) for (const f of decoded) (await ens.segment(f)).release?.();
      return (3 * decoded.length) / ((performance.now() - t0) / 1000);
    };
    // Batch pipeline end to end into a fresh folder: masks + labels (--masks-only), and with colour PNGs too.
    let run = 0;
    const batchRun = async (color: boolean) => {
      const t0 = performance.now();
      const s = await processInput(clip, { model, out: join(dir, `out${run++}`), minArea: 50, color });
      const fps = s.frames / ((performance.now() - t0) / 1000);
      await rm(join(dir, `out${run - 1}`), { recursive: true, force: true });
      return fps;
    };
    // Warm-up of every kernel first (ORT's arena, sharp, the post-processing code), then interleaved repeats
    // (engine, batch, batch + colour, engine, ...) so a slow minute of the machine touches all three alike; each
    // ratio is taken within one repeat, then its median.
    await engineRun();
    await batchRun(false);
    await batchRun(true);
    const engine: number[] = [];
    const batch: number[] = [];
    const color: number[] = [];
    const repeats = o.quick ? 2 : 5;
    for (let i = 0; i < repeats; i++) {
      engine.push(await engineRun());
      batch.push(await batchRun(false));
      color.push(await batchRun(true));
    }
    // One engine run more at the end: each batch run is compared with the engine runs on both sides of it.
    engine.push(await engineRun());
    ens.dispose();
    const around = (i: number) => (engine[i] + engine[i + 1]) / 2;
    const r2 = (v: number) => Math.round(v * 100) / 100;
    return [
      { name: 'post.remove-small.1280x1024.ms', value: Math.round(median(rs) * 100) / 100, unit: 'ms' },
      { name: 'post.remove-detached.1280x1024.ms', value: Math.round(median(ds) * 100) / 100, unit: 'ms' },
      spread('pipeline.batch.fast.fps', batch, 'fps'),
      spread('pipeline.batch.color.fast.fps', color, 'fps'),
      spread('pipeline.engine-only.fast.fps', engine, 'fps'),
      spread(
        'pipeline.ratio.batch-vs-engine',
        batch.map((b, i) => b / around(i)),
        'fraction',
        r2,
      ),
      spread(
        'pipeline.ratio.batch-color-vs-engine',
        color.map((b, i) => b / around(i)),
        'fraction',
        r2,
      ),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
