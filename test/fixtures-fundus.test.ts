// Fixture tier, fundus: a short real-data training check on Drishti-GS1 (optic disc and cup) and the shipped
// models/refuge. Without shared/fixtures this tier says it did not run.
import { describe, expect, it } from 'vitest';
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir, root, tmp } from './helpers.js';

const FIX = fixturesDir();
if (!FIX) console.warn('FIXTURE TIER NOT RUN (fundus): no shared/fixtures folder (set TDS_FIXTURES to run it)');

describe.skipIf(!FIX)('fixture tier: fundus training check (Drishti-GS1)', () => {
  it('a small model trained briefly on 10 images finds the disc and cup in 2 others (all-background scores 0)', async () => {
    const { train } = await import('../src/train/run.js');
    const { loadRunConfig, applyOverrides } = await import('../src/train/config.js');
    const { processInput } = await import('../src/stream/process.js');
    const { evaluateFolders } = await import('../src/eval/evaluate.js');
    // Twelve case folders linked from the fixtures (nothing is copied), the spreadsheet beside them.
    const d = tmp();
    const data = join(d, 'drishti');
    mkdirSync(data);
    const src = join(FIX!, 'drishti-gs-1024');
    const cases = readdirSync(src)
      .filter((n) => n.startsWith('drishtiGS_'))
      .slice(0, 12);
    for (const c of cases) symlinkSync(join(src, c), join(data, c));
    for (const x of readdirSync(src).filter((n) => n.endsWith('.xlsx'))) symlinkSync(join(src, x), join(data, x));
    const cfg = loadRunConfig(join(root, 'configs', 'refuge.yaml'));
    // The shipped recipe (crops around the disc, photometric jitter) at 128x128 with a short seg-then-class schedule.
    cfg.train = applyOverrides(
      {
        ...cfg.train,
        stages: [
          { name: 'seg', a: 0, b: 0, g: 0, lr: 2e-3, untilEpoch: 10 },
          { name: 'class', a: 0.2, b: 0, g: 0, lr: 1e-3, untilEpoch: 12 },
        ],
      },
      { size: [128, 128], holdOut: [2, 16] },
    );
    cfg.train.select = 'last';
    const r = await train({ config: cfg, data, out: join(d, 'run') });
    expect(r.trainFrames).toBe(10);
    const pred = join(d, 'pred');
    const held = ['drishtiGS_002', 'drishtiGS_016'];
    await processInput(data, { model: r.modelDir!, out: pred, sequences: held, roi: { classes: [1, 2], scale: 2 } });
    const ev = await evaluateFolders(pred, data, cfg.palette, { sequences: held });
    const q = ev.refuge!;
    console.log(
      `Drishti-GS1 check (10 images, 12 epochs at 128x128, two-stage): disc Dice ${q.discDice.toFixed(3)}, cup Dice ${q.cupDice.toFixed(3)}, vCDR MAE ${q.vcdrMAE.toFixed(3)}`,
    );
    expect(q.images).toBe(2);
    // All-background scores Dice 0 on both and a vCDR error of the true vCDR (~0.8 for these two).
    expect(q.discDice).toBeGreaterThan(0.2);
    expect(q.cupDice).toBeGreaterThan(0.1);
    expect(q.vcdrMAE).toBeLessThan(Math.min(...q.perImage.map((x) => x.vcdrTrue)));
  }, 600_000);
});

describe.skipIf(!FIX)('fixture tier: the shipped fundus model (models/refuge)', () => {
  it('segments a plain folder of fundus photographs into 0 background, 1 disc rim, 2 cup at their own size', async () => {
    const { processInput } = await import('../src/stream/process.js');
    const { readTdsJson } = await import('../src/model/model-dir.js');
    const { readRaw, readRgb } = await import('../src/ingest/image-io.js');
    const { readLabel } = await import('../src/ingest/label-file.js');
    const { loadPalette } = await import('../src/ingest/palette.js');
    const { RefugeMetrics } = await import('../src/eval/refuge.js');
    const dir = join(root, 'models', 'refuge');
    const meta = readTdsJson(dir);
    expect(meta.classes.map((c) => [c.id, c.name])).toEqual([
      [0, 'background'],
      [1, 'disc'],
      [2, 'cup'],
    ]);
    expect(meta.scenes.map((s) => s.name)).toEqual(['normal', 'glaucoma']);
    expect(JSON.stringify(meta.producedBy)).toMatch(/Drishti-GS1/);
    expect(JSON.stringify(meta.producedBy)).toMatch(/Research use only/);
    // A plain folder of photographs, as a user would point tds at them (links into the fixtures).
    const src = join(FIX!, 'drishti-gs-1024');
    const names = ['drishtiGS_008', 'drishtiGS_031', 'drishtiGS_063'];
    const photos = join(tmp(), 'photos');
    mkdirSync(photos);
    for (const n of names) symlinkSync(join(src, n, `${n}.jpg`), join(photos, `${n}.jpg`));
    const out = join(tmp(), 'out');
    await processInput(photos, { model: dir, out });
    const palette = loadPalette(join(root, 'configs', 'refuge.yaml'));
    const m = new RefugeMetrics();
    for (const n of names) {
      const img = await readRgb(join(photos, `${n}.jpg`));
      const pred = await readRaw(join(out, 'masks', `${n}.png`));
      expect([pred.width, pred.height, pred.channels]).toEqual([img.width, img.height, 1]);
      const seen = new Set(pred.data);
      expect([...seen].sort()).toEqual([0, 1, 2]);
      const gt = await readLabel(join(src, n, `${n}_ODsegSoftmap.png`), palette);
      m.update(n, new Uint8Array(pred.data), gt.labels, img.width);
    }
    // Training images of the shipped model: not a score (that is the cross-validation's), a check that the
    // shipped weights and its two-stage default are the trained ones.
    const r = m.result();
    expect(r.discDice).toBeGreaterThan(0.85);
    expect(r.cupDice).toBeGreaterThan(0.7);
  }, 300_000);
});
