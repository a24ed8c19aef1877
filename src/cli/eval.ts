// `tds eval --pred DIR --gt DIR`: the challenge metric over folders of masks.
import type { Command } from 'commander';
import { evaluateFolders } from '../eval/evaluate.js';
import { bratsConvention, evaluateBrats } from '../eval/brats-eval.js';
import { BRATS_REGIONS } from '../eval/brats.js';
import { loadPalette } from '../ingest/palette.js';
import { TdsError } from '../errors.js';
import { configPath } from '../package-paths.js';

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('score predicted masks against ground truth with the challenge metric (writes eval.csv, eval.svg)')
    .requiredOption('--pred <dir>', 'predictions: tds process output or a folder of mask PNGs (colour, grey or index)')
    .requiredOption(
      '--gt <dir>',
      'ground truth: ROBOT18 labels, prepared masks, EndoVis17 ground_truth or a folder of PNGs',
    )
    .option('--config <file>', 'palette YAML', 'robot18')
    .option('--ignore <ids>', 'class ids to leave out, e.g. 0 for background')
    .option('--missing <rule>', 'error (default) | zero: score missing predictions as failures', 'error')
    .option(
      '--sequences <list>',
      'score only these sequences of the ground truth (folder names, e.g. OP2 or seq_1,seq_3)',
    )
    .option(
      '--json',
      'print {frames, metrics, pooled, perClass, perVideo} (+ refuge for fundus configs; {brats} for BraTS configs)',
    )
    .action(
      async (o: {
        pred: string;
        gt: string;
        config: string;
        ignore?: string;
        missing: string;
        sequences?: string;
        json?: boolean;
      }) => {
        if (o.missing !== 'error' && o.missing !== 'zero')
          throw new TdsError(
            'BAD_OPTION',
            `--missing must be error or zero, got ${JSON.stringify(o.missing)}`,
            'zero scores missing frames as failures',
          );
        const ignore = o.ignore ? o.ignore.split(',').map((s) => Number(s.trim())) : [];
        if (ignore.some((v) => !Number.isInteger(v) || v < 0))
          throw new TdsError(
            'BAD_OPTION',
            `--ignore must be class ids, got ${JSON.stringify(o.ignore)}`,
            'e.g. --ignore 0',
          );
        const palette = loadPalette(configPath(o.config));
        const convention = bratsConvention(palette);
        if (convention) {
          // Label volumes: Dice and HD95 of the nested tumour regions per case (eval-brats.csv).
          const b = await evaluateBrats(o.pred, o.gt, convention, { missing: o.missing });
          if (o.json) console.log(JSON.stringify({ brats: b }));
          else {
            const fmt = (v: Record<string, { dice: number; hd95: number }>) =>
              BRATS_REGIONS.map((k) => `${k} Dice ${v[k].dice.toFixed(4)} HD95 ${v[k].hd95.toFixed(2)}`).join(', ');
            for (const c of b.cases)
              console.log(`  ${c.case.padEnd(28)} ${fmt(c.regions)}${c.missing ? ' (missing)' : ''}`);
            console.log(`BraTS ${convention} (${b.cases.length} cases, means): ${fmt(b.mean)}`);
          }
          return;
        }
        const r = await evaluateFolders(o.pred, o.gt, palette, {
          ignore,
          missing: o.missing,
          sequences: o.sequences?.split(',').map((x) => x.trim()),
        });
        if (o.json) console.log(JSON.stringify(r));
        else {
          console.log(
            `${r.frames} frames: challenge IoU ${r.metrics.challengeIoU.toFixed(4)} (GT u pred: ${r.metrics.challengeIoUUnion.toFixed(4)}), general Jaccard ${r.metrics.generalJaccard.toFixed(4)}, mean Dice ${r.metrics.meanDice.toFixed(4)}`,
          );
          for (const [n, v] of Object.entries(r.perClass))
            if (v.frames)
              console.log(`  ${n.padEnd(22)} IoU ${v.iou.toFixed(4)}  Dice ${v.dice.toFixed(4)}  (${v.frames} frames)`);
          const fg = r.pooled.foreground;
          console.log(
            `pooled over all pixels: foreground (all but class 0) IoU ${fg.iou.toFixed(4)} Dice ${fg.dice.toFixed(4)} (per-frame mean IoU ${fg.frameMeanIoU.toFixed(4)})`,
          );
          for (const [n, v] of Object.entries(r.pooled.perClass))
            console.log(`  ${n.padEnd(22)} IoU ${v.iou.toFixed(4)}  Dice ${v.dice.toFixed(4)}`);
          if (r.refuge) {
            const q = r.refuge;
            console.log(
              `REFUGE (${q.images} images, per-image means): disc Dice ${q.discDice.toFixed(4)}, cup Dice ${q.cupDice.toFixed(4)}, vCDR MAE ${q.vcdrMAE.toFixed(4)}; glaucoma AUC from the scene head ${q.auc.scene.toFixed(4)}, from the vCDR ${q.auc.vcdr.toFixed(4)}`,
            );
          }
        }
      },
    );
}
