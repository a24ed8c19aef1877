// Ingest figures: decode throughput on a generated 1280x720 H.264 clip, synthetic scene rendering.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ffmpegPath } from '../ingest/binaries.js';
import { openDecoder } from '../ingest/decode.js';
import { synthSequence } from '../ingest/synth.js';
import { median } from '../median.js';
import type { BenchOptions, BenchResult } from './types.js';

export async function benchIngest(o: BenchOptions): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tds-bench-'));
  try {
    const clip = join(dir, 'clip720.mp4');
    execFileSync(ffmpegPath(), [
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=1280x720:rate=25:duration=8',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-pix_fmt',
      'yuv420p',
      clip,
    ]);
    const runs: number[] = [];
    for (let r = 0; r < (o.quick ? 2 : 4); r++) {
      const t0 = performance.now();
      let n = 0;
      for await (const _ of openDecoder(clip).frames) n++;
      if (r > 0) runs.push(n / ((performance.now() - t0) / 1000));
    }
    const seq = synthSequence({ seed: 1, seq: 1, width: 320, height: 256 });
    const times: number[] = [];
    for (let t = 0; t < (o.quick ? 6 : 20); t++) {
      const t0 = performance.now();
      seq.render(t);
      if (t > 1) times.push(performance.now() - t0);
    }
    return [
      { name: 'ingest.decode.1280x720.fps', value: Math.round(median(runs) * 10) / 10, unit: 'fps' },
      { name: 'ingest.synth.stereo.320x256.ms', value: Math.round(median(times) * 10) / 10, unit: 'ms' },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
