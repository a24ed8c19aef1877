// `tds eval` as a library function: score a folder of predicted masks against ground truth with the challenge
// metric (src/eval/metrics). Files are matched by sequence and name; missing predictions are an error unless
// scored as failures (--missing zero, the official rule). Writes eval.csv and eval.svg next to the predictions.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { TdsError } from '../errors.js';
import type { Palette } from '../ingest/palette.js';
import { imageScenes, naturalCompare, scanFolder, SEQUENCE_DIR, stem } from '../ingest/folders.js';
import { writeAtomic } from '../fs-safe.js';
import { SegmentationMetrics, type EvalResult } from './metrics.js';
import { readAnyLabel } from './label-png.js';
import { barChartSvg } from './chart.js';
import { RefugeMetrics, type RefugeResult } from './refuge.js';

/** A fundus palette (configs/refuge.yaml): background, disc (rim), cup, scored with REFUGE's metrics too. */
export function isFundusPalette(p: Palette): boolean {
  return JSON.stringify(p.classes.map((c) => c.name)) === JSON.stringify(['background', 'disc', 'cup']);
}

/** Glaucoma truth per ground-truth key: the dataset's own labels (Drishti-GS1 spreadsheet, REFUGE folders) or a
 * prepared folder's scenes.json. */
async function glaucomaTruth(dir: string): Promise<Map<string, boolean>> {
  const ds = scanFolder(dir);
  const out = new Map<string, boolean>();
  const key = (seq: string, frame: string) => (SEQUENCE_DIR.test(seq) ? `${seq}/${frame}` : frame);
  const sc = await imageScenes(ds);
  if (sc) {
    for (const s of ds.sequences)
      for (const f of s.frames) if (sc.has(s.name)) out.set(key(s.name, f.name), sc.get(s.name) === 'glaucoma');
  } else if (existsSync(join(dir, 'scenes.json'))) {
    const j = JSON.parse(readFileSync(join(dir, 'scenes.json'), 'utf8')) as {
      sequences?: Record<string, { name?: string }>;
    };
    for (const s of ds.sequences) {
      const n = j.sequences?.[s.name]?.name;
      if (n === 'glaucoma' || n === 'normal') for (const f of s.frames) out.set(key(s.name, f.name), n === 'glaucoma');
    }
  }
  return out;
}

/** The scene head's glaucoma probability per frame, from the predictions' labels.ndjson (tds process). */
function glaucomaProbs(predDir: string): Map<string, number> {
  const out = new Map<string, number>();
  const file = join(predDir, 'labels.ndjson');
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const j = JSON.parse(line) as { name?: string; scene?: { probs?: Record<string, number> } };
    const p = j.scene?.probs?.glaucoma;
    if (j.name && p !== undefined) {
      out.set(j.name, p);
      out.set(j.name.split('/').pop()!, p);
    }
  }
  return out;
}

export interface EvalOptions {
  ignore?: number[];
  missing?: 'error' | 'zero';
  /** Score only these sequences (folder names such as `seq_3` or `OP2`) of the ground truth; default all. */
  sequences?: string[];
  /** Write eval.csv / eval.svg into the prediction folder (default true). */
  write?: boolean;
}

/** Key of a label file: `SEQ/stem` when a path component names a sequence (seq_N, OPn), else the stem. */
function keyOf(root: string, file: string): string {
  const parts = relative(root, file).split(sep);
  const seq = parts.find((p) => SEQUENCE_DIR.test(p));
  return seq ? `${seq}/${stem(file)}` : stem(file);
}

function pngsUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort(naturalCompare)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.toLowerCase().endsWith('.png')) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Ground-truth files keyed like tds process names its outputs (`SEQ/frame` for sequence layouts). */
function groundTruthFiles(dir: string, sequences?: string[]): Array<{ key: string; file: string }> {
  const ds = scanFolder(dir);
  if (ds.layout === 'images') return pngsUnder(dir).map((f) => ({ key: keyOf(dir, f), file: f }));
  return ds.sequences
    .filter((s) => !sequences || sequences.includes(s.name))
    .flatMap((s) =>
      s.frames
        .filter((f) => f.label)
        .map((f) => ({ key: SEQUENCE_DIR.test(s.name) ? `${s.name}/${f.name}` : f.name, file: f.label! })),
    );
}

export async function evaluateFolders(
  predDir: string,
  gtDir: string,
  palette: Palette,
  o: EvalOptions = {},
): Promise<EvalResult & { refuge?: RefugeResult }> {
  for (const [what, d] of [
    ['predictions', predDir],
    ['ground truth', gtDir],
  ] as const) {
    if (!existsSync(d) || !statSync(d).isDirectory())
      throw new TdsError('ENOENT_INPUT', `${what} folder not found: ${d}`, 'check the path');
  }
  const predRoot = existsSync(join(predDir, 'masks')) ? join(predDir, 'masks') : predDir;
  const preds = new Map(pngsUnder(predRoot).map((f) => [keyOf(predRoot, f), f]));
  const gts = groundTruthFiles(gtDir, o.sequences);
  if (!gts.length)
    throw new TdsError(
      'BAD_DATASET',
      `no ground-truth PNGs in ${gtDir}`,
      'give a folder of label PNGs (ROBOT18 labels/, prepared masks/, EndoVis17 ground_truth/ or plain)',
    );
  if (!preds.size)
    throw new TdsError(
      'BAD_DATASET',
      `no prediction PNGs in ${predRoot}`,
      'give the output folder of tds process (its masks/) or a folder of mask PNGs',
    );
  const names = palette.classes.map((c) => c.name);
  const metrics = new SegmentationMetrics(names, o.ignore ?? []);
  // Fundus: REFUGE's own scores too (disc and cup Dice, vCDR error, glaucoma AUC).
  const refuge = isFundusPalette(palette) ? new RefugeMetrics() : undefined;
  const truth = refuge ? await glaucomaTruth(gtDir) : undefined;
  const probs = refuge ? glaucomaProbs(predDir) : undefined;
  for (const g of gts) {
    const gt = await readAnyLabel(g.file, palette);
    const video = g.key.includes('/') ? g.key.split('/')[0] : undefined;
    const pf = preds.get(g.key) ?? preds.get(g.key.split('/').pop()!);
    if (!pf) {
      if (o.missing !== 'zero')
        throw new TdsError(
          'BAD_DATASET',
          `no prediction for ground-truth frame ${g.key} (${g.file})`,
          'predict every frame, or pass --missing zero to score missing frames as failures (the official rule)',
        );
      // A missing frame is a failure: a prediction that matches no class.
      metrics.update(new Uint8Array(gt.labels.length).fill(255), gt.labels, video);
      refuge?.update(g.key, new Uint8Array(gt.labels.length), gt.labels, gt.width, { glaucoma: truth?.get(g.key) });
      continue;
    }
    const pr = await readAnyLabel(pf, palette);
    if (pr.width !== gt.width || pr.height !== gt.height) {
      throw new TdsError(
        'BAD_LABEL',
        `prediction ${pf} is ${pr.width}x${pr.height} but ground truth ${g.file} is ${gt.width}x${gt.height}`,
        "predict at the ground truth's resolution (tds process writes masks at the source size)",
      );
    }
    metrics.update(pr.labels, gt.labels, video);
    refuge?.update(g.key, pr.labels, gt.labels, gt.width, {
      glaucoma: truth?.get(g.key),
      glaucomaProb: probs?.get(g.key) ?? probs?.get(g.key.split('/').pop()!),
    });
  }
  const r: EvalResult & { refuge?: RefugeResult } = metrics.result();
  if (refuge) r.refuge = refuge.result();
  if (o.write !== false) {
    const f = (v: number) => (Number.isNaN(v) ? '' : v.toFixed(6));
    const rows = [
      'class,iou,dice,frames',
      ...Object.entries(r.perClass).map(([n, v]) => `${n},${f(v.iou)},${f(v.dice)},${v.frames}`),
      ...Object.entries(r.metrics).map(([k, v]) => `${k},${f(v)},,${r.frames}`),
      ...Object.entries(r.pooled.perClass).map(([n, v]) => `pooled:${n},${f(v.iou)},${f(v.dice)},${r.frames}`),
      `pooled:foreground,${f(r.pooled.foreground.iou)},${f(r.pooled.foreground.dice)},${r.frames}`,
    ];
    await writeAtomic(join(predDir, 'eval.csv'), rows.join('\n') + '\n');
    if (r.refuge) {
      const q = r.refuge;
      const lines = [
        'image,disc_dice,cup_dice,vcdr_pred,vcdr_true,glaucoma,glaucoma_prob',
        ...q.perImage.map(
          (x) =>
            `${x.name},${f(x.discDice)},${f(x.cupDice)},${f(x.vcdrPred)},${f(x.vcdrTrue)},${x.glaucoma === undefined ? '' : x.glaucoma ? 1 : 0},${x.glaucomaProb === undefined ? '' : f(x.glaucomaProb)}`,
        ),
        `mean,${f(q.discDice)},${f(q.cupDice)},vcdr_mae ${f(q.vcdrMAE)},,auc_vcdr ${f(q.auc.vcdr)},auc_scene ${f(q.auc.scene)}`,
      ];
      await writeAtomic(join(predDir, 'eval-refuge.csv'), lines.join('\n') + '\n');
    }
    await writeAtomic(
      join(predDir, 'eval.svg'),
      barChartSvg(
        Object.entries(r.perClass).map(([n, v]) => ({
          label: n,
          value: v.iou,
          color: palette.classes.find((c) => c.name === n)!.color,
        })),
        `per-class IoU (challenge IoU ${r.metrics.challengeIoU.toFixed(3)}, ${r.frames} frames)`,
      ),
    );
  }
  return r;
}
