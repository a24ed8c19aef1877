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
import { configPath } from '../cli/paths.js';
import { median, type BenchOptions, type BenchResult } from './run.js';

export async function timeSegmenter(dir: string, opts: Parameters<typeof createSegmenter>[1], runs: number, warmup = 1): Promise<number> {
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
export async function benchModels(): Promise<{ dir: string; model: (p: ProfileName) => string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tds-bench-models-'));
  await useBackend('cpu');
  const palette = loadPalette(configPath('robot18'));
  for (const profile of ['fast', 'paper'] as const) await initModel(join(dir, profile), { profile, palette, height: 256, width: 320 });
  return { dir, model: (p) => join(dir, p), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function benchTfjs(o: BenchOptions): Promise<BenchResult[]> {
  const m = await benchModels();
  try {
    const fast = await timeSegmenter(m.model('fast'), { engine: 'tfjs', backend: 'wasm' }, o.quick ? 5 : 20, 2);
    const paper = await timeSegmenter(m.model('paper'), { engine: 'tfjs', backend: 'wasm' }, o.quick ? 1 : 3, 1);
    return [
      { name: 'engine.tfjs-wasm.fast.256x320.ms', value: Math.round(fast * 10) / 10, unit: 'ms' },
      { name: 'engine.tfjs-wasm.paper.256x320.ms', value: Math.round(paper), unit: 'ms' },
    ];
  } finally {
    await m.cleanup();
  }
}
