// `tds probe INPUT`: geometry and timing of one view.
import type { Command } from 'commander';
import { probeVideo } from '../ingest/probe.js';
import { parseStereo } from '../ingest/options.js';

export function registerProbe(program: Command): void {
  program
    .command('probe')
    .description('print width, height (of one view), fps, frames, duration and codec of a video')
    .argument('<input>', 'video file')
    .option('--stereo <packing>', 'none | sbs | tb', 'none')
    .option('--right <file>', 'second file holding the right view')
    .option('--json', 'print JSON')
    .action(async (input: string, o: { stereo: string; right?: string; json?: boolean }) => {
      const p = await probeVideo(input, { stereo: parseStereo(o.stereo), right: o.right });
      if (o.json) console.log(JSON.stringify(p));
      else
        console.log(
          `${input}: ${p.width}x${p.height} ${p.codec}, ${p.fps} fps, ${p.frames} frames, ${(p.durationMs / 1000).toFixed(2)} s`,
        );
    });
}
