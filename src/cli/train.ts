// `tds train`: staged TDS training on frame sequences, with a progress bar, Ctrl-C to stop and save, --resume.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { applyOverrides, loadRunConfig } from '../train/config.js';
import type { BackendName } from '../model/backend.js';
import { TdsError } from '../errors.js';
import { log } from '../log.js';
import { configPath } from '../package-paths.js';
import { parseSize } from './size.js';
import { readConfigFile } from '../ingest/config-file.js';
import { parsePalette } from '../ingest/palette.js';

/** `--hold-out 2` / `1,3` / `none`. */
function parseHoldOut(v: string): number[] {
  if (v.trim() === 'none') return [];
  const ids = v.split(',').map((x) => Number(x.trim().replace(/^(?:seq_|OP)/, '')));
  if (!ids.length || ids.some((n) => !Number.isInteger(n) || n < 0))
    throw new TdsError(
      'BAD_OPTION',
      `--hold-out takes sequence numbers such as 2 or 1,3 (or none), got ${JSON.stringify(v)}`,
      'e.g. --hold-out 3 to train on the other sequences',
    );
  return ids;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train TDSNet with the staged schedule (seg, +class, +sync, +scene) on frame sequences')
    .requiredOption('--config <file>', 'config YAML: classes, scenes and a train section (configs/robot18.yaml)')
    .requiredOption(
      '--data <dir>',
      'ROBOT18-layout folder, prepared masks, EndoVis17-parts folder, tds synth output, or (BraTS configs) a folder of case folders',
    )
    .requiredOption('--out <dir>', 'run folder: checkpoints, metrics.jsonl, curves.svg, model/')
    .option('--profile <name>', 'fast | paper (overrides the config)')
    .option('--size <HxW>', 'training input size, multiples of 32 (overrides the config)')
    .option('--backend <name>', 'wasm | cpu | tensorflow', 'wasm')
    .option('--resume', 'continue an interrupted run in --out')
    .option('--epochs-scale <f>', "scale every stage's end epoch (e.g. 0.1 for a quick run)")
    .option(
      '--hold-out <list>',
      'sequence numbers (BraTS: case folder names) kept out of training (monitored, never used to pick epochs: each stage keeps its last), or none to train on all',
    )
    .option('--json', 'print the summary as JSON')
    .action(
      async (o: {
        config: string;
        data: string;
        out: string;
        profile?: string;
        size?: string;
        backend: string;
        resume?: boolean;
        epochsScale?: string;
        holdOut?: string;
        json?: boolean;
      }) => {
        // Training code (tfjs) loads when a training command runs, not at every tds start.
        const [{ BACKENDS }, { isVolumeDataset }, { train }] = await Promise.all([
          import('../model/backend.js'),
          import('../train/config3d.js'),
          import('../train/run.js'),
        ]);
        if (!BACKENDS.includes(o.backend as BackendName))
          throw new TdsError(
            'BAD_OPTION',
            `unknown --backend ${JSON.stringify(o.backend)}`,
            `use one of ${BACKENDS.join(', ')}`,
          );
        if (o.profile && o.profile !== 'fast' && o.profile !== 'paper')
          throw new TdsError('BAD_MODEL', `unknown profile ${JSON.stringify(o.profile)}`, 'use fast or paper');
        const raw = readConfigFile(configPath(o.config));
        const palette = parsePalette(raw, o.config);
        // Volume datasets (BraTS) train the 3D network on patches.
        if (isVolumeDataset(palette))
          return (await import('./train3d.js')).runTrain3d({ ...o, config: configPath(o.config) }, palette, raw);
        const cfg = loadRunConfig(configPath(o.config));
        const size = o.size ? parseSize(o.size, 'HxW') : undefined;
        cfg.train = applyOverrides(cfg.train, {
          profile: o.profile as 'fast' | undefined,
          size: size && [size.height, size.width],
          epochsScale: o.epochsScale !== undefined ? Number(o.epochsScale) : undefined,
          holdOut: o.holdOut !== undefined ? parseHoldOut(o.holdOut) : undefined,
        });
        const ac = new AbortController();
        let signalName: NodeJS.Signals | undefined;
        const onSigint = (sig: NodeJS.Signals) => {
          if (ac.signal.aborted) process.exit(sig === 'SIGTERM' ? 143 : 130);
          signalName = sig;
          log.warn('interrupt: finishing the current step and saving; press Ctrl-C again to quit at once');
          ac.abort();
        };
        process.on('SIGINT', onSigint);
        process.on('SIGTERM', onSigint);
        const tty = process.stderr.isTTY;
        const bar = tty
          ? new cliProgress.SingleBar(
              {
                format:
                  '{stage} epoch {epoch}/{epochs} [{bar}] step {value}/{total} | loss {loss} (seg {seg} cls {cls} sync {sync} scene {scene}) | val IoU {iou} | ETA {etaText}',
                stream: process.stderr,
                hideCursor: true,
              },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
        let barEpoch = -1;
        try {
          const r = await train({
            config: cfg,
            data: o.data,
            out: o.out,
            backend: o.backend as BackendName,
            resume: o.resume,
            signal: ac.signal,
            command: `tds ${process.argv.slice(2).join(' ')}`,
            onProgress: (p) => {
              const payload = {
                stage: p.stage,
                epoch: p.epoch,
                epochs: p.totalEpochs,
                loss: p.losses.total.toFixed(3),
                seg: p.losses.seg.toFixed(3),
                cls: p.losses.cls.toFixed(3),
                sync: p.losses.sync.toFixed(3),
                scene: p.losses.scene.toFixed(3),
                iou: p.lastValIoU?.toFixed(3) ?? '-',
                etaText: `${Math.round(p.etaSeconds / 60)} min`,
              };
              if (!bar) return;
              if (p.epoch !== barEpoch) {
                if (barEpoch >= 0) bar.stop();
                bar.start(p.steps, p.step, payload);
                barEpoch = p.epoch;
              } else bar.update(p.step, payload);
            },
            onEpoch: (e) => {
              if (!tty)
                log.info(
                  { epoch: e.epoch, stage: e.stage, loss: e.loss, val: e.val, seconds: Math.round(e.seconds) },
                  'epoch done',
                );
            },
          });
          bar?.stop();
          // Stopped by a signal: progress is saved, but the run is not finished, which the exit status says
          // (130 SIGINT, 143 SIGTERM, as tds process), so scripts and tds cv never take it for a finished run.
          if (r.interrupted) process.exitCode = signalName === 'SIGTERM' ? 143 : 130;
          const last = r.history.at(-1);
          if (o.json)
            console.log(
              JSON.stringify({
                interrupted: r.interrupted,
                epochsDone: r.epochsDone,
                backend: r.backend,
                modelDir: r.modelDir,
                best: r.best,
                lastEpoch: last,
              }),
            );
          else if (r.interrupted)
            console.log(
              `interrupted after ${r.epochsDone} complete epoch(s); progress saved. Continue with: tds train ... --out ${o.out} --resume`,
            );
          else
            console.log(
              `trained ${r.epochsDone} epochs on ${r.backend} (${r.trainFrames} training / ${r.valFrames} validation frames); final validation IoU ${last?.val.challengeIoU.toFixed(3)}; model in ${r.modelDir}`,
            );
        } finally {
          bar?.stop();
          process.off('SIGINT', onSigint);
          process.off('SIGTERM', onSigint);
        }
      },
    );
}
