// `tds process INPUT --model DIR --out DIR`: batch processing of a recorded procedure.
import type { Command } from 'commander';
import { processInput } from '../stream/process.js';
import { parseSizes } from '../model/ensemble.js';
import { parseRate, parseStereo } from '../ingest/options.js';
import { ENGINES, type EngineName, type ExecutionProvider } from '../model/segmenter.js';
import { TdsError } from '../errors.js';
import { nonNegativeInt } from './args.js';
import { progress } from './progress.js';
import { stopOnSignals } from './signals.js';
import { isModel3dDir } from '../model/model-dir.js';

export function registerProcess(program: Command): void {
  processingOptions(
    program
      .command('process')
      .description(
        'segment a video, frame folder or image: masks, colour PNGs, labels.ndjson, run.json (+ overlay.mp4)',
      )
      .argument(
        '<input>',
        'video file, frame folder (ROBOT18 seq_N or plain), image, or (3D models) MRI case folder(s)',
      )
      .requiredOption('--model <dir>', 'model folder (e.g. models/demo)')
      .requiredOption('--out <dir>', 'output folder'),
  )
    .option(
      '--mcap <file.mcap>',
      'also record frames, masks and labels as MCAP (Foxglove channels; replay with tds serve FILE)',
    )
    .option('--sequences <list>', 'frame folders: only these sequences (folder names, e.g. OP2 or seq_1,seq_3)')
    .option('--resume', 'continue an interrupted run in --out')
    .option('--json', 'print the summary as JSON')
    .action(
      async (
        input: string,
        o: ProcessingFlags & {
          out: string;
          mcap?: string;
          resume?: boolean;
          sequences?: string;
          json?: boolean;
        },
      ) => {
        // A 3D model (BraTS): case folders in, OUT/<case>/seg.nii.gz out.
        if (isModel3dDir(o.model)) return processVolumesCommand(input, o);
        const p = parseProcessingOptions(o);
        let bar: ReturnType<typeof progress> | undefined;
        const t0 = performance.now();
        // Ctrl-C / SIGTERM: finish the frame in progress, write run.json, and say how to resume.
        const stop = stopOnSignals();
        try {
          const s = await processInput(input, {
            ...p,
            out: o.out,
            mcap: o.mcap,
            resume: o.resume,
            sequences: o.sequences
              ?.split(',')
              .map((x) => x.trim())
              .filter(Boolean),
            signal: stop.signal,
            onFrame: (done, total) => {
              bar ??= progress('process', total ?? 0, ' | {fps} fps');
              bar.update(done, total, { fps: (done / ((performance.now() - t0) / 1000)).toFixed(1) });
            },
          });
          bar?.stop();
          if (s.interrupted) {
            console.error(
              `tds: interrupted by ${stop.received}: ${s.frames} frame(s) are complete in ${o.out} (fix: run the same command with --resume to continue)`,
            );
            process.exitCode = stop.received === 'SIGINT' ? 130 : 143;
            return;
          }
          if (o.json) console.log(JSON.stringify(s));
          else
            console.log(
              `processed ${s.frames} frame(s)${s.resumedFrames ? ` (${s.resumedFrames} from the earlier run)` : ''} at ${s.fps.toFixed(1)} fps into ${o.out}`,
            );
        } finally {
          bar?.stop();
          stop.dispose();
        }
      },
    );
}

async function processVolumesCommand(
  input: string,
  o: { model: string; out: string; resume?: boolean; json?: boolean },
) {
  const stop = stopOnSignals();
  try {
    // The 3D path (tfjs) loads only for a 3D model: video and frames never load tfjs.
    const { processVolumes } = await import('../stream/process-volumes.js');
    const s = await processVolumes(input, {
      model: o.model,
      out: o.out,
      resume: o.resume,
      signal: stop.signal,
      onCase: (done, total, name) => console.error(`tds: case ${done}/${total} ${name} written`),
    });
    if (s.interrupted) {
      console.error(
        `tds: interrupted by ${stop.received}: ${s.cases.length} case(s) are complete in ${o.out} (fix: run the same command with --resume to continue)`,
      );
      process.exitCode = stop.received === 'SIGINT' ? 130 : 143;
      return;
    }
    if (o.json) console.log(JSON.stringify(s));
    else
      console.log(`segmented ${s.cases.length} case(s) in ${s.seconds.toFixed(1)} s into ${o.out} (<case>/seg.nii.gz)`);
  } finally {
    stop.dispose();
  }
}

/** The processing options tds process and tds queue add share. */
export function processingOptions(cmd: Command): Command {
  return cmd
    .option('--rate <rate>', '1hz | native | FPS', 'native')
    .option('--stereo <packing>', 'none | sbs | tb (the left view is segmented)', 'none')
    .option('--right <file>', 'second file holding the right view')
    .option('--sizes <list>', 'ensemble input sizes HxW,HxW (multiples of 32)')
    .option('--weights <list>', 'fusion weight per size')
    .option('--flip', "horizontal-flip test-time augmentation (default: the model's)")
    .option('--no-flip', "no flip TTA even where the model's defaults have it")
    .option('--min-area <n>', "remove foreground regions smaller than N pixels (default: the model's, else 0)")
    .option('--keep-detached', "keep foreground regions that do not reach the edge of the view (default: the model's)")
    .option('--engine <name>', 'ort | tfjs', 'ort')
    .option('--providers <list>', 'ORT execution providers in order (cuda,tensorrt); CPU is the fallback')
    .option('--overlay', 'also write overlay.mp4 (H.264 at the input rate)')
    .option('--masks-only', 'write index masks and labels only, no colour PNGs (color/): faster for batch work');
}

export interface ProcessingFlags {
  model: string;
  rate: string;
  stereo: string;
  right?: string;
  sizes?: string;
  weights?: string;
  flip?: boolean;
  minArea?: string;
  keepDetached?: boolean;
  engine: string;
  providers?: string;
  overlay?: boolean;
  masksOnly?: boolean;
}

export function parseProcessingOptions(o: ProcessingFlags) {
  if (!ENGINES.includes(o.engine as EngineName))
    throw new TdsError(
      'BAD_OPTION',
      `unknown --engine ${JSON.stringify(o.engine)}`,
      `use one of ${ENGINES.join(', ')}`,
    );
  const minArea = o.minArea === undefined ? undefined : nonNegativeInt('--min-area', o.minArea, '50');
  const weights = o.weights?.split(',').map(Number);
  if (weights?.some((w) => !(w >= 0)))
    throw new TdsError('BAD_OPTION', `--weights must be non-negative numbers, got ${o.weights}`, 'e.g. --weights 1,2');
  const providers = o.providers?.split(',').map((p) => p.trim()) as ExecutionProvider[] | undefined;
  if (providers?.some((p) => !['cpu', 'cuda', 'tensorrt'].includes(p)))
    throw new TdsError(
      'BAD_OPTION',
      `--providers takes cpu, cuda, tensorrt; got ${o.providers}`,
      'e.g. --providers cuda',
    );
  return {
    model: o.model,
    rate: parseRate(o.rate),
    stereo: parseStereo(o.stereo),
    right: o.right,
    sizes: o.sizes ? parseSizes(o.sizes) : undefined,
    weights,
    flip: o.flip,
    minArea,
    // Off when asked; otherwise the model's inference default decides.
    ...(o.keepDetached ? { detached: null } : {}),
    engine: o.engine as EngineName,
    executionProviders: providers,
    overlay: o.overlay,
    ...(o.masksOnly ? { color: false } : {}),
  };
}
