// The benchmark runner: one process, fixed inputs, medians after warm-up. Each area adds its results here.
import { cpus, totalmem } from 'node:os';
import { benchIngest } from './ingest.js';
import { benchEngines } from './engines.js';
import { benchTrain } from './train.js';
import { benchPipeline } from './pipeline.js';
import { benchLive } from './live.js';
import { benchModels } from './models.js';
import { benchFoxglove } from './foxglove.js';
import type { BenchOptions, BenchResult } from './types.js';

export interface BenchReport {
  machine: { cpu: string; cores: number; memGiB: number; node: string; platform: string };
  results: BenchResult[];
}

export type { BenchOptions, BenchResult } from './types.js';

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const want = (name: string) => !o.only || name.startsWith(o.only) || o.only.startsWith(name);
  const results: BenchResult[] = [];
  if (want('ingest')) results.push(...(await benchIngest(o)));
  if (want('engine')) results.push(...(await benchEngines(o)));
  if (want('train')) results.push(...(await benchTrain(o)));
  if (want('post') || want('pipeline')) results.push(...(await benchPipeline(o)));
  if (want('live') || want('ws')) results.push(...(await benchLive(o)));
  if (want('model')) results.push(...(await benchModels(o)));
  if (want('foxglove')) results.push(...(await benchFoxglove(o)));
  // Loaded when asked for, like the Foxglove code: pg-boss and pg stay out of the other figures' start-up.
  if (want('queue')) results.push(...(await (await import('./queue.js')).benchQueue(o)));
  return {
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    },
    results: results.filter((r) => want(r.name)),
  };
}
