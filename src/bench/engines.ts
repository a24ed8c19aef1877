// Engine figures: forward-pass time per frame for each profile and engine, same inputs, medians after warm-up.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initModel } from '../model/init.js';
import { createSegmenter } from '../model/segmenter.js';
import { useBackend } from '../model/backend.js';
import type { ProfileName } from '../model/profiles.js';
import { loadPalette } from '../ingest/palette.js';
import { synthSequence } from '../ingest/synth.js';
import { configPath } from '../package-paths.js';
import { median } from '../median.js';
import { spread, type BenchOptions, type BenchResult } from './types.js';
import { cpus } from 'node:os';
import * as ort from 'onnxruntime-node';
import { OnnxGraph } from '../model/onnx-graph.js';
import { countGflops } from '../model/flops.js';
import { buildTdsNet } from '../model/profiles.js';

export async function timeSegmenter(
  dir: string,
  opts: Parameters<typeof createSegmenter>[1],
  runs: number,
  warmup = 1,
): Promise<number> {
  const seg = await createSegmenter(dir, opts);
  const img = synthSequence({ seed: 1, seq: 1, width: 320, height: 256 }).render(0).left;
  try {
    const times: number[] = [];
    for (let i = 0; i < warmup + runs; i++) {
      const t0 = performance.now();
      await seg.segmentImage(img);
      if (i >= warmup) times.push(performance.now() - t0);
    }
    return median(times);
  } finally {
    seg.dispose();
  }
}

/** Creates throwaway models of each profile at 256x320 in a temp folder. */
export async function benchModels(): Promise<{
  dir: string;
  model: (p: ProfileName) => string;
  cleanup: () => Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'tds-bench-models-'));
  await useBackend('cpu');
  const palette = loadPalette(configPath('robot18'));
  for (const profile of ['fast', 'paper'] as const)
    await initModel(join(dir, profile), { profile, palette, height: 256, width: 320 });
  return { dir, model: (p) => join(dir, p), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * The practical conv throughput of ORT on this machine: big 3x3 convolutions (the shapes that dominate
 * encoder-decoders) through the same session settings as the engine; the best of the shapes tried, each timed
 * by its fastest run after warm-up. A peak is what the machine can do: the fastest run is its estimate (a median
 * moves with whatever else the machine does, and read 200-387 GFLOP/s an hour apart), and more warm-up runs let
 * the threads and caches settle first.
 */
export async function peakGflops(runs: number): Promise<number> {
  let best = 0;
  for (const [c, h, w] of [
    [256, 64, 80],
    [128, 128, 160],
  ]) {
    const g = new OnnxGraph();
    g.input('x', [1, c, h, w]);
    const wt = Float32Array.from({ length: c * c * 9 }, (_, i) => ((i % 17) - 8) / 100);
    g.node(
      'Conv',
      ['x', g.constant('w', wt, [c, c, 3, 3]), g.constant('b', new Float32Array(c), [c])],
      { kernel_shape: [3, 3], pads: [1, 1, 1, 1] },
      'y',
    );
    g.output('y', [1, c, h, w]);
    const s = await ort.InferenceSession.create(g.encode('peak'), {
      intraOpNumThreads: cpus().length,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    const x = new ort.Tensor('float32', new Float32Array(c * h * w).fill(0.5), [1, c, h, w]);
    let fastest = Infinity;
    for (let i = 0; i < runs + 5; i++) {
      const t0 = performance.now();
      await s.run({ x });
      if (i >= 5) fastest = Math.min(fastest, performance.now() - t0);
    }
    await s.release();
    const flops = 2 * h * w * 9 * c * c;
    best = Math.max(best, flops / (fastest / 1000) / 1e9);
  }
  return best;
}

export async function benchEngines(o: BenchOptions): Promise<BenchResult[]> {
  const m = await benchModels();
  try {
    const wasmPaper = await timeSegmenter(m.model('paper'), { engine: 'tfjs', backend: 'wasm' }, o.quick ? 1 : 3, 1);
    const ortPaper = await timeSegmenter(m.model('paper'), { engine: 'ort' }, o.quick ? 3 : 10, 1);
    const fastModel = buildTdsNet({ profile: 'fast', numClasses: 12, numScenes: 3, height: 256, width: 320 });
    const fastGflop = countGflops(fastModel, 256, 320);
    fastModel.dispose();
    // The fast model on tfjs-wasm and on ORT, alternating run by run (one wasm run, then five ORT runs: about
    // the same time each), and the machine's peak after each repeat: each ratio is taken within one repeat, then
    // its median. Measured one after the other, ort-vs-wasm moved 23-40% between runs; in blocks of ~1 s per
    // engine, 37%: this machine's speed changes within seconds. The peak can never read below what the engine
    // achieved in the same repeat (a fast model is no faster than the machine).
    const wasmSeg = await createSegmenter(m.model('fast'), { engine: 'tfjs', backend: 'wasm' });
    const ortSeg = await createSegmenter(m.model('fast'), { engine: 'ort' });
    const img = synthSequence({ seed: 1, seq: 1, width: 320, height: 256 }).render(0).left;
    const timed = async (seg: typeof ortSeg) => {
      const t0 = performance.now();
      await seg.segmentImage(img);
      return performance.now() - t0;
    };
    const wasmMs: number[] = [];
    const fastMs: number[] = [];
    const peaks: number[] = [];
    const ratios: number[] = [];
    const speedups: number[] = [];
    try {
      for (let i = 0; i < 3; i++) await timed(wasmSeg);
      for (let i = 0; i < 15; i++) await timed(ortSeg);
      for (let i = 0; i < (o.quick ? 2 : 5); i++) {
        const w: number[] = [];
        const r: number[] = [];
        for (let k = 0; k < (o.quick ? 4 : 10); k++) {
          w.push(await timed(wasmSeg));
          for (let j = 0; j < 5; j++) r.push(await timed(ortSeg));
        }
        const ms = median(r);
        const achieved = fastGflop / (ms / 1000);
        const peak = Math.max(await peakGflops(o.quick ? 5 : 15), achieved);
        wasmMs.push(median(w));
        fastMs.push(ms);
        peaks.push(peak);
        ratios.push(achieved / peak);
        speedups.push(median(w) / ms);
      }
    } finally {
      wasmSeg.dispose();
      ortSeg.dispose();
    }
    const ortFast = median(fastMs);
    const r1 = (x: number) => Math.round(x * 10) / 10;
    return [
      spread('engine.ort.fast.256x320.ms', fastMs, 'ms'),
      spread('engine.tfjs-wasm.fast.256x320.ms', wasmMs, 'ms'),
      { name: 'engine.ort.paper.256x320.ms', value: Math.round(ortPaper), unit: 'ms' },
      { name: 'engine.tfjs-wasm.paper.256x320.ms', value: Math.round(wasmPaper), unit: 'ms' },
      { name: 'engine.ort.fast.256x320.gflops', value: r1(fastGflop / (ortFast / 1000)), unit: 'GFLOP/s' },
      spread('engine.peak.gflops', peaks, 'GFLOP/s'),
      spread('engine.ratio.ort-vs-wasm.fast', speedups, 'x', (v) => Math.round(v * 100) / 100),
      spread('engine.ratio.achieved-vs-peak.fast', ratios, 'fraction', (v) => Math.round(v * 100) / 100),
    ];
  } finally {
    await m.cleanup();
  }
}
