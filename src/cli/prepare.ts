// `tds prepare --input RAW --out DIR`: raw labels to prepared images + index masks.
import type { Command } from 'commander';
import { loadPalette } from '../ingest/palette.js';
import { prepareDataset } from '../ingest/prepare.js';
import { parseCrop } from '../ingest/crop.js';
import { describeUnknown } from '../ingest/labels.js';
import { scanFolder } from '../ingest/folders.js';
import { configPath } from '../package-paths.js';
import { progress } from './progress.js';

export function registerPrepare(program: Command): void {
  program
    .command('prepare')
    .description(
      'convert a raw dataset (ROBOT18, EndoVis17-parts, EndoVis 2015, Drishti-GS1, REFUGE) to seq_N/images + seq_N/masks (class index PNGs)',
    )
    .requiredOption('--input <dir>', 'raw dataset folder')
    .requiredOption('--out <dir>', 'output folder')
    .option(
      '--dataset <name>',
      'robot18 | endovis17-parts | endovis15-rigid | refuge (picks configs/NAME.yaml)',
      'robot18',
    )
    .option('--config <file>', 'palette YAML (overrides --dataset)')
    .option('--crop <x,y,w,h>', 'crop every frame and label, e.g. 320,28,1280,1024')
    .option('--overwrite', 'replace an earlier preparation in --out')
    .option('--json', 'print the summary as JSON')
    .action(
      async (o: {
        input: string;
        out: string;
        dataset: string;
        config?: string;
        crop?: string;
        overwrite?: boolean;
        json?: boolean;
      }) => {
        const palette = loadPalette(o.config ?? configPath(o.dataset));
        const crop = o.crop ? parseCrop(o.crop) : undefined;
        const total = scanFolder(o.input).sequences.reduce((n, s) => n + s.frames.length, 0);
        const bar = progress('prepare', total);
        try {
          const s = await prepareDataset(o.input, o.out, palette, {
            crop,
            overwrite: o.overwrite,
            onFrame: (d) => bar.update(d),
          });
          bar.stop();
          if (o.json) console.log(JSON.stringify(s));
          else {
            console.log(
              `prepared ${s.frames} frame(s) in ${s.sequences} sequence(s) to ${o.out}${s.unlabelled ? `; skipped ${s.unlabelled} without labels` : ''}`,
            );
            console.log(
              s.unknownPixels
                ? `unknown label values (mapped to background): ${s.unknownPixels} px: ${describeUnknown(new Map(Object.entries(s.unknownValues)))}`
                : 'unknown label values: none',
            );
          }
        } finally {
          bar.stop();
        }
      },
    );
}
