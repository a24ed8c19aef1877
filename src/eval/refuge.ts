// REFUGE's evaluation (Orlando et al., REFUGE challenge, Medical Image Analysis 2020): optic disc and cup Dice
// per image (mean over images), the mean absolute error of the vertical cup-to-disc ratio (vCDR), and the
// glaucoma classification AUC. Masks use tds's fundus ids: 0 background, 1 disc rim (disc minus cup), 2 cup, so
// the disc is {1, 2} and the cup {2} (the nested regions REFUGE scores).

export const FUNDUS_IDS = { rim: 1, cup: 2 } as const;

/** Dice of two binary masks; 1 when both are empty (nothing to find, nothing found). */
export function dice(a: Uint8Array, b: Uint8Array): number {
  let inter = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < a.length; i++) {
    sa += a[i];
    sb += b[i];
    inter += a[i] & b[i];
  }
  return sa + sb === 0 ? 1 : (2 * inter) / (sa + sb);
}

/** Disc ({rim, cup}) and cup masks (0/1) of a fundus label mask. */
export function discAndCup(labels: Uint8Array): { disc: Uint8Array; cup: Uint8Array } {
  const disc = new Uint8Array(labels.length);
  const cup = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    cup[i] = v === FUNDUS_IDS.cup ? 1 : 0;
    disc[i] = v === FUNDUS_IDS.cup || v === FUNDUS_IDS.rim ? 1 : 0;
  }
  return { disc, cup };
}

/** Vertical extent in rows (bottom - top + 1) of a binary mask; 0 when empty. */
export function verticalDiameter(mask: Uint8Array, width: number): number {
  let top = -1;
  let bottom = -1;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const y = Math.floor(i / width);
    if (top < 0) top = y;
    bottom = y;
  }
  return top < 0 ? 0 : bottom - top + 1;
}

/** Vertical cup-to-disc ratio: vertical cup diameter over vertical disc diameter (0 without a disc). */
export function verticalCdr(labels: Uint8Array, width: number): number {
  const { disc, cup } = discAndCup(labels);
  const d = verticalDiameter(disc, width);
  return d ? verticalDiameter(cup, width) / d : 0;
}

/** Area under the ROC curve of `scores` for the positives in `positive` (Mann-Whitney U; ties count half).
 * NaN when one class is missing. */
export function rocAuc(scores: number[], positive: boolean[]): number {
  const pos = scores.filter((_, i) => positive[i]);
  const neg = scores.filter((_, i) => !positive[i]);
  if (!pos.length || !neg.length) return NaN;
  let u = 0;
  for (const p of pos) for (const n of neg) u += p > n ? 1 : p === n ? 0.5 : 0;
  return u / (pos.length * neg.length);
}

export interface RefugeImage {
  name: string;
  discDice: number;
  cupDice: number;
  vcdrPred: number;
  vcdrTrue: number;
  /** The scene head's glaucoma probability, when the model has one. */
  glaucomaProb?: number;
  glaucoma?: boolean;
}

export interface RefugeResult {
  images: number;
  discDice: number;
  cupDice: number;
  vcdrMAE: number;
  /** Glaucoma AUC from the scene head's probability and from the predicted vCDR (REFUGE's baseline). */
  auc: { scene: number; vcdr: number };
  perImage: RefugeImage[];
}

/** Accumulates REFUGE scores image by image. */
export class RefugeMetrics {
  private readonly rows: RefugeImage[] = [];

  update(
    name: string,
    pred: Uint8Array,
    gt: Uint8Array,
    width: number,
    o: { glaucomaProb?: number; glaucoma?: boolean } = {},
  ): RefugeImage {
    const p = discAndCup(pred);
    const g = discAndCup(gt);
    const row: RefugeImage = {
      name,
      discDice: dice(p.disc, g.disc),
      cupDice: dice(p.cup, g.cup),
      vcdrPred: verticalCdr(pred, width),
      vcdrTrue: verticalCdr(gt, width),
      ...o,
    };
    this.rows.push(row);
    return row;
  }

  result(): RefugeResult {
    return summarizeRefuge(this.rows);
  }
}

/** REFUGE's scores of some images: per-image means, and AUCs over the labelled ones (a fold's images, or every
 * fold's held-out images pooled in cross-validation). */
export function summarizeRefuge(r: RefugeImage[]): RefugeResult {
  const mean = (f: (x: RefugeImage) => number) => (r.length ? r.reduce((a, x) => a + f(x), 0) / r.length : NaN);
  const labelled = r.filter((x) => x.glaucoma !== undefined);
  const withProb = labelled.filter((x) => x.glaucomaProb !== undefined);
  return {
    images: r.length,
    discDice: mean((x) => x.discDice),
    cupDice: mean((x) => x.cupDice),
    vcdrMAE: mean((x) => Math.abs(x.vcdrPred - x.vcdrTrue)),
    auc: {
      scene: rocAuc(
        withProb.map((x) => x.glaucomaProb!),
        withProb.map((x) => x.glaucoma!),
      ),
      vcdr: rocAuc(
        labelled.map((x) => x.vcdrPred),
        labelled.map((x) => x.glaucoma!),
      ),
    },
    perImage: r,
  };
}
