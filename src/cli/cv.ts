// `tds cv --config CFG --data DIR --out DIR`: leave-one-sequence-out cross-validation (train, process, eval per
// held-out sequence), the per-fold and mean table, and optionally the final model on every sequence.
import type { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { loadRunConfig } from '../train/config.js';
import { log } from '../log.js';
import { configPath } from '../package-paths.js';
import { nonNegativeInt, nonNegativeNumber, positiveInt } from './args.js';
import { stopOnSignals } from './signals.js';
import { readConfigFile } from '../ingest/config-file.js';
import { parsePalette } from '../ingest/palette.js';

export function registerCv(program: Command): void {
  program
    .command('cv')
    .description('leave-one-sequence-out cross-validation: one model per held-out sequence, scored on it with tds eval')
    .requiredOption('--config <file>', 'config YAML with a train section (e.g. configs/endovis15-rigid.yaml)')
    .requiredOption(
      '--data <dir>',
      'dataset with several sequences (EndoVis 2015 OPn, ROBOT18 seq_N, prepared) or BraTS cases (leave one case out)',
    )
    .requiredOption('--out <dir>', 'folder for fold-SEQ/run, fold-SEQ/pred-VARIANT, cv.json, cv.md (rerun to resume)')
    .option('--parallel <n>', 'trainings at once (tfjs trains on one core each)', '2')
    .option('--final', 'also train the final model on every sequence and give it the winning inference variant')
    .option('--epochs-scale <f>', "scale every stage's end epoch (e.g. 0.1 for a quick run)")
    .option('--min-fps <n>', "the final model's default variant must run at least this fast engine-only here", '25')
    .option(
      '--tolerance <x>',
      'scores within this of the best live variant count as equal; the fastest of them becomes the default',
      '0',
    )
    .option(
      '--average <dirs>',
      'no training: score the average of the fold models of these earlier tds cv folders (comma-separated)',
    )
    .option('--json', 'print the report as JSON')
    .action(
      async (o: {
        config: string;
        data: string;
        out: string;
        parallel: string;
        final?: boolean;
        epochsScale?: string;
        minFps: string;
        tolerance: string;
        average?: string;
        json?: boolean;
      }) => {
        const config = configPath(o.config);
        // Ctrl-C / SIGTERM: every fold in training saves its progress and ends before tds cv exits.
        const stop = stopOnSignals();
        const opts = {
          config,
          data: o.data,
          out: o.out,
          cli: fileURLToPath(new URL('./index.js', import.meta.url)),
          parallel: positiveInt('--parallel', o.parallel),
          final: o.final,
          epochsScale: o.epochsScale !== undefined ? Number(o.epochsScale) : undefined,
          minFps: nonNegativeInt('--min-fps', o.minFps, '25'),
          tolerance: nonNegativeNumber('--tolerance', o.tolerance, '0.005'),
          average: o.average
            ?.split(',')
            .map((d) => d.trim())
            .filter(Boolean),
          onLog: (m: string) => log.info(m),
          signal: stop.signal,
        };
        const raw = readConfigFile(config);
        const palette = parsePalette(raw, config);
        // Training code (tfjs) loads when a training command runs, not at every tds start.
        const [{ crossValidate, cvTable }, { isVolumeDataset, parseTrain3d }, { crossValidateVolumes, cv3dTable }] =
          await Promise.all([import('../train/cv.js'), import('../train/config3d.js'), import('../train/cv3d.js')]);
        let r: Awaited<ReturnType<typeof crossValidate>>;
        try {
          // Volume datasets (BraTS): leave one case out with the 3D network.
          if (isVolumeDataset(palette)) {
            const v = await crossValidateVolumes(opts, palette, parseTrain3d(raw.train, config));
            console.log(o.json ? JSON.stringify(v) : cv3dTable(v));
            return;
          }
          r = await crossValidate(opts);
        } catch (e) {
          if (!stop.received) throw e;
          console.error(`tds: ${(e as Error).message}`);
          process.exitCode = stop.received === 'SIGINT' ? 130 : 143;
          return;
        } finally {
          stop.dispose();
        }
        if (o.json) console.log(JSON.stringify(r));
        else
          console.log(
            cvTable(
              r,
              loadRunConfig(config).palette.classes.map((c) => c.name),
            ),
          );
      },
    );
}
