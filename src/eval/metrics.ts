// Challenge metrics (EndoVis 2018 / ROBOT18; shared/DESIGN.md §4) as pure functions on label maps, and an
// accumulator with update/result/reset (MONAI style). IoU(c,f) = |P∩G| / |P∪G| for class c in frame f.
//   challengeIoU: per frame, the mean IoU over classes present in the ground truth; then the mean over frames.
//   challengeIoUUnion: the same over classes present in the ground truth or the prediction.
//   generalJaccard (official code): per frame and class, 1 if absent in both, 0 if predicted but absent in
//     the ground truth, else IoU; the mean over classes, then over frames.
//   meanDice: like challengeIoU with Dice = 2|P∩G| / (|P|+|G|).
import { TdsError } from '../errors.js';

export interface FrameCounts {
  /** Per class: intersection, predicted pixels, ground-truth pixels. */
  inter: Float64Array;
  pred: Float64Array;
  gt: Float64Array;
}

/** Per-class pixel counts of one frame. Classes in `ignore` are left out of every metric. */
export function frameCounts(pred: Uint8Array, gt: Uint8Array, numClasses: number): FrameCounts {
  if (pred.length !== gt.length) throw new TdsError('BAD_LABEL', `prediction has ${pred.length} pixels but ground truth has ${gt.length}`, 'compare masks of the same size');
  const inter = new Float64Array(numClasses);
  const p = new Float64Array(numClasses);
  const g = new Float64Array(numClasses);
  for (let i = 0; i < pred.length; i++) {
    const a = pred[i];
    const b = gt[i];
    if (a < numClasses) p[a]++;
    if (b < numClasses) g[b]++;
    if (a === b && a < numClasses) inter[a]++;
  }
  return { inter, pred: p, gt: g };
}

export interface FrameScores {
  challengeIoU: number;
  challengeIoUUnion: number;
  generalJaccard: number;
  meanDice: number;
  /** IoU and Dice per class where the ground truth has it, else NaN. */
  iou: Float64Array;
  dice: Float64Array;
}

export function frameScores(c: FrameCounts, ignore: number[] = []): FrameScores {
  const C = c.inter.length;
  const iou = new Float64Array(C).fill(NaN);
  const dice = new Float64Array(C).fill(NaN);
  let sGt = 0;
  let nGt = 0;
  let sUnion = 0;
  let nUnion = 0;
  let sGj = 0;
  let nGj = 0;
  let sDice = 0;
  for (let k = 0; k < C; k++) {
    if (ignore.includes(k)) continue;
    const union = c.pred[k] + c.gt[k] - c.inter[k];
    const j = union > 0 ? c.inter[k] / union : 0;
    const d = c.pred[k] + c.gt[k] > 0 ? (2 * c.inter[k]) / (c.pred[k] + c.gt[k]) : 0;
    if (c.gt[k] > 0) {
      iou[k] = j;
      dice[k] = d;
      sGt += j;
      sDice += d;
      nGt++;
    }
    if (c.gt[k] > 0 || c.pred[k] > 0) {
      sUnion += j;
      nUnion++;
    }
    sGj += c.gt[k] === 0 ? (c.pred[k] === 0 ? 1 : 0) : j;
    nGj++;
  }
  // A frame whose ground truth holds only ignored classes scores NaN and is skipped by the means.
  return { challengeIoU: nGt ? sGt / nGt : NaN, challengeIoUUnion: nUnion ? sUnion / nUnion : NaN, generalJaccard: nGj ? sGj / nGj : NaN, meanDice: nGt ? sDice / nGt : NaN, iou, dice };
}

export interface EvalResult {
  frames: number;
  metrics: { challengeIoU: number; challengeIoUUnion: number; generalJaccard: number; meanDice: number };
  perClass: Record<string, { iou: number; dice: number; frames: number }>;
  perVideo: Record<string, { challengeIoU: number; frames: number }>;
}

const mean = (xs: number[]) => {
  const v = xs.filter((x) => !Number.isNaN(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
};

/** Accumulates frame scores; `result()` gives the challenge means, per class and per video. */
export class SegmentationMetrics {
  private frames: Array<FrameScores & { video?: string }> = [];
  constructor(
    private readonly classNames: string[],
    private readonly ignore: number[] = [],
  ) {}

  update(pred: Uint8Array, gt: Uint8Array, video?: string): FrameScores {
    const s = frameScores(frameCounts(pred, gt, this.classNames.length), this.ignore);
    this.frames.push({ ...s, video });
    return s;
  }

  reset(): void {
    this.frames = [];
  }

  result(): EvalResult {
    const f = this.frames;
    const perClass: EvalResult['perClass'] = {};
    this.classNames.forEach((name, k) => {
      if (this.ignore.includes(k)) return;
      const withClass = f.filter((x) => !Number.isNaN(x.iou[k]));
      perClass[name] = { iou: mean(withClass.map((x) => x.iou[k])), dice: mean(withClass.map((x) => x.dice[k])), frames: withClass.length };
    });
    const perVideo: EvalResult['perVideo'] = {};
    for (const v of [...new Set(f.map((x) => x.video).filter((x): x is string => !!x))]) {
      const of = f.filter((x) => x.video === v);
      perVideo[v] = { challengeIoU: mean(of.map((x) => x.challengeIoU)), frames: of.length };
    }
    return {
      frames: f.length,
      metrics: {
        challengeIoU: mean(f.map((x) => x.challengeIoU)),
        challengeIoUUnion: mean(f.map((x) => x.challengeIoUUnion)),
        generalJaccard: mean(f.map((x) => x.generalJaccard)),
        meanDice: mean(f.map((x) => x.meanDice)),
      },
      perClass,
      perVideo,
    };
  }
}
