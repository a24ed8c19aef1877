// REFUGE's metrics on hand-made fundus masks (0 background, 1 disc rim, 2 cup), values worked out by hand.
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dice, discAndCup, RefugeMetrics, rocAuc, verticalCdr, verticalDiameter } from '../../src/eval/refuge.js';
import { evaluateFolders } from '../../src/eval/evaluate.js';
import { loadPalette } from '../../src/ingest/palette.js';
import { writePng } from '../../src/ingest/image-io.js';
import { refugeFolder, root, tmp } from '../helpers.js';

/** A WxH mask with a filled rectangle of `v` at rows y0..y1 and columns x0..x1 (inclusive), drawn in order. */
function mask(w: number, h: number, rects: Array<[number, number, number, number, number]>): Uint8Array {
  const m = new Uint8Array(w * h);
  for (const [y0, y1, x0, x1, v] of rects)
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) m[y * w + x] = v;
  return m;
}

describe('REFUGE metrics', () => {
  // Disc rows 2..11 (10 rows), cup rows 5..8 (4 rows): vCDR 0.4.
  const gt = mask(16, 16, [
    [2, 11, 3, 12, 1],
    [5, 8, 6, 9, 2],
  ]);

  it('disc is rim + cup, cup is cup; vertical diameters and the vCDR', () => {
    const { disc, cup } = discAndCup(gt);
    expect(disc.reduce((a, b) => a + b, 0)).toBe(100);
    expect(cup.reduce((a, b) => a + b, 0)).toBe(16);
    expect(verticalDiameter(disc, 16)).toBe(10);
    expect(verticalDiameter(cup, 16)).toBe(4);
    expect(verticalCdr(gt, 16)).toBeCloseTo(0.4, 10);
    expect(verticalCdr(new Uint8Array(256), 16)).toBe(0);
  });

  it('Dice: identical 1, disjoint 0, half overlap by hand; both empty counts as 1', () => {
    const a = new Uint8Array([1, 1, 0, 0]);
    expect(dice(a, a)).toBe(1);
    expect(dice(a, new Uint8Array([0, 0, 1, 1]))).toBe(0);
    expect(dice(a, new Uint8Array([0, 1, 1, 0]))).toBe(0.5);
    expect(dice(new Uint8Array(4), new Uint8Array(4))).toBe(1);
  });

  it('AUC: perfect 1, reversed 0, ties half, one class missing NaN', () => {
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [true, true, false, false])).toBe(1);
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [true, true, false, false])).toBe(0);
    expect(rocAuc([0.5, 0.5], [true, false])).toBe(0.5);
    // 2 positives, 2 negatives: pairs (0.9>0.4) (0.9>0.6) (0.5>0.4) (0.5<0.6) = 3/4.
    expect(rocAuc([0.9, 0.5, 0.4, 0.6], [true, true, false, false])).toBe(0.75);
    expect(rocAuc([0.1, 0.2], [true, true])).toBeNaN();
  });

  it('accumulates per image: mean Dice, vCDR MAE and both AUCs', () => {
    const m = new RefugeMetrics();
    // Image 1: perfect. Image 2: the cup predicted 2 rows taller (rows 5..10: vCDR 0.6, error 0.2), cup Dice
    // 2*16/(24+16) = 0.8, disc unchanged (the extra cup rows were rim).
    const pred2 = mask(16, 16, [
      [2, 11, 3, 12, 1],
      [5, 10, 6, 9, 2],
    ]);
    m.update('a', gt, gt, 16, { glaucomaProb: 0.2, glaucoma: false });
    m.update('b', pred2, gt, 16, { glaucomaProb: 0.7, glaucoma: true });
    const r = m.result();
    expect(r.images).toBe(2);
    expect(r.discDice).toBe(1);
    expect(r.cupDice).toBeCloseTo((1 + 0.8) / 2, 10);
    expect(r.vcdrMAE).toBeCloseTo(0.1, 10);
    expect(r.auc).toEqual({ scene: 1, vcdr: 1 });
  });
});

describe('tds eval on fundus data', () => {
  it('REFUGE ground truth vs predicted masks and scene probabilities: Dice, vCDR MAE and both AUCs by hand', async () => {
    const { dir, masks } = await refugeFolder();
    const palette = loadPalette(join(root, 'configs', 'refuge.yaml'));
    const pred = tmp();
    const ids = (m: Uint8Array) => Buffer.from(Array.from(m, (v) => (v === 255 ? 0 : v === 128 ? 1 : 2)));
    // g0001 and g0002 predicted exactly, n0001 all background (a missed disc).
    for (const [n, data] of [
      ['g0001', ids(masks.g0001)],
      ['g0002', ids(masks.g0002)],
      ['n0001', Buffer.alloc(40 * 30)],
    ] as const)
      await writePng(join(pred, 'masks', `${n}.png`), { data, width: 40, height: 30, channels: 1 });
    const probs: Record<string, number> = { g0001: 0.9, g0002: 0.4, n0001: 0.6 };
    writeFileSync(
      join(pred, 'labels.ndjson'),
      Object.entries(probs)
        .map(([n, p], i) =>
          JSON.stringify({ frame: i, name: `${n}/${n}`, scene: { probs: { normal: 1 - p, glaucoma: p } } }),
        )
        .join('\n') + '\n',
    );
    const r = await evaluateFolders(pred, dir, palette);
    const q = r.refuge!;
    expect(q.images).toBe(3);
    expect(q.discDice).toBeCloseTo(2 / 3, 10);
    expect(q.cupDice).toBeCloseTo(2 / 3, 10);
    // Disc: rows 8..22 (15), cup: rows 12..18 (7); the missed disc predicts vCDR 0.
    expect(q.perImage.map((x) => x.vcdrTrue)).toEqual([7 / 15, 7 / 15, 7 / 15]);
    expect(q.vcdrMAE).toBeCloseTo(7 / 15 / 3, 10);
    expect(q.perImage.map((x) => x.glaucoma)).toEqual([true, true, false]);
    expect(q.auc.vcdr).toBe(1);
    // Scene head: 0.9 > 0.6 (right), 0.4 < 0.6 (wrong): AUC 0.5.
    expect(q.auc.scene).toBe(0.5);
    const csv = readFileSync(join(pred, 'eval-refuge.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('image,disc_dice,cup_dice,vcdr_pred,vcdr_true,glaucoma,glaucoma_prob');
    expect(csv[3]).toMatch(/^n0001,0\.000000,0\.000000,0\.000000,0\.466667,0,0\.600000$/);
  });
});
