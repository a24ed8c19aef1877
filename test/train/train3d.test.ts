// The 3D path end to end on small synthetic BraTS-layout cases written as real NIfTI files: tds train with a
// brats config trains and writes a 3D model folder (ONNX included), resumes, refuses another config; tds process
// writes <case>/seg.nii.gz in the input's geometry; tds cv leaves one case out and writes its table; 3D
// small-component removal.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { niftiHeader, readNifti, writeNiftiLabels } from '../../src/ingest/nifti.js';
import { removeSmallComponents3d } from '../../src/postprocess/small-regions3d.js';
import { readTds3dJson } from '../../src/model/model3d-dir.js';
import { cli, fixturesDir, root, tmp } from '../helpers.js';

const DIMS: [number, number, number] = [32, 32, 24];

/** A case folder: FLAIR and T1c (uint8 intensities), seg with a nested tumour (edema 2, core 1, enhancing 4). */
async function writeCase(dir: string, seed: number, style: '2015' | '2018' = '2015') {
  mkdirSync(dir, { recursive: true });
  const n = DIMS[0] * DIMS[1] * DIMS[2];
  const flair = new Uint8Array(n);
  const t1c = new Uint8Array(n);
  const seg = new Uint8Array(n);
  let s = seed;
  const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const c = [10 + rnd() * 12, 10 + rnd() * 12, 8 + rnd() * 8];
  for (let z = 0; z < DIMS[2]; z++)
    for (let y = 0; y < DIMS[1]; y++)
      for (let x = 0; x < DIMS[0]; x++) {
        const i = (z * DIMS[1] + y) * DIMS[0] + x;
        const brain = Math.hypot((x - 16) / 15, (y - 16) / 15, (z - 12) / 11) < 1;
        const r = Math.hypot(x - c[0], y - c[1], z - c[2]);
        const l = !brain ? 0 : r < 2.5 ? 4 : r < 4 ? 1 : r < 6.5 ? 2 : 0;
        seg[i] = l;
        flair[i] = brain ? (l ? 180 : 90) + Math.floor(rnd() * 20) : 0;
        t1c[i] = brain ? (l === 4 ? 200 : l === 1 ? 60 : 100) + Math.floor(rnd() * 20) : 0;
      }
  const h = niftiHeader(DIMS, [1, 1, 1.5]);
  if (style === '2018') {
    // BraTS 2018 names: <case>_t1, _t1ce, _t2, _flair, _seg
    const c = dir.split('/').pop();
    for (const [m, v] of [
      ['t1', t1c.map((x) => 255 - x)],
      ['t1ce', t1c],
      ['t2', flair.map((x) => x >> 1)],
      ['flair', flair],
    ] as const)
      await writeNiftiLabels(join(dir, `${c}_${m}.nii.gz`), v, h);
    await writeNiftiLabels(join(dir, `${c}_seg.nii.gz`), seg, h);
    return;
  }
  await writeNiftiLabels(join(dir, 'Flair_subtrMeanDivStd.nii.gz'), flair, h);
  await writeNiftiLabels(join(dir, 'T1c_subtrMeanDivStd.nii.gz'), t1c, h);
  await writeNiftiLabels(join(dir, 'OTMultiClass.nii.gz'), seg, h);
}

/** brats15.yaml (or brats18.yaml) with a tiny network and schedule. */
function tinyConfig(dir: string, epochs: number, style: '15' | '18' = '15') {
  const base = readFileSync(join(root, 'configs', `brats${style}.yaml`), 'utf8').split('\ntrain:')[0];
  const p = join(dir, `brats${style}-tiny.yaml`);
  writeFileSync(
    p,
    `${base}
train:
  modalities: ${style === '15' ? '[flair, t1c]' : '[t1, t1c, t2, flair]'}
  voxelScale: 2
  patch: [16, 16, 8]
  channels: [4, 8, 8, 8]
  latent: 8
  dilations: [1, 2]
  stepsPerEpoch: 6
  stages:
    - { name: seg, a: 0, b: 0, lr: 3.0e-3, untilEpoch: ${epochs - 1} }
    - { name: sync, a: 0.2, b: 0.6, lr: 1.0e-3, untilEpoch: ${epochs} }
  inference: { patch: [16, 16, 16], overlap: 0.5, blend: gaussian, minVoxels: 5 }
`,
  );
  return p;
}

describe('3D TDS on BraTS-layout folders', () => {
  it('train -> model folder -> process writes seg.nii.gz in the input geometry -> eval scores it; resume and refusals', async () => {
    const d = tmp();
    for (const [i, name] of ['case_a', 'case_b', 'case_c'].entries()) await writeCase(join(d, 'data', name), 11 + i);
    const cfg = tinyConfig(d, 3);
    const run = join(d, 'run');
    const tr = cli([
      'train',
      '--config',
      cfg,
      '--data',
      join(d, 'data'),
      '--out',
      run,
      '--hold-out',
      'case_c',
      '--json',
    ]);
    expect(tr.code, tr.stderr).toBe(0);
    const r = JSON.parse(tr.stdout);
    expect(r).toMatchObject({ interrupted: false, epochsDone: 3, cases: ['case_a', 'case_b'] });
    const meta = readTds3dJson(join(run, 'model'));
    expect(meta).toMatchObject({
      format: 'tds-model-3d',
      modalities: ['flair', 't1c'],
      voxelScale: 2,
      patch: [16, 16, 16],
    });
    expect(meta.regions.map((g) => g.name)).toEqual(['WT', 'TC', 'ET']);
    expect(meta.regions[1].classes).toEqual([1, 3, 4]);
    expect(existsSync(join(run, 'model', 'model.onnx'))).toBe(true);
    // a finished run asked again without --resume is refused; with --resume and the same schedule, nothing to do
    const again = cli(['train', '--config', cfg, '--data', join(d, 'data'), '--out', run]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already holds a training run.*--resume/);
    // another recipe cannot continue this run
    mkdirSync(join(d, 'o'));
    const other = tinyConfig(join(d, 'o'), 3);
    writeFileSync(other, readFileSync(other, 'utf8').replace('latent: 8', 'latent: 16'));
    const mixed = cli(['train', '--config', other, '--data', join(d, 'data'), '--out', run, '--resume']);
    expect(mixed.code).not.toBe(0);
    expect(mixed.stderr).toMatch(/another config.*latent/);

    const out = join(d, 'pred');
    const pr = cli(['process', join(d, 'data', 'case_c'), '--model', join(run, 'model'), '--out', out, '--json']);
    expect(pr.code, pr.stderr).toBe(0);
    const seg = await readNifti(join(out, 'case_c', 'seg.nii.gz'));
    const src = await readNifti(join(d, 'data', 'case_c', 'OTMultiClass.nii.gz'));
    expect(seg.dims).toEqual(DIMS);
    expect(seg.spacing).toEqual([1, 1, 1.5]);
    expect(seg.affine).toEqual(src.affine);
    expect(new Set(seg.data).size).toBeGreaterThanOrEqual(1);
    for (const v of new Set(seg.data)) expect([0, 1, 2, 3, 4]).toContain(v);
    expect(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).cases[0]).toMatchObject({
      case: 'case_c',
      dims: DIMS,
    });
    // written again without --resume: refused, the first output kept
    const twice = cli(['process', join(d, 'data', 'case_c'), '--model', join(run, 'model'), '--out', out]);
    expect(twice.code).not.toBe(0);
    expect(twice.stderr).toMatch(/already exists.*--resume/);
    const ev = cli(['eval', '--pred', out, '--gt', join(d, 'data', 'case_c'), '--config', cfg, '--json']);
    expect(ev.code, ev.stderr).toBe(0);
    expect(JSON.parse(ev.stdout).brats.cases[0].case).toBe('case_c');
  }, 300_000);

  it('tds cv leaves one case out: one fold per case, each scored on its held-out case, a table with the means', () => {
    const d = tmp();
    return (async () => {
      for (const [i, name] of ['p1', 'p2', 'p3'].entries()) await writeCase(join(d, 'data', name), 21 + i);
      const cfg = tinyConfig(d, 2);
      const r = cli(['cv', '--config', cfg, '--data', join(d, 'data'), '--out', join(d, 'cv'), '--json']);
      expect(r.code, r.stderr).toBe(0);
      const rep = JSON.parse(r.stdout);
      expect(rep.folds.map((f: { case: string }) => f.case)).toEqual(['p1', 'p2', 'p3']);
      // never trained on its held-out case
      for (const f of rep.folds) expect(f.train).not.toContain(f.case);
      expect(rep.folds[0].train).toEqual(['p2', 'p3']);
      const state = JSON.parse(readFileSync(join(d, 'cv', 'fold-p2', 'run', 'model', 'tds.json'), 'utf8'));
      expect(state.producedBy.cases).toEqual(['p1', 'p3']);
      expect(rep.mean.WT.dice).toBeGreaterThanOrEqual(0);
      expect(readFileSync(join(d, 'cv', 'cv.md'), 'utf8')).toMatch(/\| \*\*mean \(3\)\*\* \|/);
    })();
  }, 300_000);

  it('BraTS 2018 layout and labels: four modalities by name, labels 0, 1, 2, 4 in and out, regions WT 1-2-4, TC 1-4, ET 4', async () => {
    const d = tmp();
    for (const [i, name] of ['Brats18_A_1', 'Brats18_B_1'].entries())
      await writeCase(join(d, 'data', name), 31 + i, '2018');
    const cfg = tinyConfig(d, 2, '18');
    const run = join(d, 'run');
    const tr = cli(['train', '--config', cfg, '--data', join(d, 'data'), '--out', run, '--hold-out', 'Brats18_B_1']);
    expect(tr.code, tr.stderr).toBe(0);
    const meta = readTds3dJson(join(run, 'model'));
    expect(meta.spec.modalities).toBe(4);
    expect(meta.classes.map((c) => c.value)).toEqual([0, 1, 2, 4]);
    expect(meta.regions.map((r) => r.classes)).toEqual([[1, 2, 3], [1, 3], [3]]);
    const out = join(d, 'pred');
    const pr = cli(['process', join(d, 'data', 'Brats18_B_1'), '--model', join(run, 'model'), '--out', out]);
    expect(pr.code, pr.stderr).toBe(0);
    const seg = await readNifti(join(out, 'Brats18_B_1', 'seg.nii.gz'));
    for (const v of new Set(seg.data)) expect([0, 1, 2, 4]).toContain(v);
    const ev = cli(['eval', '--pred', out, '--gt', join(d, 'data'), '--config', cfg, '--missing', 'zero', '--json']);
    expect(ev.code, ev.stderr).toBe(0);
    expect(JSON.parse(ev.stdout).brats.convention).toBe('2018');
  }, 300_000);

  it('Ctrl-C stops a 3D training with its completed epochs saved (exit 130); --resume finishes it', async () => {
    const d = tmp();
    for (const [i, name] of ['s1', 's2'].entries()) await writeCase(join(d, 'data', name), 41 + i);
    const cfg = tinyConfig(d, 40);
    const run = join(d, 'run');
    const child = spawn(
      process.execPath,
      [join(root, 'dist', 'cli', 'index.js'), 'train', '--config', cfg, '--data', join(d, 'data'), '--out', run],
      { stdio: 'ignore' },
    );
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const t0 = Date.now();
    while (!existsSync(join(run, 'state.json')) && Date.now() - t0 < 60_000)
      await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    const state = JSON.parse(readFileSync(join(run, 'state.json'), 'utf8'));
    expect(state.epochsDone).toBeGreaterThanOrEqual(1);
    expect(state.epochsDone).toBeLessThan(40);
    expect(existsSync(join(run, 'model'))).toBe(false);
    const r = cli(['train', '--config', cfg, '--data', join(d, 'data'), '--out', run, '--resume', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ interrupted: false, epochsDone: 40 });
    expect(
      JSON.parse(readFileSync(join(run, 'state.json'), 'utf8')).history.map((h: { epoch: number }) => h.epoch),
    ).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  }, 300_000);

  it('3D small-component removal drops whole-tumour components under the size, 6-connected', () => {
    const dims: [number, number, number] = [6, 5, 4];
    const l = new Uint8Array(120);
    const at = (x: number, y: number, z: number) => (z * 5 + y) * 6 + x;
    // a 2x2x2 block of mixed labels (8 voxels), a diagonal pair (two 1-voxel components), a 3-voxel line in z
    for (const [x, y, z] of [
      [0, 0, 0],
      [1, 0, 0],
      [0, 1, 0],
      [1, 1, 0],
      [0, 0, 1],
      [1, 0, 1],
      [0, 1, 1],
      [1, 1, 1],
    ])
      l[at(x, y, z)] = x ? 4 : 2;
    l[at(4, 3, 0)] = 1;
    l[at(5, 4, 1)] = 1;
    for (const z of [1, 2, 3]) l[at(4, 0, z)] = 2;
    const r = removeSmallComponents3d(l, dims, 3);
    expect(r).toEqual({ removed: 2, components: 4 });
    expect(l[at(4, 3, 0)]).toBe(0);
    expect(l[at(5, 4, 1)]).toBe(0);
    expect(l[at(4, 0, 2)]).toBe(2);
    expect(l[at(1, 1, 1)]).toBe(4);
    expect(removeSmallComponents3d(l, dims, 0)).toEqual({ removed: 0, components: 0 });
  });
});

const FIX = fixturesDir();
const brats = FIX && existsSync(join(FIX, 'brats2015')) ? join(FIX, 'brats2015') : undefined;

describe.skipIf(!brats)('fixture tier: the shipped BraTS model (models/brats)', () => {
  it('tds process on a BraTS 2015 case folder writes seg.nii.gz with labels 0-4 in its geometry, and tds eval scores it', async () => {
    const meta = readTds3dJson(join(root, 'models', 'brats'));
    expect(meta.modalities).toEqual(['flair', 't1c']);
    expect(meta.classes.map((c) => c.value)).toEqual([0, 1, 2, 3, 4]);
    expect(JSON.stringify(meta.producedBy)).toMatch(/BraTS.*CC BY-NC-SA/);
    const caseDir = join(brats!, 'validation', 'brats_2013_pat0004_1');
    const out = join(tmp(), 'pred');
    const r = cli(['process', caseDir, '--model', join(root, 'models', 'brats'), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const seg = await readNifti(join(out, 'brats_2013_pat0004_1', 'seg.nii.gz'));
    const ref = await readNifti(join(caseDir, 'Flair_subtrMeanDivStd.nii.gz'));
    expect(seg.dims).toEqual([240, 240, 155]);
    expect(seg.affine).toEqual(ref.affine);
    for (const v of new Set(seg.data)) expect([0, 1, 2, 3, 4]).toContain(v);
    const ev = cli(['eval', '--pred', out, '--gt', caseDir, '--config', 'brats15', '--json']);
    expect(ev.code, ev.stderr).toBe(0);
    // one of its training cases: not a score (that is the leave-one-case-out table's), a check that the shipped
    // weights are the trained ones
    expect(JSON.parse(ev.stdout).brats.mean.WT.dice).toBeGreaterThan(0.7);
  }, 120_000);
});
