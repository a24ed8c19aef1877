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
