// BraTS case folders: modality files found by name in both releases' layouts, z-scoring inside the brain, and
// clear errors for a missing or ambiguous modality and for volumes of different geometry.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { writeFile } from 'node:fs/promises';
import { findCases, loadCase, scanCase, zscoreInside } from '../../src/ingest/brats.js';
import { niftiHeader, writeNiftiLabels } from '../../src/ingest/nifti.js';
import { fixturesDir, tmp } from '../helpers.js';

/** A float32 NIfTI volume (.nii.gz) with these values. */
async function writeFloatVolume(path: string, dims: [number, number, number], values: Float32Array) {
  const h = niftiHeader(dims);
  h.datatypeCode = 16;
  h.numBitsPerVoxel = 32;
  h.vox_offset = 352;
  const head = Buffer.from(h.toArrayBuffer(false));
  await writeFile(path, gzipSync(Buffer.concat([head, Buffer.from(values.buffer)])));
}

describe('BraTS case folders', () => {
  it('finds t1, t1ce, t2, flair and the segmentation by name (2018 layout); t1ce never reads as t1', async () => {
    const d = join(tmp(), 'Brats18_TCIA_001_1');
    mkdirSync(d, { recursive: true });
    const dims: [number, number, number] = [4, 3, 2];
    for (const m of ['t1', 't1ce', 't2', 'flair'])
      await writeFloatVolume(join(d, `Brats18_TCIA_001_1_${m}.nii.gz`), dims, new Float32Array(24).fill(1));
    await writeNiftiLabels(join(d, 'Brats18_TCIA_001_1_seg.nii.gz'), new Uint8Array(24), niftiHeader(dims));
    const c = scanCase(d, ['flair', 't1', 't1c', 't2']);
    expect(c.files.map((f) => f.split('/').pop())).toEqual([
      'Brats18_TCIA_001_1_flair.nii.gz',
      'Brats18_TCIA_001_1_t1.nii.gz',
      'Brats18_TCIA_001_1_t1ce.nii.gz',
      'Brats18_TCIA_001_1_t2.nii.gz',
    ]);
    expect(c.truth?.endsWith('_seg.nii.gz')).toBe(true);
    expect(findCases(join(d, '..')).map((x) => x.name)).toContain('Brats18_TCIA_001_1');
  });

  it('z-scores each modality inside the brain mask, 0 outside; labels read as integers', async () => {
    const d = join(tmp(), 'case');
    mkdirSync(d, { recursive: true });
    const dims: [number, number, number] = [2, 2, 1];
    await writeFloatVolume(join(d, 'Flair_x.nii.gz'), dims, Float32Array.from([10, 20, 30, 99]));
    await writeFloatVolume(join(d, 'T1c_x.nii.gz'), dims, Float32Array.from([1, 1, 4, 7]));
    await writeFloatVolume(join(d, 'brainmask.nii.gz'), dims, Float32Array.from([1, 1, 1, 0]));
    await writeNiftiLabels(join(d, 'OTMultiClass.nii.gz'), Uint8Array.from([0, 2, 4, 0]), niftiHeader(dims));
    const l = await loadCase(scanCase(d, ['flair', 't1c']));
    const sd = Math.sqrt(200 / 3);
    expect(Array.from(l.channels[0]).map((v) => +v.toFixed(5))).toEqual(
      [-10 / sd, 0, 10 / sd, 0].map((v) => +v.toFixed(5)),
    );
    expect(l.channels[1][3]).toBe(0);
    expect(Array.from(l.brain)).toEqual([1, 1, 1, 0]);
    expect(Array.from(l.labels!)).toEqual([0, 2, 4, 0]);
    expect(l.reference.dims).toEqual(dims);
  });

  it('names the folder, the modality and the files when one is missing or ambiguous, and refuses mixed geometry', async () => {
    const d = join(tmp(), 'bad');
    mkdirSync(d, { recursive: true });
    await writeFloatVolume(join(d, 'a_t2.nii.gz'), [2, 2, 1], new Float32Array(4));
    expect(() => scanCase(d, ['flair'])).toThrow(/bad: no file for modality flair; found a_t2\.nii\.gz/);
    await writeFloatVolume(join(d, 'b_t2.nii.gz'), [2, 2, 1], new Float32Array(4));
    expect(() => scanCase(d, ['t2'])).toThrow(/2 files for modality t2 \(a_t2\.nii\.gz, b_t2\.nii\.gz\)/);
    const e = join(tmp(), 'mixed');
    mkdirSync(e, { recursive: true });
    await writeFloatVolume(join(e, 'x_t1.nii.gz'), [2, 2, 1], new Float32Array(4));
    await writeFloatVolume(join(e, 'x_t2.nii.gz'), [2, 2, 2], new Float32Array(8));
    await expect(loadCase(scanCase(e, ['t1', 't2']))).rejects.toThrow(
      /x_t2\.nii\.gz is 2x2x2 but .*x_t1\.nii\.gz is 2x2x1/,
    );
  });

  const FIX = fixturesDir();
  const brats = FIX && existsSync(join(FIX, 'brats2015')) ? join(FIX, 'brats2015') : undefined;
  it.skipIf(!brats)('fixture tier: the four BraTS 2015 cases load as FLAIR + T1c with their labels', async () => {
    const cases = findCases(brats!);
    expect(cases.map((c) => c.name).sort()).toEqual(
      ['train', 'validation'].flatMap((s) => readdirSync(join(brats!, s))).sort(),
    );
    const l = await loadCase(scanCase(cases[0].dir, ['flair', 't1c']));
    expect(l.channels).toHaveLength(2);
    expect(l.reference.dims).toEqual([240, 240, 155]);
    expect(new Set(l.labels)).toEqual(new Set([0, 1, 2, 3, 4]));
    // Already z-scored in the brain: re-normalising leaves mean ~0 and sd ~1 there.
    let n = 0;
    let s = 0;
    for (let i = 0; i < l.brain.length; i++) if (l.brain[i]) (n++, (s += l.channels[0][i]));
    expect(Math.abs(s / n)).toBeLessThan(1e-3);
  });
});

describe('zscoreInside', () => {
  it('a constant brain becomes 0 (no division by zero)', () => {
    const v = Float32Array.from([5, 5, 5]);
    zscoreInside(v, Uint8Array.from([1, 1, 0]));
    expect(Array.from(v)).toEqual([0, 0, 0]);
  });
});
