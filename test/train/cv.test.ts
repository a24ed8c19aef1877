// Cross-validation and the EndoVis 2015 layout: fold logic (no held-out frame ever trains), the OPn layout through
// scan/train/eval, the real-endoscopy augmentation, pooled metrics, and `tds cv` end to end on tiny data.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { stringify } from 'yaml';
import { losoFolds, kFolds, cvTable, crossValidate, chooseDefault } from '../../src/train/cv.js';
import { initModel } from '../../src/model/init.js';
import { useBackend } from '../../src/model/backend.js';
import { listSamples } from '../../src/train/dataset.js';
import { applyOverrides, loadRunConfig } from '../../src/train/config.js';
import { scanFolder } from '../../src/ingest/folders.js';
import { loadPalette } from '../../src/ingest/palette.js';
import { readLabel } from '../../src/ingest/label-file.js';
import { augmentReal, type RealAugment } from '../../src/train/augment.js';
import { SegmentationMetrics } from '../../src/eval/metrics.js';
import { IMAGENET } from '../../src/model/preprocess.js';
import { readTdsJson } from '../../src/model/model-dir.js';
import { resolveInference } from '../../src/model/inference-defaults.js';
import { TdsError } from '../../src/errors.js';
import { root, tmp, cli, waitUntil } from '../helpers.js';
import { spawn } from 'node:child_process';
import { readState } from '../../src/train/checkpoint.js';

const palette = loadPalette(join(root, 'configs', 'endovis15-rigid.yaml'));

/** An EndoVis 2015-layout dataset: OPn/Raw/img_NN_raw.png + OPn/Masks/img_NN_class.png (grey stored as RGB),
 * a bright bar (shaft, 160) with a tip (manipulator, 70) on a reddish background that moves per frame. */
async function writeOps(dir: string, ops: number[], frames: number, w = 64, h = 64): Promise<void> {
  for (const op of ops) {
    mkdirSync(join(dir, `OP${op}`, 'Raw'), { recursive: true });
    mkdirSync(join(dir, `OP${op}`, 'Masks'), { recursive: true });
    for (let f = 1; f <= frames; f++) {
      const img = Buffer.alloc(w * h * 3);
      const lab = Buffer.alloc(w * h * 3);
      const x0 = 8 + ((f * 7 + op * 5) % (w - 24));
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const o = (y * w + x) * 3;
          const inBar = x >= x0 && x < x0 + 8;
          const v = !inBar ? 0 : y < h / 4 ? 70 : 160;
          img[o] = inBar ? 200 : 150 + ((x * 3 + y) % 40);
          img[o + 1] = inBar ? 200 : 60;
          img[o + 2] = inBar ? 210 : 50;
          lab[o] = lab[o + 1] = lab[o + 2] = v;
        }
      const nn = String(f).padStart(2, '0');
      await sharp(img, { raw: { width: w, height: h, channels: 3 } })
        .png()
        .toFile(join(dir, `OP${op}`, 'Raw', `img_${nn}_raw.png`));
      await sharp(lab, { raw: { width: w, height: h, channels: 3 } })
        .png()
        .toFile(join(dir, `OP${op}`, 'Masks', `img_${nn}_class.png`));
    }
  }
}

/** A tiny EndoVis 2015 cv setup in `d`: two 2-frame surgeries and a 64x64 config with these stages (+ cv). */
async function tinyCv(d: string, stages: object[], cv?: object): Promise<{ data: string; cfgFile: string }> {
  const data = join(d, 'ev15');
  await writeOps(data, [1, 2], 2);
  const base = loadRunConfig(join(root, 'configs', 'endovis15-rigid.yaml'));
  const cfgFile = join(d, 'cfg.yaml');
  writeFileSync(
    cfgFile,
    stringify({
      dataset: 'endovis15-rigid',
      labels: base.palette.labels,
      classes: base.palette.classes.map((c) => ({ id: c.id, name: c.name, value: c.value, color: c.color })),
      scenes: [{ id: 0, name: 'surgery', sequences: [] }],
      train: { ...base.train, size: [64, 64], stages },
      ...(cv ? { cv } : {}),
    }),
  );
  return { data, cfgFile };
}

describe('leave-one-surgery-out folds', () => {
  it('hold out each sequence once and never train on it', () => {
    const seqs = [1, 2, 3, 4].map((id) => ({ name: `OP${id}`, id }));
    const folds = losoFolds(seqs);
    expect(folds.map((f) => f.name)).toEqual(['OP1', 'OP2', 'OP3', 'OP4']);
    for (const f of folds) {
      expect(f.heldOut.map((h) => h.name)).toEqual([f.name]);
      expect(f.train).not.toContain(f.name);
      expect([...f.train, f.name].sort()).toEqual(seqs.map((s) => s.name));
    }
  });

  it('k folds: every sequence held out exactly once, strata dealt evenly', () => {
    const seqs = Array.from({ length: 23 }, (_, i) => ({ name: `img${i + 1}`, id: i + 1 }));
    const strata = new Map(seqs.map((s) => [s.name, s.id % 3 === 0 ? 'normal' : 'glaucoma']));
    const folds = kFolds(seqs, 5, strata);
    expect(folds.map((f) => f.name)).toEqual(['fold1', 'fold2', 'fold3', 'fold4', 'fold5']);
    const held = folds.flatMap((f) => f.heldOut.map((h) => h.name));
    expect(held.sort()).toEqual(seqs.map((s) => s.name).sort());
    for (const f of folds) {
      expect(f.heldOut.length === 4 || f.heldOut.length === 5).toBe(true);
      for (const h of f.heldOut) expect(f.train).not.toContain(h.name);
      expect(f.train.length + f.heldOut.length).toBe(23);
      // 7 normal images over 5 folds: each fold holds 1 or 2 of them.
      const normals = f.heldOut.filter((h) => strata.get(h.name) === 'normal').length;
      expect(normals === 1 || normals === 2).toBe(true);
    }
    expect(() => kFolds(seqs.slice(0, 3), 5)).toThrow(/at least 5 sequences/);
  });

  it('refuse one sequence and repeated sequence numbers', () => {
    expect(() => losoFolds([{ name: 'OP1', id: 1 }])).toThrow(/at least 2 sequences/);
    expect(() =>
      losoFolds([
        { name: 'OP1', id: 1 },
        { name: 'seq_1', id: 1 },
      ]),
    ).toThrow(/repeat/);
  });

  it("--hold-out puts no frame of the held-out surgery in training and keeps each stage's last epoch", async () => {
    const d = join(tmp(), 'ev15');
    await writeOps(d, [1, 2, 3], 3);
    const ds = scanFolder(d);
    expect(ds.layout).toBe('endovis15-rigid');
    expect(ds.sequences.map((s) => [s.name, s.id, s.frames.length])).toEqual([
      ['OP1', 1, 3],
      ['OP2', 2, 3],
      ['OP3', 3, 3],
    ]);
    expect(ds.sequences[0].frames[0]).toMatchObject({
      name: 'img_01',
      image: join(d, 'OP1', 'Raw', 'img_01_raw.png'),
      label: join(d, 'OP1', 'Masks', 'img_01_class.png'),
    });
    const cfg = loadRunConfig(join(root, 'configs', 'endovis15-rigid.yaml'));
    for (const held of [1, 2, 3]) {
      const t = applyOverrides(cfg.train, { holdOut: [held] });
      expect(t.select).toBe('last');
      const split = listSamples(d, palette, t.validation.sequences, true);
      expect(split.train.some((s) => s.seqId === held || s.image.includes(`OP${held}/`))).toBe(false);
      expect(split.val.every((s) => s.seqId === held)).toBe(true);
      expect(split.train).toHaveLength(6);
      expect(split.val).toHaveLength(3);
    }
    // --hold-out none: everything trains, nothing validates.
    const all = listSamples(d, palette, applyOverrides(cfg.train, { holdOut: [] }).validation.sequences, true);
    expect([all.train.length, all.val.length]).toEqual([9, 0]);
    // Without select: last an empty validation list is refused.
    expect(() => listSamples(d, palette, [], false)).toThrow(TdsError);
  });

  it('--average scores the averaged models of earlier cv folders per fold, without training', async () => {
    const d = join(tmp(), 'ev15avg');
    await writeOps(d, [1, 2], 2);
    await useBackend('cpu');
    const roots = [join(tmp(), 'cv-a'), join(tmp(), 'cv-b')];
    for (const [i, r] of roots.entries())
      for (const fold of ['fold-OP1', 'fold-OP2']) {
        await initModel(join(r, fold, 'run', 'model'), {
          profile: 'fast',
          palette,
          height: 64,
          width: 64,
          seed: i + 1,
        });
        const state = { version: 1, fingerprint: {}, epochsDone: 1, best: {}, history: [], done: true };
        writeFileSync(join(r, fold, 'run', 'state.json'), JSON.stringify(state));
      }
    const out = join(tmp(), 'cv-avg');
    const config = join(root, 'configs', 'endovis15-rigid.yaml');
    const single = [{ name: 'single', sizes: ['64x64'], flip: false, minArea: 0 }];
    const r = await crossValidate({ config, data: d, out, cli: 'unused', average: roots, variants: single });
    expect(r.scores.map((x) => [x.fold, x.variant, x.frames])).toEqual([
      ['OP1', 'single', 2],
      ['OP2', 'single', 2],
    ]);
    // Each fold averages that same fold's models: none of them saw the held-out surgery.
    expect(readTdsJson(join(out, 'fold-OP2', 'run', 'model')).members).toEqual(
      roots.map((x) => join(x, 'fold-OP2', 'run', 'model')),
    );
    writeFileSync(join(roots[1], 'fold-OP1', 'run', 'state.json'), JSON.stringify({ version: 1, done: false }));
    await expect(
      crossValidate({ config, data: d, out: join(tmp(), 'cv-avg2'), cli: 'unused', average: roots, variants: single }),
    ).rejects.toThrow(/cv-b\/fold-OP1\/run is not a finished training run/);
    // A fold model kept without its run (a shipped model's cv/ folder) is a member as it is.
    const kept = join(tmp(), 'kept');
    for (const fold of ['fold-OP1', 'fold-OP2'])
      cpSync(join(roots[0], fold, 'run', 'model'), join(kept, fold), { recursive: true });
    const out3 = join(tmp(), 'cv-avg3');
    const r3 = await crossValidate({
      config,
      data: d,
      out: out3,
      cli: 'unused',
      average: [kept, roots[0]],
      variants: single,
    });
    expect(readTdsJson(join(out3, 'fold-OP1', 'run', 'model')).members).toEqual([
      join(kept, 'fold-OP1'),
      join(roots[0], 'fold-OP1', 'run', 'model'),
    ]);
    // The kept copy is the same network: with the run it came from, it scores as that run twice.
    const alone = await crossValidate({
      config,
      data: d,
      out: join(tmp(), 'cv-alone'),
      cli: 'unused',
      average: [roots[0], roots[0]],
      variants: single,
    });
    expect(r3.scores.map((x) => x.challengeIoU)).toEqual(alone.scores.map((x) => x.challengeIoU));
    rmSync(join(kept, 'fold-OP2'), { recursive: true });
    await expect(
      crossValidate({
        config,
        data: d,
        out: join(tmp(), 'cv-avg4'),
        cli: 'unused',
        average: [kept, roots[0]],
        variants: single,
      }),
    ).rejects.toThrow(/kept has no fold-OP2: neither a training run \(fold-OP2\/run\/state\.json\) nor a model folder/);
  });

  it('reads the grey-as-RGB masks: 160 shaft, 70 manipulator', async () => {
    const d = join(tmp(), 'ev15');
    await writeOps(d, [1], 1);
    const r = await readLabel(join(d, 'OP1', 'Masks', 'img_01_class.png'), palette);
    expect(r.unknownPixels).toBe(0);
    const counts = [0, 0, 0];
    for (const v of r.labels) counts[v]++;
    expect(counts).toEqual([64 * 64 - 8 * 64, 8 * 48, 8 * 16]);
  });
});

describe('real-endoscopy augmentation', () => {
  const img = { data: Buffer.alloc(40 * 30 * 3, 120), width: 40, height: 30, channels: 3 };
  const labels = new Uint8Array(40 * 30).fill(1);
  const none: RealAugment = {
    zoom: null,
    rotate: 0,
    jitter: null,
    blur: null,
    noise: null,
    specular: null,
    smoke: null,
    border: null,
  };
  const rng = (seed: number) => {
    let a = seed;
    return () => (a = (a * 1103515245 + 12345) >>> 0) / 4294967296;
  };

  it('is the identity resample without any change (zoom 1, no rotation)', () => {
    const r = augmentReal(
      img,
      labels,
      30,
      40,
      IMAGENET,
      { ...none, zoom: { min: 1, max: 1 } },
      { h: false, v: false },
      rng(1),
    );
    expect(r.labels.every((v) => v === 1)).toBe(true);
    expect(r.image[0]).toBeCloseTo((120 / 255 - IMAGENET.mean[0]) / IMAGENET.std[0], 5);
  });

  it('zooming out leaves a black surround labelled background', () => {
    const r = augmentReal(
      img,
      labels,
      30,
      40,
      IMAGENET,
      { ...none, zoom: { min: 0.5, max: 0.5 } },
      { h: false, v: false },
      rng(2),
    );
    expect(r.labels[0]).toBe(0);
    expect(r.image[0]).toBeCloseTo((0 - IMAGENET.mean[0]) / IMAGENET.std[0], 5);
    expect(r.labels[15 * 40 + 20]).toBe(1);
  });

  it('the scope border blacks out the corners as background; labels never take new values', () => {
    const r = augmentReal(
      img,
      labels,
      30,
      40,
      IMAGENET,
      {
        ...none,
        border: { p: 1 },
        rotate: 20,
        jitter: { brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 10 },
        noise: { p: 1, sigma: 5 },
        blur: { p: 1, maxSigma: 1 },
        specular: { p: 1, max: 3 },
        smoke: { p: 1, max: 0.5 },
      },
      { h: true, v: false },
      rng(3),
    );
    expect(r.labels[0]).toBe(0);
    expect(r.labels[30 * 40 - 1]).toBe(0);
    expect(new Set(r.labels)).toEqual(new Set([0, 1]));
    expect(r.labels[15 * 40 + 20]).toBe(1);
    expect(r.image.every(Number.isFinite)).toBe(true);
  });

  // A 40x30 frame: tissue (label 0, colour 200/80/60) with a vertical tool (label 1, grey 30) in columns 10..14.
  const toolFrame = (toolCol: number) => {
    const data = Buffer.alloc(40 * 30 * 3);
    const lab = new Uint8Array(40 * 30);
    for (let y = 0; y < 30; y++)
      for (let x = 0; x < 40; x++) {
        const o = y * 40 + x;
        const tool = x >= toolCol && x < toolCol + 5;
        lab[o] = tool ? 1 : 0;
        data.set(tool ? [30, 30, 30] : [200, 80, 60], o * 3);
      }
    return { image: { data, width: 40, height: 30, channels: 3 as const }, labels: lab };
  };
  const pixel = (img: Float32Array, o: number) =>
    [0, 1, 2].map((c) => Math.round((img[o * 3 + c] * IMAGENET.std[c] + IMAGENET.mean[c]) * 255));

  it('tool recolouring moves only the tool pixels to a grey level in [min, max]', () => {
    const f = toolFrame(10);
    const aug: RealAugment = { ...none, zoom: { min: 1, max: 1 }, tool: { p: 1, classes: [1], min: 150, max: 200 } };
    const r = augmentReal(f.image, f.labels, 30, 40, IMAGENET, aug, { h: false, v: false }, rng(4));
    expect(r.labels).toEqual(f.labels);
    const toolPx = pixel(r.image, 5 * 40 + 12);
    // A flat grey tool stays grey (no chroma to rescale) at the drawn level.
    expect(toolPx[0]).toBeGreaterThanOrEqual(150);
    expect(toolPx[0]).toBeLessThanOrEqual(200);
    expect(new Set(toolPx).size).toBe(1);
    expect(pixel(r.image, 5 * 40 + 30)).toEqual([200, 80, 60]);
  });

  it("paste copies the other frame's tool pixels and labels over this one, nothing else", () => {
    const a = toolFrame(10);
    const b = toolFrame(30);
    const aug: RealAugment = { ...none, zoom: { min: 1, max: 1 }, paste: { p: 1, classes: [1] } };
    const r = augmentReal(a.image, a.labels, 30, 40, IMAGENET, aug, { h: false, v: false }, rng(5), b);
    const cols = (l: Uint8Array) => [...new Set([...l].flatMap((v, o) => (v ? [o % 40] : [])))].sort((x, y) => x - y);
    const bCols = cols(b.labels);
    const pasted = cols(r.labels).filter((x) => !cols(a.labels).includes(x));
    // Its own geometry may flip the other frame: its tool lands at columns 30..34 or (mirrored) 5..9.
    expect([bCols, [5, 6, 7, 8, 9]]).toContainEqual(pasted);
    for (const x of [10, 11, 12, 13, 14]) expect(r.labels[3 * 40 + x]).toBe(1);
    expect(pixel(r.image, 3 * 40 + pasted[0])).toEqual([30, 30, 30]);
    expect(r.labels.filter((v) => v === 1).length).toBe(2 * 5 * 30);
    // Without another frame, paste does nothing.
    const alone = augmentReal(a.image, a.labels, 30, 40, IMAGENET, aug, { h: false, v: false }, rng(5));
    expect(alone.labels).toEqual(a.labels);
  });

  it('the same seed gives the same sample', () => {
    const aug: RealAugment = { ...none, zoom: { min: 0.8, max: 1.5 }, rotate: 30, noise: { p: 1, sigma: 4 } };
    const a = augmentReal(img, labels, 30, 40, IMAGENET, aug, { h: false, v: true }, rng(9));
    const b = augmentReal(img, labels, 30, 40, IMAGENET, aug, { h: false, v: true }, rng(9));
    expect(Buffer.from(a.image.buffer).equals(Buffer.from(b.image.buffer))).toBe(true);
    expect(a.labels).toEqual(b.labels);
  });
});

describe('pooled metrics', () => {
  it('pool intersections and unions over all pixels, per class and for the binary foreground', () => {
    const m = new SegmentationMetrics(['background', 'shaft', 'manipulator']);
    // Frame 1: shaft 2 px predicted right, 1 missed; frame 2: manipulator 1 px right, 1 px predicted as shaft.
    m.update(new Uint8Array([1, 1, 0, 0]), new Uint8Array([1, 1, 1, 0]));
    m.update(new Uint8Array([2, 1, 0, 0]), new Uint8Array([2, 2, 0, 0]));
    const r = m.result();
    expect(r.pooled.perClass.shaft.iou).toBeCloseTo(2 / 4, 10); // I 2; U = pred 3 + gt 3 - 2
    expect(r.pooled.perClass.manipulator.iou).toBeCloseTo(1 / 2, 10);
    expect(r.pooled.foreground.iou).toBeCloseTo(4 / 5, 10); // fg: pred 4, gt 5, inter 4
    expect(r.pooled.foreground.frameMeanIoU).toBeCloseTo((2 / 3 + 1) / 2, 10);
    expect(r.pooled.foreground.dice).toBeCloseTo((2 * 4) / 9, 10);
  });
});

describe("the final model's default variant", () => {
  const variants = [
    { name: 'single', merit: 1.237 },
    { name: 'flip', merit: 1.242 },
    { name: 's224', merit: 1.248 },
    { name: 's192-224', merit: 1.249 },
    { name: 'ensemble', merit: 1.252 },
  ];
  const rates: Record<string, number> = { single: 60, flip: 30, s224: 54, 's192-224': 28, ensemble: 8 };
  const measure = () => {
    const asked: string[] = [];
    return { asked, fpsOf: async (n: string) => (asked.push(n), rates[n]) };
  };

  it('no tolerance: the best-scoring variant at the live rate; rates measured best first until one is fast enough', async () => {
    const m = measure();
    const r = await chooseDefault(variants, m.fpsOf, 25);
    expect(r.chosen).toBe('s192-224');
    expect(r.equalTo).toBeUndefined();
    expect(m.asked).toEqual(['ensemble', 's192-224']);
  });

  it('with a tolerance: the fastest live variant scoring within it of that one', async () => {
    const m = measure();
    const r = await chooseDefault(variants, m.fpsOf, 25, 0.005);
    // s224 (1.248) is within 0.005 of s192-224 (1.249); flip (0.007 below) and single (0.012) are not
    expect(r).toMatchObject({ chosen: 's224', equalTo: 's192-224' });
    expect(r.fps).toEqual({ ensemble: 8, 's192-224': 28, s224: 54 });
    // a wider tolerance reaches the single pass, the fastest of all
    expect((await chooseDefault(variants, measure().fpsOf, 25, 0.02)).chosen).toBe('single');
    // a faster variant below the live rate never wins, nor one scoring better but too slow
    expect((await chooseDefault(variants, measure().fpsOf, 55, 0.02)).chosen).toBe('single');
  });

  it('none at the live rate: the fastest measured', async () => {
    expect((await chooseDefault(variants, measure().fpsOf, 100, 0.005)).chosen).toBe('single');
  });

  it('tds cv refuses a negative --tolerance before doing any work', () => {
    const r = cli([
      'cv',
      '--config',
      'configs/endovis15-rigid.yaml',
      '--data',
      tmp(),
      '--out',
      tmp(),
      '--tolerance',
      '-1',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--tolerance must be a number >= 0, got -1/);
  });
});

describe('inference defaults from the model folder', () => {
  it('the caller wins, then tds.json inference, then the input size alone', () => {
    const meta = readTdsJson(join(root, 'models', 'demo'));
    const none = { roi: null, largest: null, detached: null };
    expect(resolveInference(meta, {})).toEqual({ sizes: [meta.inputSize], flip: false, minArea: 0, ...none });
    const withInf = {
      ...meta,
      inference: {
        sizes: [
          { height: 64, width: 64 },
          { height: 96, width: 96 },
        ],
        flip: true,
        minArea: 30,
      },
    };
    expect(resolveInference(withInf, {})).toEqual({
      sizes: withInf.inference.sizes,
      flip: true,
      minArea: 30,
      ...none,
    });
    expect(resolveInference(withInf, { flip: false, minArea: 0, sizes: [{ height: 32, width: 32 }] })).toEqual({
      sizes: [{ height: 32, width: 32 }],
      flip: false,
      minArea: 0,
      ...none,
    });
    // Two-stage models (fundus): the model's crop unless the caller turns it off.
    const twoStage = { ...meta, inference: { ...withInf.inference, roi: { classes: [1, 2], scale: 2.5 } } };
    expect(resolveInference(twoStage, {}).roi).toEqual({ classes: [1, 2], scale: 2.5 });
    expect(resolveInference(twoStage, { roi: null }).roi).toBeNull();
    // Detached-region removal (EndoVis): the model's setting unless the caller turns it off (--keep-detached).
    const detached = { dark: 32, reach: 0.05, keepArea: 0.05 };
    const edgeModel = { ...meta, inference: { ...withInf.inference, detached } };
    expect(resolveInference(edgeModel, {}).detached).toEqual(detached);
    expect(resolveInference(edgeModel, { detached: null }).detached).toBeNull();
  });
});

describe('tds cv stopped', () => {
  it('SIGTERM stops every fold in training: each saves its progress and none outlives tds cv', async () => {
    const d = tmp();
    const { data, cfgFile } = await tinyCv(d, [{ name: 'seg', a: 0, b: 0, g: 0, lr: 1e-3, untilEpoch: 400 }]);
    const out = join(d, 'cv');
    const runs = ['OP1', 'OP2'].map((f) => join(out, `fold-${f}`, 'run'));
    const child = spawn(
      process.execPath,
      [join(root, 'dist', 'cli', 'index.js'), 'cv', '--config', cfgFile, '--data', data, '--out', out],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (b) => (stderr += b));
    expect(await waitUntil(() => runs.every((r) => (readState(r)?.epochsDone ?? 0) >= 1), 90_000)).toBe(true);
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(143);
    expect(stderr).toMatch(
      /tds cv was stopped; every training in progress saved its progress.*run the same tds cv command again/,
    );
    const snapshot = () => runs.map((r) => readFileSync(join(r, 'state.json'), 'utf8'));
    const after = snapshot();
    for (const s of after) expect(JSON.parse(s).done).toBeUndefined();
    // Nothing trains on: an epoch here takes well under a second, so a fold left running would change its state.
    await new Promise((r) => setTimeout(r, 3000));
    expect(snapshot()).toEqual(after);
  });
});

describe('tds cv end to end (tiny)', () => {
  it('trains one model per held-out surgery and the final one, scores each variant, writes the table and the winner', async () => {
    const d = tmp();
    const cv = {
      variants: [
        { name: 'one', sizes: ['64x64'], flip: false, minArea: 0 },
        { name: 'two-flip', sizes: ['64x64', '96x96'], flip: true, minArea: 4 },
      ],
    };
    const { data, cfgFile } = await tinyCv(
      d,
      [
        { name: 'seg', a: 0, b: 0, g: 0, lr: 1e-3, untilEpoch: 1 },
        { name: 'class', a: 0.2, b: 0, g: 0, lr: 1e-3, untilEpoch: 2 },
      ],
      cv,
    );
    const out = join(d, 'cv');
    const r = cli(['cv', '--config', cfgFile, '--data', data, '--out', out, '--final', '--json']);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('tds:'))).toEqual([]);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.folds.map((f: { name: string }) => f.name)).toEqual(['OP1', 'OP2']);
    expect(rep.scores).toHaveLength(4);
    for (const s of rep.scores) {
      expect(s.frames).toBe(2);
      expect(s.foregroundIoU).toBeGreaterThanOrEqual(0);
      expect(s.foregroundIoU).toBeLessThanOrEqual(1);
    }
    // Each fold's predictions cover exactly its held-out surgery.
    const lines = readFileSync(join(out, 'fold-OP1', 'pred-one', 'labels.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).name);
    expect(lines).toEqual(['OP1/img_01', 'OP1/img_02']);
    const state = JSON.parse(readFileSync(join(out, 'fold-OP1', 'run', 'state.json'), 'utf8'));
    expect(state.fingerprint.train.validation.sequences).toEqual([1]);
    expect(state.fingerprint.train.select).toBe('last');
    expect(['one', 'two-flip']).toContain(rep.best);
    const md = readFileSync(join(out, 'cv.md'), 'utf8');
    expect(md).toContain('| **one** | **mean** |');
    expect(md).toContain(`Best variant (mean over folds): ${rep.best}`);
    expect(cvTable(rep, ['background', 'shaft', 'manipulator'])).toBe(md);
    // The final model trained on both surgeries carries the winning variant as its inference defaults.
    const meta = readTdsJson(join(out, 'final', 'run', 'model'));
    // ...the best variant that runs at the live rate (both do, for this tiny model), with its measured fps.
    expect(rep.default).toBe(rep.best);
    expect(rep.fps[rep.best]).toBeGreaterThanOrEqual(25);
    expect(md).toContain(`Default of the final model (best at >= the live rate): ${rep.default}`);
    const win = cv.variants.find((v) => v.name === rep.default)!;
    expect(meta.inference?.sizes.map((s) => `${s.height}x${s.width}`)).toEqual(win.sizes);
    expect(meta.inference?.flip).toBe(win.flip);
    expect(meta.classes.map((c) => c.name)).toEqual(['background', 'shaft', 'manipulator']);
    expect(existsSync(join(out, 'final', 'run', 'model', 'model.onnx'))).toBe(true);
    // Rerunning resumes: nothing is trained again, the report is the same.
    const again = cli(['cv', '--config', cfgFile, '--data', data, '--out', out, '--final', '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).scores).toEqual(rep.scores);
  }, 300_000);
});

describe('one normalisation for training and inference', () => {
  it('the same pixels give bit-identical floats through inference, training crops and augmentation', async () => {
    const { preprocessInto } = await import('../../src/model/preprocess.js');
    const w = 48;
    const h = 32;
    const data = Buffer.alloc(w * h * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 37 + (i >> 5)) & 255;
    const img = { data, width: w, height: h, channels: 3 };
    const infer = preprocessInto(img, h, w, IMAGENET, 'nhwc', new Float32Array(w * h * 3));
    const crop = preprocessInto(img, h, w, IMAGENET, 'nhwc', new Float32Array(w * h * 3), 0, { x: 0, y: 0, w, h });
    const none: RealAugment = {
      zoom: { min: 1, max: 1 },
      rotate: 0,
      jitter: null,
      blur: null,
      noise: null,
      specular: null,
      smoke: null,
      border: null,
    };
    const aug = augmentReal(img, new Uint8Array(w * h), h, w, IMAGENET, none, { h: false, v: false }, () => 0.5).image;
    expect(Buffer.from(crop.buffer).equals(Buffer.from(infer.buffer))).toBe(true);
    expect(Buffer.from(aug.buffer).equals(Buffer.from(infer.buffer))).toBe(true);
    // Resampled (fractional) values too: a training crop of the whole 640x480 frame at 288x384 equals inference's
    // resize bit for bit (the two used different arithmetic before and differed in 48 values here).
    const big = { data: Buffer.alloc(640 * 480 * 3), width: 640, height: 480, channels: 3 };
    for (let i = 0; i < big.data.length; i++) big.data[i] = (i * 37 + (i >> 5)) & 255;
    const a = preprocessInto(big, 288, 384, IMAGENET, 'nhwc', new Float32Array(288 * 384 * 3));
    const b = preprocessInto(big, 288, 384, IMAGENET, 'nhwc', new Float32Array(288 * 384 * 3), 0, {
      x: 0,
      y: 0,
      w: 640,
      h: 480,
    });
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
  });
});
