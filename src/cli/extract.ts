// `tds extract INPUT --out DIR`: video frames to DIR/left_frames (+ right_frames).
import type { Command } from 'commander';
import { extractFrames } from '../ingest/extract.js';
import { parseRate, parseStereo, isLiveInput } from '../ingest/options.js';
import { probeVideo } from '../ingest/probe.js';
import { progress } from './progress.js';

export function registerExtract(program: Command): void {
  program
    .command('extract')
    .description('write video frames as PNGs in the ROBOT18 layout (left_frames/, right_frames/)')
    .argument('<input>', 'video file, URL, device or - for stdin')
    .requiredOption('--out <dir>', 'output folder')
    .option('--rate <rate>', '1hz | native | FPS', 'native')
    .option('--stereo <packing>', 'none | sbs | tb', 'none')
    .option('--right <file>', 'second file holding the right view')
    .option('--realtime', 'read the input at its own pace, like a live feed')
    .option('--overwrite', 'replace frames from an earlier extraction')
    .option('--json', 'print the summary as JSON')
    .action(
      async (
        input: string,
        o: {
          out: string;
          rate: string;
          stereo: string;
          right?: string;
          realtime?: boolean;
          overwrite?: boolean;
          json?: boolean;
        },
      ) => {
        const rate = parseRate(o.rate);
        const stereo = parseStereo(o.stereo);
        let total = 0;
        if (!isLiveInput(input)) {
          const p = await probeVideo(input, { stereo, right: o.right });
          total = rate === 'native' ? p.frames : Math.ceil((p.durationMs / 1000) * (rate === '1hz' ? 1 : rate));
        }
        const bar = progress('extract', total);
        try {
          const s = await extractFrames(input, o.out, {
            rate,
            stereo,
            right: o.right,
            realtime: o.realtime,
            overwrite: o.overwrite,
            onFrame: (i) => bar.update(i + 1),
          });
          bar.stop();
          const fps = s.frames / (s.ms / 1000);
          if (o.json) console.log(JSON.stringify({ ...s, fps }));
          else
            console.log(
              `extracted ${s.frames} ${s.stereo ? 'stereo ' : ''}frame(s) of ${s.width}x${s.height} to ${o.out} in ${(s.ms / 1000).toFixed(2)} s (${fps.toFixed(1)} fps)`,
            );
        } finally {
          bar.stop();
        }
      },
    );
}
