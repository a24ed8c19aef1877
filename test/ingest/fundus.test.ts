// Fundus datasets: Drishti-GS1 case folders (fixture tier: the 50 real training images, their soft maps and the
// decisions spreadsheet) and REFUGE's layout (JPEG images, BMP masks under Disc_Cup_Masks; built here).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { scanFolder } from '../../src/ingest/folders.js';
import { fundusScenes, readBmp, SOFTMAP_MAJORITY } from '../../src/ingest/fundus.js';
import { readRaw } from '../../src/ingest/image-io.js';
import { readLabel, readIndexMask } from '../../src/ingest/label-file.js';
import { loadPalette } from '../../src/ingest/palette.js';
import { prepareDataset } from '../../src/ingest/prepare.js';
import { loadSamples } from '../../src/train/dataset.js';
import { readAnyLabel } from '../../src/eval/label-png.js';
import { fixturesDir, refugeFolder, root, tmp } from '../helpers.js';

const palette = loadPalette(join(root, 'configs', 'refuge.yaml'));

describe('REFUGE layout', () => {
  it('finds images and BMP masks by name, one sequence each; masks read as disc rim 1, cup 2', async () => {
    const { dir, masks } = await refugeFolder();
    const ds = scanFolder(dir);
    expect(ds.layout).toBe('refuge');
    expect(ds.sequences.map((s) => [s.name, s.id])).toEqual([
      ['g0001', 1],
      ['g0002', 2],
      ['n0001', 3],
    ]);
    const bmp = readBmp(ds.sequences[0].frames[0].label!);
    expect(bmp).toMatchObject({ width: 40, height: 30, channels: 1 });
    expect(Buffer.from(bmp.data).equals(Buffer.from(masks.g0001))).toBe(true);
    const lab = await readLabel(ds.sequences[0].frames[0].label!, palette);
    expect(lab.unknownPixels).toBe(0);
    const want = Array.from(masks.g0001, (v) => (v === 255 ? 0 : v === 128 ? 1 : 2));
    expect(Array.from(lab.labels)).toEqual(want);
    // tds eval reads ground truth through the same path.
    expect(Array.from((await readAnyLabel(ds.sequences[0].frames[0].label!, palette)).labels)).toEqual(want);
  });

  it('scenes from the Glaucoma / Non-Glaucoma folders; tds prepare keeps them in scenes.json', async () => {
    const { dir } = await refugeFolder();
    const ds = scanFolder(dir);
    const sc = await fundusScenes(dir, ds.sequences);
    expect(Object.fromEntries(sc!)).toEqual({ g0001: 'glaucoma', g0002: 'glaucoma', n0001: 'normal' });
    const split = await loadSamples(dir, palette, [3]);
    expect(split.scenesFrom).toBe('dataset');
    expect(split.train.map((s) => [s.sequence, s.scene])).toEqual([
      ['g0001', 1],
      ['g0002', 1],
    ]);
    expect(split.val.map((s) => s.scene)).toEqual([0]);
    const out = join(tmp(), 'prep');
    const sum = await prepareDataset(dir, out, palette);
    expect(sum).toMatchObject({ sequences: 3, frames: 3, unknownPixels: 0 });
    const scenes = JSON.parse(readFileSync(join(out, 'scenes.json'), 'utf8'));
    expect(scenes.sequences.seq_3).toEqual({ scene: 0, name: 'normal', source: 'n0001' });
    expect(scenes.sequences.seq_1.scene).toBe(1);
    const prepared = await loadSamples(out, palette, [3]);
    expect(prepared.scenesFrom).toBe('scenes.json');
    expect(prepared.train.map((s) => s.scene)).toEqual([1, 1]);
    const mask = await readIndexMask(join(out, 'seq_1', 'masks', 'g0001.png'), 3);
    expect(mask[15 * 40 + 12]).toBe(2); // the cup's centre
    expect(mask[15 * 40 + 18]).toBe(1); // the rim
    expect(mask[0]).toBe(0);
  });
});

const FIX = fixturesDir();
describe.skipIf(!FIX)('Drishti-GS1 (fixture tier)', () => {
  const data = join(FIX ?? '', 'drishti-gs-1024');

  it('50 case folders, one sequence each, numbered by the image number', () => {
    const ds = scanFolder(data);
    expect(ds.layout).toBe('drishti-gs');
    expect(ds.sequences).toHaveLength(50);
    expect(ds.sequences[0]).toMatchObject({ name: 'drishtiGS_002', id: 2 });
    expect(ds.sequences.at(-1)).toMatchObject({ name: 'drishtiGS_101', id: 101 });
    for (const s of ds.sequences) expect(s.frames[0].label).toMatch(/_ODsegSoftmap\.png$/);
  });

  it('labels are the experts majority of both soft maps: cup 2 inside disc rim 1', async () => {
    const f = scanFolder(data).sequences[0].frames[0];
    const lab = await readLabel(f.label!, palette);
    const od = await readRaw(f.label!);
    const cup = await readRaw(f.label!.replace('_ODsegSoftmap', '_cupsegSoftmap'));
    let disc = 0;
    let cupPx = 0;
    let wrong = 0;
    for (let i = 0; i < lab.labels.length; i++) {
      const c = cup.data[i * cup.channels] >= SOFTMAP_MAJORITY;
      const d = od.data[i * od.channels] >= SOFTMAP_MAJORITY;
      if (lab.labels[i] !== (c ? 2 : d ? 1 : 0)) wrong++;
      disc += d || c ? 1 : 0;
      cupPx += c ? 1 : 0;
    }
    expect(wrong).toBe(0);
    expect(lab.unknownPixels).toBe(0);
    // drishtiGS_002: a large cup (experts' CDR 0.75-0.79), well inside a ~160 px disc.
    expect(disc).toBeGreaterThan(15000);
    expect(cupPx / disc).toBeGreaterThan(0.4);
    expect(cupPx / disc).toBeLessThan(0.8);
  });

  it('glaucoma / normal from the decisions spreadsheet, for every image', async () => {
    const ds = scanFolder(data);
    const sc = (await fundusScenes(data, ds.sequences))!;
    expect(sc.size).toBe(50);
    expect(sc.get('drishtiGS_002')).toBe('glaucoma');
    expect(sc.get('drishtiGS_008')).toBe('normal');
    expect(sc.get('drishtiGS_101')).toBe('normal');
    const counts = [...sc.values()].reduce<Record<string, number>>((a, v) => ((a[v] = (a[v] ?? 0) + 1), a), {});
    expect(counts.glaucoma + counts.normal).toBe(50);
    expect(counts.glaucoma).toBeGreaterThan(counts.normal);
  });
});
