// Fixture tier: real endoscope data from shared/fixtures (TDS_FIXTURES). Without it, this tier says it did not run.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { lastValueFrom, toArray } from 'rxjs';
import { decodeVideo } from '../src/ingest/decode.js';
import { probeVideo } from '../src/ingest/probe.js';
import { readRgb, readRaw } from '../src/ingest/image-io.js';
import { loadPalette } from '../src/ingest/palette.js';
import { readLabel } from '../src/ingest/label-file.js';
import { scanFolder } from '../src/ingest/folders.js';
import { prepareDataset } from '../src/ingest/prepare.js';
import { readIndexMask } from '../src/ingest/label-file.js';
import { ffmpeg, fixturesDir, root, tmp } from './helpers.js';

const FIX = fixturesDir();
if (!FIX) console.warn('FIXTURE TIER NOT RUN: no shared/fixtures folder (set TDS_FIXTURES to run it)');

describe.skipIf(!FIX)('fixture tier (real data)', () => {
  const fx = (...p: string[]) => join(FIX!, ...p);

  it('endo.mp4 decodes at 1hz to 10 frames of 1280x720, audio ignored', async () => {
    const p = await probeVideo(fx('endo-video', 'endo.mp4'));
    expect(p).toMatchObject({ width: 1280, height: 720, fps: 25, durationMs: 10000, codec: 'h264' });
    const f = await lastValueFrom(decodeVideo(fx('endo-video', 'endo.mp4'), { rate: '1hz' }).pipe(toArray()));
    expect(f).toHaveLength(10);
    expect(f.map((x) => x.ptsMs)).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000]);
    for (const x of f) expect(x.left.data.length).toBe(1280 * 720 * 3);
  });

  it('SERV-CT stereo pairs packed into sbs and tb clips split back exactly', async () => {
    const d = tmp();
    const exp = fx('stereo-servct', 'Experiment_1');
    const find = (name: string) => execFileSync('find', [exp, '-name', name]).toString().trim().split('\n').sort()[0];
    const l = find('Left_rectified.png');
    const r = find('Right_rectified.png');
    const L = await readRgb(l);
    const R = await readRgb(r);
    expect(L).toMatchObject({ width: 720, height: 576 });
    const lossless = ['-c:v', 'ffv1', '-pix_fmt', 'bgr0'];
    ffmpeg([
      '-loop',
      '1',
      '-i',
      l,
      '-loop',
      '1',
      '-i',
      r,
      '-filter_complex',
      'hstack',
      '-frames:v',
      '2',
      ...lossless,
      join(d, 'sbs.mkv'),
    ]);
    ffmpeg([
      '-loop',
      '1',
      '-i',
      l,
      '-loop',
      '1',
      '-i',
      r,
      '-filter_complex',
      'vstack',
      '-frames:v',
      '2',
      ...lossless,
      join(d, 'tb.mkv'),
    ]);
    for (const [file, stereo] of [
      ['sbs.mkv', 'sbs'],
      ['tb.mkv', 'tb'],
    ] as const) {
      const f = await lastValueFrom(decodeVideo(join(d, file), { stereo }).pipe(toArray()));
      expect(f).toHaveLength(2);
      expect(f[1].left.data.equals(L.data)).toBe(true);
      expect(f[1].right!.data.equals(R.data)).toBe(true);
    }
  });

  it('EndoVis17 ground-truth grey values are read exactly and prepared with the official crop', async () => {
    const parts = loadPalette(join(root, 'configs', 'endovis17-parts.yaml'));
    const ds = scanFolder(fx('endovis17-parts'));
    expect(ds.layout).toBe('endovis17-parts');
    expect(ds.sequences[0].frames).toHaveLength(3);
    const gt = ds.sequences[0].frames[0].label!;
    const raw = await readRaw(gt);
    const vals = new Set<number>();
    for (let i = 0; i < raw.width * raw.height; i++) vals.add(raw.data[i * raw.channels]);
    expect([...vals].sort((a, b) => a - b).every((v) => [0, 10, 20, 30].includes(v))).toBe(true);
    const lab = await readLabel(gt, parts);
    expect(lab.unknownPixels).toBe(0);
    let counted = 0;
    for (let i = 0; i < lab.labels.length; i++) if (lab.labels[i] * 10 !== raw.data[i * raw.channels]) counted++;
    expect(counted).toBe(0);
    const out = tmp();
    const s = await prepareDataset(fx('endovis17-parts'), out, parts, { crop: { x: 320, y: 28, w: 1280, h: 1024 } });
    expect(s).toMatchObject({ frames: 3, unknownPixels: 0 });
    const mask = await readIndexMask(join(out, 'seq_1', 'masks', `${ds.sequences[0].frames[0].name}.png`), 4);
    expect(mask.length).toBe(1280 * 1024);
    expect(mask[0]).toBe(lab.labels[28 * 1920 + 320]);
    expect(s.classPixels[1] + s.classPixels[2] + s.classPixels[3]).toBeGreaterThan(1000);
  });

  it('the official ROBOT18 labels.json agrees with configs/robot18.yaml', async () => {
    const { readFileSync } = await import('node:fs');
    const official = JSON.parse(readFileSync(fx('endovis18', 'labels.json'), 'utf8')) as Array<{
      name: string;
      color: number[];
      classid: number;
    }>;
    const robot = loadPalette(join(root, 'configs', 'robot18.yaml'));
    expect(robot.classes.map((c) => [c.id, c.name, c.color])).toEqual(
      official.map((o) => [o.classid, o.name, o.color]),
    );
  });
});

describe.skipIf(!FIX)('fixture tier: real-data training check (EndoVis17 parts)', () => {
  it('a small fast model trained on two frames beats an all-background prediction on the third', async () => {
    const { train } = await import('../src/train/run.js');
    const { loadRunConfig, applyOverrides } = await import('../src/train/config.js');
    const { createSegmenter } = await import('../src/model/segmenter.js');
    const { SegmentationMetrics } = await import('../src/eval/metrics.js');
    const { argmaxLabels } = await import('../src/postprocess/argmax.js');
    const { resizeLabels } = await import('../src/model/preprocess.js');
    const { renameSync, mkdirSync } = await import('node:fs');
    const parts = loadPalette(join(root, 'configs', 'endovis17-parts.yaml'));
    const d = tmp();
    // The official 1280x1024 crop; frames 1-2 train (seq_1), frame 3 validates (seq_2): split by sequence.
    await prepareDataset(join(FIX!, 'endovis17-parts'), join(d, 'prep'), parts, {
      crop: { x: 320, y: 28, w: 1280, h: 1024 },
    });
    const names = scanFolder(join(d, 'prep')).sequences[0].frames.map((f) => f.name);
    for (const sub of ['images', 'masks']) {
      mkdirSync(join(d, 'prep', 'seq_2', sub), { recursive: true });
      renameSync(join(d, 'prep', 'seq_1', sub, `${names[2]}.png`), join(d, 'prep', 'seq_2', sub, `${names[2]}.png`));
    }
    const cfg = loadRunConfig(join(root, 'configs', 'endovis17-parts.yaml'));
    cfg.train = applyOverrides(
      { ...cfg.train, seed: 4, stages: cfg.train.stages.map((s) => ({ ...s, lr: s.lr * 10 })) },
      { size: [256, 320], epochsScale: 0.6 },
    );
    const r = await train({ config: cfg, data: join(d, 'prep'), out: join(d, 'run') });
    expect(r.interrupted).toBe(false);
    const seg = await createSegmenter(r.modelDir!);
    const img = await readRgb(join(d, 'prep', 'seq_2', 'images', `${names[2]}.png`));
    const gtFull = await readIndexMask(join(d, 'prep', 'seq_2', 'masks', `${names[2]}.png`), 4);
    const gt = resizeLabels(gtFull, 1280, 1024, 256, 320);
    const out = await seg.segmentImage(img);
    seg.dispose();
    const partsIoU = (pred: Uint8Array) => {
      const m = new SegmentationMetrics(
        parts.classes.map((c) => c.name),
        [0],
      );
      m.update(pred, gt);
      return m.result().metrics.challengeIoU;
    };
    const model = partsIoU(argmaxLabels(out.probs, 4));
    const trivial = partsIoU(new Uint8Array(gt.length));
    console.log(
      `EndoVis17 real-data check: instrument-part IoU ${model.toFixed(3)} vs all-background ${trivial.toFixed(3)}`,
    );
    expect(trivial).toBe(0);
    // A clear margin over the trivial prediction (which scores 0 on every part class).
    expect(model).toBeGreaterThan(0.1);
  }, 600_000);
});

describe.skipIf(!FIX)('fixture tier: real-surgery training check (EndoVis 2015, one surgery to another)', () => {
  it('a small model trained briefly on OP1 finds instruments in OP2, which an all-background prediction cannot', async () => {
    const { train } = await import('../src/train/run.js');
    const { loadRunConfig, applyOverrides } = await import('../src/train/config.js');
    const { processInput } = await import('../src/stream/process.js');
    const { evaluateFolders } = await import('../src/eval/evaluate.js');
    const { SegmentationMetrics } = await import('../src/eval/metrics.js');
    const { readLabel } = await import('../src/ingest/label-file.js');
    const { symlinkSync, mkdirSync } = await import('node:fs');
    // A two-surgery dataset of links into the fixtures (nothing is copied).
    const d = tmp();
    const data = join(d, 'ev15');
    mkdirSync(data);
    for (const op of ['OP1', 'OP2']) symlinkSync(join(FIX!, 'endovis15-rigid', op), join(data, op));
    const cfg = loadRunConfig(join(root, 'configs', 'endovis15-rigid.yaml'));
    // The shipped recipe's augmentation, a short seg-then-class schedule at 96x128: about a minute on one core.
    cfg.train = applyOverrides(
      {
        ...cfg.train,
        stages: [
          { name: 'seg', a: 0, b: 0, g: 0, lr: 2e-3, untilEpoch: 5 },
          { name: 'class', a: 0.2, b: 0, g: 0, lr: 1e-3, untilEpoch: 6 },
        ],
      },
      { size: [96, 128], holdOut: [2] },
    );
    const r = await train({ config: cfg, data, out: join(d, 'run') });
    expect(r.trainFrames).toBe(40);
    const pred = join(d, 'pred');
    await processInput(data, { model: r.modelDir!, out: pred, sequences: ['OP2'] });
    const ev = await evaluateFolders(pred, data, cfg.palette, { sequences: ['OP2'] });
    expect(ev.frames).toBe(40);
    const trivial = new SegmentationMetrics(cfg.palette.classes.map((c) => c.name));
    for (const f of scanFolder(data).sequences[1].frames) {
      const gt = await readLabel(f.label!, cfg.palette);
      trivial.update(new Uint8Array(gt.labels.length), gt.labels);
    }
    const t = trivial.result();
    console.log(
      `EndoVis 2015 OP1 -> OP2 check: binary instrument IoU ${ev.pooled.foreground.iou.toFixed(3)} (all-background 0), challenge IoU ${ev.metrics.challengeIoU.toFixed(3)} vs ${t.metrics.challengeIoU.toFixed(3)}`,
    );
    expect(t.pooled.foreground.iou).toBe(0);
    expect(ev.pooled.foreground.iou).toBeGreaterThan(0.2);
    expect(ev.metrics.challengeIoU).toBeGreaterThan(t.metrics.challengeIoU);
  }, 600_000);
});

describe.skipIf(!FIX)('fixture tier: the shipped real-surgery models (models/endovis15, models/endovis15-avg3)', () => {
  it.each(['endovis15', 'endovis15-avg3'])(
    '%s segments a folder of EndoVis 2015 raw frames into class ids 0 background, 1 shaft, 2 manipulator',
    async (name) => {
      const { processInput } = await import('../src/stream/process.js');
      const { readTdsJson } = await import('../src/model/model-dir.js');
      const { SegmentationMetrics } = await import('../src/eval/metrics.js');
      const { readLabel } = await import('../src/ingest/label-file.js');
      const { readdirSync, statSync } = await import('node:fs');
      const dir = join(root, 'models', name);
      const meta = readTdsJson(dir);
      expect(meta.classes.map((c) => [c.id, c.name])).toEqual([
        [0, 'background'],
        [1, 'shaft'],
        [2, 'manipulator'],
      ]);
      // One network, or an average of several (tds.json members): each stays a small fast-profile ONNX file.
      for (const m of meta.members ?? ['.']) expect(statSync(join(dir, m, 'model.onnx')).size).toBeLessThan(8 << 20);
      expect(JSON.stringify(meta.producedBy)).toMatch(/EndoVis 2015/);
      const out = join(tmp(), 'out');
      // A plain folder of the raw frames, as a user would point tds at them.
      await processInput(join(FIX!, 'endovis15-rigid', 'OP2', 'Raw'), { model: dir, out });
      const masks = readdirSync(join(out, 'masks')).sort();
      expect(masks).toHaveLength(40);
      const cfg = loadPalette(join(root, 'configs', 'endovis15-rigid.yaml'));
      const m = new SegmentationMetrics(cfg.classes.map((c) => c.name));
      const seen = new Set<number>();
      for (const f of masks) {
        const pred = await readRaw(join(out, 'masks', f));
        expect([pred.width, pred.height, pred.channels]).toEqual([640, 480, 1]);
        for (const v of pred.data) seen.add(v);
        const gt = await readLabel(
          join(FIX!, 'endovis15-rigid', 'OP2', 'Masks', f.replace('_raw.png', '_class.png')),
          cfg,
        );
        m.update(new Uint8Array(pred.data), gt.labels);
      }
      expect([...seen].every((v) => v <= 2)).toBe(true);
      expect(seen.has(1)).toBe(true);
      // OP2 is one of its training surgeries: not a score (that is the cross-validation's), a check that the
      // shipped weights are the trained ones.
      expect(m.result().pooled.foreground.iou).toBeGreaterThan(0.4);
    },
    300_000,
  );
});

describe.skipIf(!FIX)("fixture tier: models/endovis15's kept fold models reproduce its cross-validation", () => {
  it('each fold of the in4 + tools-tip average, none of whose members saw the held-out surgery, scores the README table', async () => {
    const { crossValidate } = await import('../src/train/cv.js');
    const { readTdsJson } = await import('../src/model/model-dir.js');
    const kept = ['in4', 'tools-tip'].map((m) => join(root, 'models', 'endovis15', 'cv', m));
    for (const k of kept)
      for (const f of ['OP1', 'OP2', 'OP3']) {
        const p = readTdsJson(join(k, `fold-${f}`)).producedBy as { fold: { heldOut: string; trainedOn: string[] } };
        expect(p.fold).toMatchObject({ heldOut: f });
        expect(p.fold.trainedOn).toEqual(['OP1', 'OP2', 'OP3'].filter((x) => x !== f));
      }
    const r = await crossValidate({
      config: join(root, 'configs', 'endovis15-rigid-average.yaml'),
      data: join(FIX!, 'endovis15-rigid'),
      out: join(tmp(), 'cv'),
      cli: 'unused',
      average: kept,
      variants: [
        { name: 'single-minarea', sizes: [], flip: false, minArea: 150, roi: null, largest: null, detached: null },
        // one pass at 224x288
        {
          name: 's224-minarea',
          sizes: ['224x288'],
          flip: false,
          minArea: 150,
          roi: null,
          largest: null,
          detached: null,
        },
        // the shipped default (tds.json inference): that pass with detached-region removal at its defaults
        {
          name: 's224-minarea-detached',
          sizes: ['224x288'],
          flip: false,
          minArea: 150,
          roi: null,
          largest: null,
          detached: { dark: 32, reach: 0.05, keepArea: 0.05 },
        },
      ],
    });
    // README, Real-surgery model: the single-minarea, s224-minarea and s224-minarea-detached rows (binary IoU OP1 / OP2 / OP3, mean class IoU of the folds).
    const single = r.scores.filter((x) => x.variant === 'single-minarea');
    expect(single.map((s) => [s.fold, Number(s.foregroundIoU.toFixed(3))])).toEqual([
      ['OP1', 0.749],
      ['OP2', 0.727],
      ['OP3', 0.752],
    ]);
    expect(r.means['single-minarea'].meanClassIoU).toBeCloseTo(0.495, 3);
    const d = r.scores.filter((x) => x.variant === 's224-minarea');
    expect(d.map((x) => Number(x.foregroundIoU.toFixed(3)))).toEqual([0.75, 0.733, 0.75]);
    expect(Number(r.means['s224-minarea'].foregroundIoU.toFixed(3))).toBe(0.745);
    expect(Number(r.means['s224-minarea'].meanClassIoU.toFixed(3))).toBe(0.503);
    const e = r.scores.filter((x) => x.variant === 's224-minarea-detached');
    expect(e.map((x) => Number(x.foregroundIoU.toFixed(3)))).toEqual([0.773, 0.758, 0.759]);
    expect(Number(r.means['s224-minarea-detached'].foregroundIoU.toFixed(3))).toBe(0.764);
    expect(Number(r.means['s224-minarea-detached'].meanClassIoU.toFixed(3))).toBe(0.513);
    expect(readTdsJson(join(root, 'models', 'endovis15')).inference?.detached).toEqual({
      dark: 32,
      reach: 0.05,
      keepArea: 0.05,
    });
  }, 600_000);
});
