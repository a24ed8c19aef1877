// `tds demo` (npm start): the main job on an embedded default. Generates a stereo sample clip with known
// labels, decodes it through the same ingest path a user's video takes, extracts the frames, and summarises.
import type { Command } from 'commander';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { loadPalette } from '../ingest/palette.js';
import { writeSynthDataset } from '../ingest/synth-write.js';
import { extractFrames } from '../ingest/extract.js';
import { probeVideo } from '../ingest/probe.js';
import { configPath } from './paths.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the default job on a generated stereo sample clip (what `npm start` runs)')
    .option('--out <dir>', 'output folder', 'out')
    .option('--frames <n>', 'frames in the sample clip', '50')
    .option('--json', 'print the summary as JSON')
    .action(async (o: { out: string; frames: string; json?: boolean }) => {
      const sampleDir = join(o.out, 'sample');
      await rm(sampleDir, { recursive: true, force: true });
      const synth = await writeSynthDataset(sampleDir, loadPalette(configPath('robot18')), { sequences: 1, frames: Number(o.frames), seed: 2026, width: 320, height: 256, video: true });
      const clip = join(sampleDir, 'seq_1', 'video.mp4');
      const probe = await probeVideo(clip, { stereo: 'sbs' });
      const framesDir = join(o.out, 'frames');
      await rm(framesDir, { recursive: true, force: true });
      const s = await extractFrames(clip, framesDir, { stereo: 'sbs', rate: 'native' });
      const summary = {
        clip,
        scene: synth.sequences.seq_1.name,
        view: `${probe.width}x${probe.height}`,
        fps: probe.fps,
        framesDecoded: s.frames,
        stereo: s.stereo,
        decodeFps: Math.round((s.frames / (s.ms / 1000)) * 10) / 10,
        framesDir,
      };
      if (o.json) console.log(JSON.stringify(summary));
      else {
        console.log(`tds demo: generated a ${summary.view} side-by-side stereo clip (${summary.scene} scene) at ${clip}`);
        console.log(`decoded ${s.frames} stereo frames (${summary.decodeFps} fps incl. PNG writing) to ${framesDir}/left_frames and right_frames`);
        console.log('ground-truth labels for every frame: ' + join(sampleDir, 'seq_1', 'labels'));
      }
    });
}
