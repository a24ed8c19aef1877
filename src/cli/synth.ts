// `tds synth`: seeded synthetic surgical sequences in the ROBOT18 layout with exact colour labels.
import type { Command } from 'commander';
import { loadPalette } from '../ingest/palette.js';
import { writeSynthDataset } from '../ingest/synth-write.js';
import { ensureOutputDir, refuseNonEmpty } from '../ingest/output-dir.js';
import { parseSize } from './size.js';
import { configPath } from '../package-paths.js';
import { progress } from './progress.js';
import { TdsError } from '../errors.js';
import { nonNegativeInt, positiveInt } from './args.js';

export function registerSynth(program: Command): void {
  program
    .command('synth')
    .description('generate labelled synthetic stereo surgical sequences (ROBOT18 layout + scenes.json)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--sequences <n>', 'number of sequences', '4')
    .option('--frames <n>', 'frames per sequence', '10')
    .option('--seed <n>', 'random seed (same seed, same data)', '1')
    .option('--size <WxH>', 'frame size, width x height (even)', '320x256')
    .option('--first-seq <n>', 'number of the first sequence folder', '1')
    .option('--video', 'also write seq_N/video.mp4 (side-by-side stereo H.264)')
    .option('--fps <n>', 'frame rate of --video', '25')
    .option('--overwrite', 'replace sequences from an earlier run')
    .option('--json', 'print the summary as JSON')
    .action(
      async (o: {
        out: string;
        sequences: string;
        frames: string;
        seed: string;
        size: string;
        firstSeq: string;
        video?: boolean;
        fps: string;
        overwrite?: boolean;
        json?: boolean;
      }) => {
        const sequences = positiveInt('--sequences', o.sequences);
        const frames = positiveInt('--frames', o.frames);
        const firstSeq = positiveInt('--first-seq', o.firstSeq);
        const seed = nonNegativeInt('--seed', o.seed, '7');
        const { width, height } = parseSize(o.size, 'WxH');
        if (width % 2 || height % 2)
          throw new TdsError(
            'BAD_OPTION',
            `--size must have even width and height, got ${o.size}`,
            'e.g. --size 320x256',
          );
        ensureOutputDir(o.out);
        refuseNonEmpty(
          o.out,
          Array.from({ length: sequences }, (_, i) => `seq_${firstSeq + i}`),
          o.overwrite,
        );
        const bar = progress('synth', sequences * frames);
        try {
          const s = await writeSynthDataset(o.out, loadPalette(configPath('robot18')), {
            sequences,
            frames,
            seed,
            width,
            height,
            video: o.video,
            fps: Number(o.fps),
            firstSeq,
            onFrame: (d) => bar.update(d),
          });
          bar.stop();
          if (o.json) console.log(JSON.stringify(s));
          else
            console.log(
              `wrote ${sequences} sequence(s) x ${frames} frame(s) of ${width}x${height} to ${o.out}: ${Object.entries(
                s.sequences,
              )
                .map(([k, v]) => `${k}=${v.name}`)
                .join(', ')}`,
            );
        } finally {
          bar.stop();
        }
      },
    );
}
