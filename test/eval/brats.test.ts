// BraTS metrics on hand-made volumes: Dice and HD95 worked out by hand, the 2015 and 2018 region conventions,
// empty masks, the distance transform against brute force, and NIfTI volumes written and read back.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { bratsScores, dice, hd95, HD95_EMPTY, regionMask, squaredDistanceTransform } from '../../src/eval/brats.js';
import { niftiHeader, readNifti, writeNiftiLabels } from '../../src/ingest/nifti.js';
import { cli, fixturesDir, tmp } from '../helpers.js';
import { mkdirSync, readFileSync } from 'node:fs';

const vol = (dims: number[], set: Array<[number, number, number]>, label = 1) => {
  const v = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (const [x, y, z] of set) v[(z * dims[1] + y) * dims[0] + x] = label;
  return v;
};
const cube = (x0: number, y0: number, z0: number, n: number) => {
  const out: Array<[number, number, number]> = [];
  for (let z = z0; z < z0 + n; z++)
    for (let y = y0; y < y0 + n; y++) for (let x = x0; x < x0 + n; x++) out.push([x, y, z]);
  return out;
};

describe('BraTS metrics', () => {
  it('HD95 of two single voxels is their distance, with the voxel spacing applied', () => {
    const dims = [8, 8, 3];
    const a = vol(dims, [[1, 1, 1]]);
    const b = vol(dims, [[4, 5, 1]]);
    expect(hd95(a, b, dims, [1, 1, 1])).toBeCloseTo(5, 10);
    expect(hd95(a, b, dims, [2, 1, 1])).toBeCloseTo(Math.sqrt(36 + 16), 10);
    expect(dice(a, b)).toBe(0);
  });

  it('two 2x2x2 cubes one voxel apart: Dice 0.5, HD95 1 (8 zero and 8 unit surface distances)', () => {
    const dims = [6, 6, 6];
    const a = vol(dims, cube(1, 1, 1, 2));
    const b = vol(dims, cube(2, 1, 1, 2));
    expect(dice(a, b)).toBe(0.5);
    expect(hd95(a, b, dims, [1, 1, 1])).toBe(1);
  });

  it('a 5x5x5 cube against its 3x3x3 core: only surfaces count, the 95th percentile interpolates', () => {
    const dims = [9, 9, 9];
    const a = vol(dims, cube(2, 2, 2, 5));
    const b = vol(dims, cube(3, 3, 3, 3));
    // Surface of a: 125 - 27 = 98 voxels; of b: 26 (all but the centre). b's surface lies 1 voxel inside a's faces:
    // b -> a: each of b's 26 surface voxels is 1 from a's surface; a -> b: 1 (faces), sqrt 2 (edges), sqrt 3 (corners).
    const d: number[] = [];
    for (let i = 0; i < 26; i++) d.push(1);
    // a's surface: 6 faces of 3x3 -> 54 at 1, 12 edges of 3 -> 36 at sqrt 2, 8 corners at sqrt 3.
    for (let i = 0; i < 54; i++) d.push(1);
    for (let i = 0; i < 36; i++) d.push(Math.SQRT2);
    for (let i = 0; i < 8; i++) d.push(Math.sqrt(3));
    d.sort((x, y) => x - y);
    const pos = 0.95 * (d.length - 1);
    const want = d[Math.floor(pos)] + (d[Math.ceil(pos)] - d[Math.floor(pos)]) * (pos - Math.floor(pos));
    expect(hd95(a, b, dims, [1, 1, 1])).toBeCloseTo(want, 10);
    expect(dice(a, b)).toBeCloseTo((2 * 27) / (125 + 27), 12);
  });

  it('empty masks: both empty 1 / 0; one empty 0 / 373.13', () => {
    const dims = [4, 4, 4];
    const empty = new Uint8Array(64);
    const one = vol(dims, [[1, 2, 3]]);
    expect(dice(empty, empty)).toBe(1);
    expect(hd95(empty, empty, dims, [1, 1, 1])).toBe(0);
    expect(dice(one, empty)).toBe(0);
    expect(hd95(one, empty, dims, [1, 1, 1])).toBe(HD95_EMPTY);
    expect(hd95(empty, one, dims, [1, 1, 1])).toBe(HD95_EMPTY);
  });

  it('regions: 2015 (1 necrosis, 2 edema, 3 non-enhancing, 4 enhancing) and 2018 (1, 2, 4)', () => {
    const labels = Uint8Array.from([0, 1, 2, 3, 4, 4]);
    const count = (m: Uint8Array) => m.reduce((s, v) => s + v, 0);
    expect(['WT', 'TC', 'ET'].map((r) => count(regionMask(labels, r as 'WT', '2015')))).toEqual([5, 4, 2]);
    expect(['WT', 'TC', 'ET'].map((r) => count(regionMask(labels, r as 'WT', '2018')))).toEqual([4, 3, 2]);
    // A prediction that calls the non-enhancing voxel edema: WT unchanged, TC loses it.
    const pred = Uint8Array.from([0, 1, 2, 2, 4, 4]);
    const s = bratsScores(pred, labels, [6, 1, 1], [1, 1, 1], '2015');
    expect(s.WT.dice).toBe(1);
    expect(s.TC.dice).toBeCloseTo((2 * 3) / (3 + 4), 12);
    expect(s.ET).toMatchObject({ dice: 1, hd95: 0, predVoxels: 2, truthVoxels: 2 });
  });

  it('property: the distance transform equals brute force, any spacing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.double({ min: 0.3, max: 3, noNaN: true }), { minLength: 3, maxLength: 3 }),
        fc.integer({ min: 0, max: 2 ** 30 }),
        (nx, ny, nz, spacing, seed) => {
          let s = seed || 1;
          const r = () => (s = (s * 16807) % 2147483647) / 2147483647;
          const f = Uint8Array.from({ length: nx * ny * nz }, () => (r() < 0.15 ? 1 : 0));
          const d = squaredDistanceTransform(f, [nx, ny, nz], spacing);
          const pts: number[][] = [];
          f.forEach((v, i) => v && pts.push([i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))]));
          for (let i = 0; i < f.length; i++) {
            const p = [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))];
            const best = Math.min(...pts.map((q) => p.reduce((acc, c, k) => acc + ((c - q[k]) * spacing[k]) ** 2, 0)));
            if (pts.length) expect(d[i]).toBeCloseTo(best, 6);
            else expect(d[i]).toBeGreaterThan(1e19);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('NIfTI volumes', () => {
  it('a label volume written in the geometry of another reads back with its dims, spacing and affine', async () => {
    const dims: [number, number, number] = [7, 5, 3];
    const h = niftiHeader(dims, [0.9, 1.1, 2.5]);
    h.affine = [
      [-0.9, 0, 0, 10],
      [0, -1.1, 0, 20],
      [0, 0, 2.5, -30],
      [0, 0, 0, 1],
    ];
    const labels = Uint8Array.from({ length: 105 }, (_, i) => [0, 1, 2, 4][i % 4]);
    for (const name of ['seg.nii.gz', 'seg.nii']) {
      const p = join(tmp(), name);
      await writeNiftiLabels(p, labels, h);
      const back = await readNifti(p);
      expect(back.dims).toEqual(dims);
      expect(back.spacing.map((v) => +v.toFixed(5))).toEqual([0.9, 1.1, 2.5]);
      expect(back.affine.map((r) => r.map((v) => +v.toFixed(5)))).toEqual(h.affine);
      expect(Array.from(back.data)).toEqual(Array.from(labels));
      // and again from the volume itself (its header travels with it)
      const again = join(tmp(), `again-${name}`);
      await writeNiftiLabels(again, labels, back);
      expect(Array.from((await readNifti(again)).data)).toEqual(Array.from(labels));
    }
  });

  it('reads big-endian files voxel by voxel, scaled by scl_slope / scl_inter', async () => {
    const h = niftiHeader([3, 1, 1]);
    Object.assign(h, { littleEndian: false, datatypeCode: 4, numBitsPerVoxel: 16, vox_offset: 352 });
    Object.assign(h, { scl_slope: 0.5, scl_inter: 10 });
    const body = Buffer.alloc(6);
    [-4, 0, 300].forEach((v, i) => body.writeInt16BE(v, i * 2));
    const p = join(tmp(), 'be.nii');
    await (await import('node:fs/promises')).writeFile(p, Buffer.concat([Buffer.from(h.toArrayBuffer(false)), body]));
    expect(Array.from((await readNifti(p)).data)).toEqual([8, 10, 160]);
  });

  it('refuses a label count that does not match the geometry, and files that are not NIfTI, by name', async () => {
    const h = niftiHeader([2, 2, 2]);
    await expect(writeNiftiLabels(join(tmp(), 'x.nii.gz'), new Uint8Array(7), h)).rejects.toThrow(
      /7 labels for a 2x2x2 volume/,
    );
    const bogus = join(tmp(), 'bogus.nii');
    await (await import('node:fs/promises')).writeFile(bogus, Buffer.alloc(400, 7));
    await expect(readNifti(bogus)).rejects.toThrow(/bogus\.nii is not a NIfTI-1 volume/);
  });
});

describe('tds eval on BraTS cases', () => {
  it('scores DIR/<case>/seg.nii.gz against each case folder: Dice and HD95 per region, means, eval-brats.csv', async () => {
    const d = tmp();
    const dims: [number, number, number] = [10, 10, 4];
    const h = niftiHeader(dims);
    // Case A: truth a 2x2x2 enhancing cube inside a 4x4x2 edema slab; the prediction shifts the cube by one voxel.
    const truthA = vol(
      dims,
      cube(3, 3, 1, 4).filter(([, , z]) => z < 3),
      2,
    );
    for (const [x, y, z] of cube(4, 4, 1, 2)) truthA[(z * 10 + y) * 10 + x] = 4;
    const predA = vol(
      dims,
      cube(3, 3, 1, 4).filter(([, , z]) => z < 3),
      2,
    );
    for (const [x, y, z] of cube(5, 4, 1, 2)) predA[(z * 10 + y) * 10 + x] = 4;
    // Case B: perfect.
    const truthB = vol(dims, [[1, 1, 1]], 1);
    for (const [name, truth, pred] of [
      ['case_A', truthA, predA],
      ['case_B', truthB, truthB],
    ] as const) {
      mkdirSync(join(d, 'gt', 'train', name), { recursive: true });
      await writeNiftiLabels(join(d, 'gt', 'train', name, 'OTMultiClass.nii.gz'), truth, h);
      await writeNiftiLabels(join(d, 'pred', name, 'seg.nii.gz'), pred, h);
    }
    const r = cli(['eval', '--pred', join(d, 'pred'), '--gt', join(d, 'gt'), '--config', 'brats15', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const b = JSON.parse(r.stdout).brats;
    expect(b.convention).toBe('2015');
    expect(b.cases.map((c: { case: string }) => c.case)).toEqual(['case_A', 'case_B']);
    const a = b.cases[0].regions;
    expect(a.WT).toEqual({ dice: 1, hd95: 0 });
    // TC = ET here (no 1 or 3): the cube moved by one voxel, Dice 0.5 and HD95 1 as worked out above.
    expect(a.TC).toEqual({ dice: 0.5, hd95: 1 });
    expect(a.ET).toEqual({ dice: 0.5, hd95: 1 });
    expect(b.cases[1].regions.ET).toEqual({ dice: 1, hd95: 0 }); // both empty
    expect(b.mean.TC).toEqual({ dice: 0.75, hd95: 0.5 });
    const csv = readFileSync(join(d, 'pred', 'eval-brats.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(csv[0]).toBe('case,WT_dice,TC_dice,ET_dice,WT_hd95,TC_hd95,ET_hd95');
    expect(csv.at(-1)).toBe('mean,1.0000,0.7500,0.7500,0.00,0.50,0.50');
    // A case without a prediction is an error naming it, or a failure with --missing zero.
    mkdirSync(join(d, 'gt', 'train', 'case_C'));
    await writeNiftiLabels(join(d, 'gt', 'train', 'case_C', 'OTMultiClass.nii.gz'), truthB, h);
    const miss = cli(['eval', '--pred', join(d, 'pred'), '--gt', join(d, 'gt'), '--config', 'brats15']);
    expect(miss.code).not.toBe(0);
    expect(miss.stderr).toMatch(/no prediction for case case_C/);
    const zero = cli([
      'eval',
      '--pred',
      join(d, 'pred'),
      '--gt',
      join(d, 'gt'),
      '--config',
      'brats15',
      '--missing',
      'zero',
      '--json',
    ]);
    expect(JSON.parse(zero.stdout).brats.cases[2]).toMatchObject({
      case: 'case_C',
      missing: true,
      regions: { WT: { dice: 0, hd95: HD95_EMPTY } },
    });
  });
});

const FIX = fixturesDir();
const brats = FIX && existsSync(join(FIX, 'brats2015')) ? join(FIX, 'brats2015') : undefined;
if (!brats) console.warn('FIXTURE TIER NOT RUN (BraTS): no shared/fixtures/brats2015 (set TDS_FIXTURES to run it)');
describe.skipIf(!brats)('BraTS 2015 fixture cases', () => {
  it('reads a whole case: 240x240x155 at 1 mm, labels 0-4; its labels scored against themselves are perfect', async () => {
    const cases = ['train', 'validation'].flatMap((s) => readdirSync(join(brats!, s)).map((c) => join(brats!, s, c)));
    expect(cases.length).toBe(4);
    const seg = await readNifti(join(cases[0], 'OTMultiClass.nii.gz'));
    expect(seg.dims).toEqual([240, 240, 155]);
    expect(seg.spacing).toEqual([1, 1, 1]);
    expect(new Set(seg.data)).toEqual(new Set([0, 1, 2, 3, 4]));
    expect(existsSync(join(cases[0], 'Flair_subtrMeanDivStd.nii.gz'))).toBe(true);
    const s = bratsScores(seg.data, seg.data, seg.dims, seg.spacing, '2015');
    for (const r of ['WT', 'TC', 'ET'] as const) expect(s[r]).toMatchObject({ dice: 1, hd95: 0 });
  });
});
