// `tds demo` (npm start): the main job on an embedded default. Generates a side-by-side stereo sample clip with
// exact labels, runs `tds process` on it with the bundled demo model (ORT, CPU), and prints frames, fps and the
// challenge IoU against the clip's ground truth. It owns out/sample and out/process and replaces them each run.
import { frameStem, videoFrameStem } from '../ingest/frame-names.js';
import type { Command } from 'commander';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { loadPalette } from '../ingest/palette.js';
import { writeSynthDataset } from '../ingest/synth-write.js';
import { readIndexMask, readLabel } from '../ingest/label-file.js';
import { processInput } from '../stream/process.js';
import { SegmentationMetrics } from '../eval/metrics.js';
import { TdsError } from '../errors.js';
import { configPath, packageRoot } from '../package-paths.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('process a generated stereo sample clip with the bundled demo model (what `npm start` runs)')
    .option('--out <dir>', 'output folder', 'out')
    .option('--frames <n>', 'frames in the sample clip', '50')
    .option('--model <dir>', 'model folder', join(packageRoot, 'models', 'demo'))
    .option('--json', 'print the summary as JSON')
    .action(async (o: { out: string; frames: string; model: string; json?: boolean }) => {
      if (!existsSync(join(o.model, 'tds.json')))
        throw new TdsError(
          'BAD_MODEL',
          `demo model not found at ${o.model}`,
          'restore models/demo from the repository, or pass --model DIR',
        );
      const palette = loadPalette(configPath('robot18'));
      const sampleDir = join(o.out, 'sample');
      const procDir = join(o.out, 'process');
      await rm(sampleDir, { recursive: true, force: true });
      await rm(procDir, { recursive: true, force: true });
      const synth = await writeSynthDataset(sampleDir, palette, {
        sequences: 1,
        frames: Number(o.frames),
        seed: 2026,
        width: 320,
        height: 256,
        video: true,
      });
      const clip = join(sampleDir, 'seq_1', 'video.mp4');
      const s = await processInput(clip, { model: o.model, out: procDir, stereo: 'sbs', minArea: 20, overlay: true });
      const metrics = new SegmentationMetrics(palette.classes.map((c) => c.name));
      for (let i = 0; i < s.frames; i++) {
        const gt = await readLabel(join(sampleDir, 'seq_1', 'labels', `${frameStem(i)}.png`), palette);
        const pred = await readIndexMask(join(procDir, 'masks', `${videoFrameStem(i)}.png`), palette.classes.length);
        metrics.update(pred, gt.labels);
      }
      const r = metrics.result();
      const summary = {
        clip,
        scene: synth.sequences.seq_1.name,
        frames: s.frames,
        fps: Math.round(s.fps * 10) / 10,
        challengeIoU: Math.round(r.metrics.challengeIoU * 1000) / 1000,
        generalJaccard: Math.round(r.metrics.generalJaccard * 1000) / 1000,
        out: procDir,
      };
      if (o.json) console.log(JSON.stringify(summary));
      else {
        console.log(
          `tds demo: processed a ${synth.width}x${synth.height} side-by-side stereo clip (${summary.scene} scene, left view segmented)`,
        );
        console.log(
          `  frames ${summary.frames}, ${summary.fps} fps end to end (decode, inference, post-processing, writing)`,
        );
        console.log(
          `  challenge IoU against the clip's ground truth: ${summary.challengeIoU} (general Jaccard ${summary.generalJaccard})`,
        );
        console.log(`  outputs: ${procDir}/masks, color, labels.ndjson, run.json, overlay.mp4`);
      }
    });
}
