// Challenge metric definitions on hand-made frames (arithmetic in comments), file formats and bad input.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { existsSync, readFileSync, unlinkSync, mkdirSync } from 'node:fs';
import { SegmentationMetrics } from '../../src/eval/metrics.js';
import { evaluateFolders } from '../../src/eval/evaluate.js';
import { loadPalette } from '../../src/ingest/palette.js';
import { indexToColor, indexToGrey } from '../../src/ingest/labels.js';
import { writePng } from '../../src/ingest/image-io.js';
import { root, tmp, cli } from '../helpers.js';

const robot = loadPalette(join(root, 'configs', 'robot18.yaml'));
const parts = loadPalette(join(root, 'configs', 'endovis17-parts.yaml'));
const names = ['bg', 'tool', 'organ'];
const A = { gt: [0, 0, 1, 1], pred: [0, 1, 1, 1] };
const B = { gt: [0, 0, 0, 0], pred: [0, 0, 2, 2] };
const u8 = (a: number[]) => Uint8Array.from(a);

describe('challenge metrics', () => {
  it('per-frame definitions, including absent classes', () => {
    const m = new SegmentationMetrics(names);
    // A: bg: |P|=1, |G|=2, |P∩G|=1 -> 1/2; tool: |P|=3, |G|=2, ∩=2 -> 2/3; organ absent in both.
    const a = m.update(u8(A.pred), u8(A.gt), 'seq_1');
    expect(a.challengeIoU).toBeCloseTo((1 / 2 + 2 / 3) / 2, 6);
    expect(a.challengeIoUUnion).toBeCloseTo((1 / 2 + 2 / 3) / 2, 6);
    expect(a.generalJaccard).toBeCloseTo((1 / 2 + 2 / 3 + 1) / 3, 6); // absent in both counts 1
    expect(a.meanDice).toBeCloseTo((2 / 3 + 0.8) / 2, 6); // 2*1/(1+2), 2*2/(3+2)
    // B: bg IoU 2/4; organ predicted but absent in GT; tool absent in both.
    const b = m.update(u8(B.pred), u8(B.gt), 'seq_2');
    expect(b.challengeIoU).toBeCloseTo(0.5, 6); // only GT classes
    expect(b.challengeIoUUnion).toBeCloseTo(0.25, 6); // (0.5 + 0) / 2 over GT u pred
    expect(b.generalJaccard).toBeCloseTo(0.5, 6); // (0.5 + 1 + 0) / 3: predicted-but-absent counts 0
    expect(b.meanDice).toBeCloseTo(2 / 3, 6);
    const r = m.result();
    expect(r.frames).toBe(2);
    expect(r.metrics.challengeIoU).toBeCloseTo((7 / 12 + 0.5) / 2, 6);
    expect(r.metrics.challengeIoUUnion).toBeCloseTo((7 / 12 + 0.25) / 2, 6);
    expect(r.metrics.generalJaccard).toBeCloseTo((13 / 18 + 0.5) / 2, 6);
    expect(r.metrics.meanDice).toBeCloseTo((11 / 15 + 2 / 3) / 2, 6);
    expect(r.perClass.bg).toEqual({ iou: expect.closeTo(0.5, 6), dice: expect.closeTo(2 / 3, 6), frames: 2 });
    expect(r.perClass.tool).toEqual({ iou: expect.closeTo(2 / 3, 6), dice: expect.closeTo(0.8, 6), frames: 1 });
    expect(r.perClass.organ.frames).toBe(0);
    expect(Number.isNaN(r.perClass.organ.iou)).toBe(true);
    expect(r.perVideo).toEqual({
      seq_1: { challengeIoU: expect.closeTo(7 / 12, 6), frames: 1 },
      seq_2: { challengeIoU: 0.5, frames: 1 },
    });
  });

  it('ignoring background drops it from every metric; a frame with only ignored classes is skipped', () => {
    const m = new SegmentationMetrics(names, [0]);
    m.update(u8(A.pred), u8(A.gt));
    m.update(u8(B.pred), u8(B.gt));
    const r = m.result();
    expect(r.metrics.challengeIoU).toBeCloseTo(2 / 3, 6);
    expect(r.perClass.bg).toBeUndefined();
    m.reset();
    expect(m.result().frames).toBe(0);
  });
});

async function writeCase(dir: string) {
  // Ground truth as ROBOT18 colour labels in seq_N/labels; predictions as index masks (tds process layout).
  const gt = join(dir, 'gt');
  const pred = join(dir, 'pred');
  const big = (a: number[]) => Uint8Array.from(a.flatMap((v) => [v, v])); // 4x2 -> each value twice: 8x1
  await writePng(join(gt, 'seq_1', 'labels', 'frame000.png'), indexToColor(big(A.gt), 8, 1, robot));
  await writePng(join(gt, 'seq_1', 'left_frames', 'frame000.png'), {
    data: Buffer.alloc(24),
    width: 8,
    height: 1,
    channels: 3,
  });
  await writePng(join(gt, 'seq_2', 'labels', 'frame000.png'), indexToColor(big(B.gt), 8, 1, robot));
  await writePng(join(gt, 'seq_2', 'left_frames', 'frame000.png'), {
    data: Buffer.alloc(24),
    width: 8,
    height: 1,
    channels: 3,
  });
  const idx = (a: Uint8Array) => ({ data: Buffer.from(a), width: 8, height: 1, channels: 1 });
  await writePng(join(pred, 'masks', 'seq_1', 'frame000.png'), idx(big(A.pred)));
  await writePng(join(pred, 'masks', 'seq_2', 'frame000.png'), idx(big(B.pred)));
  return { gt, pred };
}

describe('tds eval over folders', () => {
  it('matches files by sequence and name, mixes colour and index PNGs, and writes eval.csv and a chart', async () => {
    const { gt, pred } = await writeCase(tmp());
    const r = await evaluateFolders(pred, gt, robot);
    expect(r.frames).toBe(2);
    expect(r.metrics.challengeIoU).toBeCloseTo((7 / 12 + 0.5) / 2, 6);
    expect(Object.keys(r.perVideo)).toEqual(['seq_1', 'seq_2']);
    const csv = readFileSync(join(pred, 'eval.csv'), 'utf8');
    expect(csv).toMatch(
      /^class,iou,dice,frames\nbackground-tissue,0\.500000,0\.666667,2\ninstrument-shaft,0\.666667,0\.800000,1\n/,
    );
    expect(readFileSync(join(pred, 'eval.svg'), 'utf8')).toContain('instrument-shaft');
    const j = cli(['eval', '--pred', pred, '--gt', gt, '--json']);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout).metrics.challengeIoU).toBeCloseTo((7 / 12 + 0.5) / 2, 6);
  });

  it('reads EndoVis17 grey-value masks', async () => {
    const d = tmp();
    const lab = Uint8Array.from([0, 1, 2, 3, 3, 0]);
    await writePng(join(d, 'gt', 'a.png'), indexToGrey(lab, 6, 1, parts));
    await writePng(join(d, 'pred', 'a.png'), indexToGrey(lab, 6, 1, parts));
    const r = await evaluateFolders(join(d, 'pred'), join(d, 'gt'), parts);
    expect(r.metrics.challengeIoU).toBe(1);
  });

  it('missing predictions: an error naming the frame, or failures with --missing zero', async () => {
    const { gt, pred } = await writeCase(tmp());
    unlinkSync(join(pred, 'masks', 'seq_2', 'frame000.png'));
    await expect(evaluateFolders(pred, gt, robot)).rejects.toThrow(
      /no prediction for ground-truth frame seq_2\/frame000/,
    );
    const r = await evaluateFolders(pred, gt, robot, { missing: 'zero' });
    expect(r.metrics.challengeIoU).toBeCloseTo(7 / 12 / 2, 6);
  });

  it('bad input: size mismatch, colours outside the palette, empty folders', async () => {
    const d = tmp();
    await writePng(join(d, 'gt', 'a.png'), { data: Buffer.alloc(8), width: 4, height: 2, channels: 1 });
    await writePng(join(d, 'pred', 'a.png'), { data: Buffer.alloc(6), width: 3, height: 2, channels: 1 });
    await expect(evaluateFolders(join(d, 'pred'), join(d, 'gt'), robot)).rejects.toThrow(
      /prediction .*a\.png is 3x2 but ground truth .*a\.png is 4x2/,
    );
    await writePng(join(d, 'pred', 'a.png'), {
      data: Buffer.from(Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? 9 : 200))),
      width: 4,
      height: 2,
      channels: 3,
    });
    await expect(evaluateFolders(join(d, 'pred'), join(d, 'gt'), robot)).rejects.toThrow(
      /colours not in the robot18 palette: \(9,200,200\) x 8/,
    );
    mkdirSync(join(d, 'empty'));
    await expect(evaluateFolders(join(d, 'empty'), join(d, 'gt'), robot)).rejects.toThrow(/no prediction PNGs/);
    const r = cli(['eval', '--pred', join(d, 'nope'), '--gt', join(d, 'gt')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tds: predictions folder not found/);
    expect(existsSync(join(d, 'empty', 'eval.csv'))).toBe(false);
  });
});
