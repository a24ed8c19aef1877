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
  if (pred.length !== gt.length)
    throw new TdsError(
      'BAD_LABEL',
      `prediction has ${pred.length} pixels but ground truth has ${gt.length}`,
      'compare masks of the same size',
    );
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
  return {
    challengeIoU: nGt ? sGt / nGt : NaN,
    challengeIoUUnion: nUnion ? sUnion / nUnion : NaN,
    generalJaccard: nGj ? sGj / nGj : NaN,
    meanDice: nGt ? sDice / nGt : NaN,
    iou,
    dice,
  };
}

export interface EvalResult {
  frames: number;
  /** Pixel-pooled over all frames (sum of intersections over sum of unions), the EndoVis 2015 way of scoring:
   * per class, and foreground = every class but background (id 0) against background (binary instrument). */
  pooled: {
    perClass: Record<string, { iou: number; dice: number }>;
    foreground: { iou: number; dice: number; frameMeanIoU: number };
  };
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
  private frames: Array<FrameScores & { video?: string; fgIoU: number }> = [];
  private sums = { inter: new Float64Array(0), pred: new Float64Array(0), gt: new Float64Array(0) };
  private fg = { inter: 0, pred: 0, gt: 0 };
  constructor(
    private readonly classNames: string[],
    private readonly ignore: number[] = [],
  ) {}

  update(pred: Uint8Array, gt: Uint8Array, video?: string): FrameScores {
    const C = this.classNames.length;
    const counts = frameCounts(pred, gt, C);
    const s = frameScores(counts, this.ignore);
    if (this.sums.inter.length !== C)
      this.sums = { inter: new Float64Array(C), pred: new Float64Array(C), gt: new Float64Array(C) };
    for (let k = 0; k < C; k++) {
      this.sums.inter[k] += counts.inter[k];
      this.sums.pred[k] += counts.pred[k];
      this.sums.gt[k] += counts.gt[k];
    }
    // Binary foreground: a pixel is foreground when its class is neither background nor ignored.
    const isFg = new Uint8Array(256);
    for (let k = 1; k < C; k++) if (!this.ignore.includes(k)) isFg[k] = 1;
    let fi = 0;
    let fp = 0;
    let fgt = 0;
    for (let i = 0; i < pred.length; i++) {
      const a = isFg[pred[i]];
      const b = isFg[gt[i]];
      fp += a;
      fgt += b;
      fi += a & b;
    }
    this.fg.inter += fi;
    this.fg.pred += fp;
    this.fg.gt += fgt;
    this.frames.push({ ...s, video, fgIoU: fp + fgt - fi > 0 ? fi / (fp + fgt - fi) : NaN });
    return s;
  }

  reset(): void {
    this.frames = [];
    this.sums = { inter: new Float64Array(0), pred: new Float64Array(0), gt: new Float64Array(0) };
    this.fg = { inter: 0, pred: 0, gt: 0 };
  }

  result(): EvalResult {
    const f = this.frames;
    const perClass: EvalResult['perClass'] = {};
    this.classNames.forEach((name, k) => {
      if (this.ignore.includes(k)) return;
      const withClass = f.filter((x) => !Number.isNaN(x.iou[k]));
      perClass[name] = {
        iou: mean(withClass.map((x) => x.iou[k])),
        dice: mean(withClass.map((x) => x.dice[k])),
        frames: withClass.length,
      };
    });
    const perVideo: EvalResult['perVideo'] = {};
    for (const v of [...new Set(f.map((x) => x.video).filter((x): x is string => !!x))]) {
      const of = f.filter((x) => x.video === v);
      perVideo[v] = { challengeIoU: mean(of.map((x) => x.challengeIoU)), frames: of.length };
    }
    const pooledClass: EvalResult['pooled']['perClass'] = {};
    this.classNames.forEach((name, k) => {
      if (this.ignore.includes(k) || !this.sums.inter.length) return;
      const i = this.sums.inter[k];
      const p = this.sums.pred[k];
      const g = this.sums.gt[k];
      pooledClass[name] = { iou: p + g - i > 0 ? i / (p + g - i) : NaN, dice: p + g > 0 ? (2 * i) / (p + g) : NaN };
    });
    const { inter: fi, pred: fp, gt: fg } = this.fg;
    return {
      frames: f.length,
      pooled: {
        perClass: pooledClass,
        foreground: {
          iou: fp + fg - fi > 0 ? fi / (fp + fg - fi) : NaN,
          dice: fp + fg > 0 ? (2 * fi) / (fp + fg) : NaN,
          frameMeanIoU: mean(f.map((x) => x.fgIoU)),
        },
      },
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
