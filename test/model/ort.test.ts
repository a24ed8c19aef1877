import { describe, expect, it, beforeAll } from 'vitest';
import { join } from 'node:path';
import { existsSync, statSync, utimesSync, writeFileSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { spawnSync } from 'node:child_process';
import { initModel } from '../../src/model/init.js';
import { createSegmenter, type Segmentation } from '../../src/model/segmenter.js';
import { useBackend } from '../../src/model/backend.js';
import { readTdsJson } from '../../src/model/model-dir.js';
import { exportModelDir } from '../../src/model/onnx-file.js';
import { importOnnx } from '../../src/model/onnx-import.js';
import { OnnxGraph } from '../../src/model/onnx-graph.js';
import { loadPalette } from '../../src/ingest/palette.js';
import { synthSequence } from '../../src/ingest/synth.js';
import { IMAGENET } from '../../src/model/preprocess.js';
import { TdsError } from '../../src/errors.js';
import { root, tmp, cli } from '../helpers.js';

const robot = loadPalette(join(root, 'configs', 'robot18.yaml'));

function compare(a: Segmentation, b: Segmentation) {
  let maxProb = 0;
  let agree = 0;
  const C = a.numClasses;
  const n = a.width * a.height;
  for (let p = 0; p < n; p++) {
    let ia = 0;
    let ib = 0;
    for (let c = 0; c < C; c++) {
      maxProb = Math.max(maxProb, Math.abs(a.probs[p * C + c] - b.probs[p * C + c]));
      if (a.probs[p * C + c] > a.probs[p * C + ia]) ia = c;
      if (b.probs[p * C + c] > b.probs[p * C + ib]) ib = c;
    }
    if (ia === ib) agree++;
  }
  const maxHead = (x: Float32Array, y: Float32Array) => Math.max(...Array.from(x).map((v, i) => Math.abs(v - y[i])));
  return { maxProb, agree: agree / n, presence: maxHead(a.presence, b.presence), scene: maxHead(a.scene, b.scene) };
}

describe('ONNX export and the ORT engine', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it.each([
    ['fast', 256, 320, 0],
    ['paper', 64, 96, 0],
    ['fast', 128, 160, 2],
  ] as const)(
    'parity ORT vs tfjs-cpu, %s profile, random weights, seeded input (%i x %i, IN blocks %i)',
    async (profile, H, W, inBlocks) => {
      const dir = join(tmp(), `${profile}-${inBlocks}`);
      await initModel(dir, { profile, palette: robot, height: H, width: W, seed: 11, instanceNormBlocks: inBlocks });
      const img = synthSequence({ seed: 21, seq: 2, width: W, height: H }).render(1).left;
      const ort = await createSegmenter(dir);
      expect(ort.info).toMatchObject({ engine: 'ort', backend: 'cpu' });
      const ro = await ort.segmentImage(img);
      ort.dispose();
      const tfj = await createSegmenter(dir, { engine: 'tfjs', backend: 'cpu' });
      const rt = await tfj.segmentImage(img);
      tfj.dispose();
      const d = compare(ro, rt);
      expect(d.maxProb).toBeLessThan(1e-4);
      expect(d.agree).toBeGreaterThanOrEqual(0.999);
      expect(d.presence).toBeLessThan(1e-4);
      expect(d.scene).toBeLessThan(1e-4);
      // the exported graph is recorded in tds.json
      expect(readTdsJson(dir).onnx).toMatchObject({
        file: 'model.onnx',
        input: 'image',
        inputLayout: 'nchw',
        outputs: { seg: 'seg', class: 'class', scene: 'scene' },
        opset: 17,
        source: 'export',
      });
    },
  );

  it('exports automatically when model.onnx is missing; changed weights are reported, and tds export keeps the old ONNX', async () => {
    const dir = join(tmp(), 'auto');
    await initModel(dir, { profile: 'fast', palette: robot, height: 64, width: 64 });
    expect(existsSync(join(dir, 'model.onnx'))).toBe(false);
    (await createSegmenter(dir)).dispose();
    const first = statSync(join(dir, 'model.onnx')).mtimeMs;
    (await createSegmenter(dir)).dispose();
    expect(statSync(join(dir, 'model.onnx')).mtimeMs).toBe(first);
    // A checkout that only reorders modification times does not trigger a re-export (content is compared)...
    const later = new Date(Date.now() + 5000);
    utimesSync(join(dir, 'weights.bin'), later, later);
    (await createSegmenter(dir)).dispose();
    expect(statSync(join(dir, 'model.onnx')).mtimeMs).toBe(first);
    // ...new weights are reported, never silently exported over the good model.onnx (they may be damaged)...
    const onnx = readFileSync(join(dir, 'model.onnx'));
    const w = readFileSync(join(dir, 'weights.bin'));
    w.writeFloatLE(0.123, 0);
    writeFileSync(join(dir, 'weights.bin'), w);
    await expect(createSegmenter(dir)).rejects.toThrow(/weights\.bin changed since model\.onnx was exported/);
    await expect(createSegmenter(dir, { engine: 'tfjs', backend: 'cpu' })).rejects.toThrow(/weights\.bin changed/);
    expect(readFileSync(join(dir, 'model.onnx')).equals(onnx)).toBe(true);
    // ...until the user exports on purpose, which keeps the previous export beside the new one.
    await exportModelDir(dir);
    expect(readFileSync(join(dir, 'model.onnx.bak')).equals(onnx)).toBe(true);
    expect(readFileSync(join(dir, 'model.onnx')).equals(onnx)).toBe(false);
    (await createSegmenter(dir)).dispose();
  });

  it('inference runs in its own thread: the event loop stays free while it computes, and dispose ends the thread', async () => {
    const dir = join(tmp(), 'thread');
    await initModel(dir, { profile: 'paper', palette: robot, height: 128, width: 160 });
    const seg = await createSegmenter(dir, { threads: 1 });
    const img = synthSequence({ seed: 3, seq: 1, width: 160, height: 128 }).render(0).left;
    await seg.segmentImage(img); // warm-up
    const before = performance.eventLoopUtilization();
    const t0 = performance.now();
    for (let i = 0; i < 4; i++) await seg.segmentImage(img);
    const wall = performance.now() - t0;
    const elu = performance.eventLoopUtilization(before);
    // onnxruntime-node computes synchronously on its calling thread: on the main thread this read ~1.
    expect(wall).toBeGreaterThan(50);
    expect(elu.utilization).toBeLessThan(0.5);
    // A run in flight when the segmenter is disposed fails clearly instead of hanging; later calls are refused.
    const pending = seg.segmentImage(img);
    seg.dispose();
    await expect(pending).rejects.toThrow(/inference thread was closed/);
    await expect(seg.segmentImage(img)).rejects.toThrow(/disposed/);
  });

  it('output buffers handed back (recycle) are reused by later runs without changing any result; runMs is the forward pass', async () => {
    const dir = join(tmp(), 'recycle');
    await initModel(dir, { profile: 'fast', palette: robot, height: 64, width: 96, seed: 5 });
    const seg = await createSegmenter(dir, { threads: 1 });
    const seq = synthSequence({ seed: 8, seq: 1, width: 96, height: 64 });
    const imgs = [0, 1, 2].map((i) => seq.render(i).left);
    // Reference: fresh buffers, never handed back.
    const ref = [];
    for (const img of imgs) ref.push((await seg.segmentImage(img)).probs.slice());
    let prev: Segmentation | undefined;
    for (let round = 0; round < 3; round++) {
      for (const [i, img] of imgs.entries()) {
        const r = await seg.segmentImage(img);
        // The buffer handed back travelled to the inference thread with this run (detached here).
        if (prev) expect(prev.probs.length).toBe(0);
        expect(Array.from(r.probs)).toEqual(Array.from(ref[i]));
        expect(r.runMs).toBeGreaterThan(0);
        expect(r.runMs!).toBeLessThanOrEqual(r.ms);
        expect(r.recycle).toBeTypeOf('function');
        r.recycle!();
        r.recycle!(); // twice is harmless (a buffer sent to two runs would fail to transfer)
        prev = r;
      }
    }
    seg.dispose();
  });

  it('a process that exits mid-inference after closeInferenceThreads exits cleanly (no abort from ORT)', () => {
    // onnxruntime-node throws a C++ exception when a run returns into a terminating worker: process.exit during
    // inference aborted 6 of 8 processes (exit 134) before threads were ended after their run in progress.
    const script = `
      const { createSegmenter } = await import(${JSON.stringify(join(root, 'dist', 'model', 'segmenter.js'))});
      const { closeInferenceThreads } = await import(${JSON.stringify(join(root, 'dist', 'model', 'ort-thread.js'))});
      const seg = await createSegmenter(${JSON.stringify(join(root, 'models', 'demo'))}, {});
      const img = { data: Buffer.alloc(320 * 256 * 3, 90), width: 320, height: 256, channels: 3 };
      let runs = 0;
      (async () => { for (;;) { try { await seg.segmentImage(img); runs++; } catch { break; } } })();
      setTimeout(async () => { await closeInferenceThreads(); console.log(runs); process.exit(0); }, 150 + Math.random() * 200);
    `;
    for (let i = 0; i < 4; i++) {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      expect(r.signal).toBeNull();
      expect(r.status).toBe(0);
      expect(Number(r.stdout.trim())).toBeGreaterThan(0);
    }
  }, 120_000);

  it('a process started with per-process node flags (--trace-gc) still gets its inference thread', () => {
    const script = `
      const { createSegmenter } = await import(${JSON.stringify(join(root, 'dist', 'model', 'segmenter.js'))});
      const seg = await createSegmenter(${JSON.stringify(join(root, 'models', 'demo'))}, {});
      const r = await seg.segmentImage({ data: Buffer.alloc(320 * 256 * 3, 90), width: 320, height: 256, channels: 3 });
      seg.dispose();
      console.log('classes', r.numClasses);
    `;
    const r = spawnSync(process.execPath, ['--trace-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/invalid execArgv/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/classes 12/);
  }, 60_000);

  it('runs other input sizes from the same graph (multi-size ensembles), and a requested GPU provider falls back to CPU', async () => {
    const dir = join(tmp(), 'sizes');
    await initModel(dir, { profile: 'fast', palette: robot, height: 64, width: 64 });
    const seg = await createSegmenter(dir, { size: { height: 96, width: 128 }, executionProviders: ['cuda'] });
    expect(seg.info.backend).toBe('cpu');
    const r = await seg.segmentImage(synthSequence({ seed: 1, seq: 1, width: 200, height: 150 }).render(0).left);
    expect(r).toMatchObject({ height: 96, width: 128 });
    expect(r.probs.length).toBe(96 * 128 * 12);
    seg.dispose();
    await expect(createSegmenter(dir, { size: { height: 100, width: 128 } })).rejects.toThrow(/multiples of 32/);
  });
});

/** A foreign NCHW model like the official PyTorch export: log-softmax seg (1x1 conv), class and scene logits. */
function foreignModel(
  C: number,
  S: number,
  H: number,
  W: number,
): { bytes: Uint8Array; wSeg: Float32Array; bSeg: Float32Array } {
  const g = new OnnxGraph();
  g.input('input.1', [1, 3, H, W]);
  const wSeg = Float32Array.from({ length: C * 3 }, (_, i) => Math.sin(i + 1));
  const bSeg = Float32Array.from({ length: C }, (_, i) => 0.1 * i);
  const conv = g.node('Conv', ['input.1', g.constant('w', wSeg, [C, 3, 1, 1]), g.constant('b', bSeg, [C])], {
    kernel_shape: [1, 1],
  });
  g.node('LogSoftmax', [conv], { axis: 1 }, 'out_seg');
  const gap = g.node('Flatten', [g.node('GlobalAveragePool', ['input.1'])], { axis: 1 });
  g.node(
    'Gemm',
    [
      gap,
      g.constant(
        'wc',
        Float32Array.from({ length: 3 * C }, (_, i) => Math.cos(i)),
        [3, C],
      ),
      g.constant('bc', new Float32Array(C), [C]),
    ],
    {},
    'out_class',
  );
  g.node(
    'Gemm',
    [
      gap,
      g.constant(
        'ws',
        Float32Array.from({ length: 3 * S }, (_, i) => 0.5 - i * 0.1),
        [3, S],
      ),
      g.constant('bs', new Float32Array(S), [S]),
    ],
    {},
    'out_scene',
  );
  g.output('out_seg', [1, C, H, W]);
  g.output('out_class', [1, C]);
  g.output('out_scene', [1, S]);
  return { bytes: g.encode('official-like'), wSeg, bSeg };
}

describe('import-onnx', () => {
  it('wraps a hand-built NCHW log-softmax model; the ORT engine turns its outputs into probabilities', async () => {
    const d = tmp();
    const H = 32;
    const W = 48;
    const m = foreignModel(12, 3, H, W);
    writeFileSync(join(d, 'tdsnet.onnx'), m.bytes);
    const meta = await importOnnx(join(d, 'tdsnet.onnx'), join(d, 'imported'), { palette: robot });
    expect(meta).toMatchObject({
      profile: 'imported',
      inputSize: { height: H, width: W },
      outputs: { seg: { activation: 'log-softmax', layout: 'nchw' } },
    });
    const seg = await createSegmenter(join(d, 'imported'));
    const img = synthSequence({ seed: 2, seq: 1, width: W, height: H }).render(0).left;
    const r = await seg.segmentImage(img);
    seg.dispose();
    // Reference: normalise pixel 5, 1x1 conv, softmax.
    const p = 5;
    const x = [0, 1, 2].map((c) => (img.data[p * 3 + c] / 255 - IMAGENET.mean[c]) / IMAGENET.std[c]);
    const logits = Array.from(
      { length: 12 },
      (_, k) => m.bSeg[k] + x[0] * m.wSeg[k * 3] + x[1] * m.wSeg[k * 3 + 1] + x[2] * m.wSeg[k * 3 + 2],
    );
    const mx = Math.max(...logits);
    const e = logits.map((v) => Math.exp(v - mx));
    const s = e.reduce((a, b) => a + b, 0);
    for (let k = 0; k < 12; k++) expect(r.probs[p * 12 + k]).toBeCloseTo(e[k] / s, 5);
    expect(r.presence).toHaveLength(12);
    expect(r.scene.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('refuses files that are not models and outputs that do not match the config', async () => {
    const d = tmp();
    writeFileSync(join(d, 'notes.onnx'), 'not a model at all');
    const e = await importOnnx(join(d, 'notes.onnx'), join(d, 'x'), { palette: robot }).catch((x) => x);
    expect(e).toBeInstanceOf(TdsError);
    expect(e.message).toMatch(/notes\.onnx is not an ONNX model/);
    writeFileSync(join(d, 'eight.onnx'), foreignModel(8, 3, 32, 32).bytes);
    await expect(importOnnx(join(d, 'eight.onnx'), join(d, 'y'), { palette: robot })).rejects.toThrow(
      /segmentation output out_seg has shape \[1,8,32,32\] but the config declares 12 classes/,
    );
    writeFileSync(join(d, 'scenes.onnx'), foreignModel(12, 5, 32, 32).bytes);
    await expect(importOnnx(join(d, 'scenes.onnx'), join(d, 'z'), { palette: robot })).rejects.toThrow(
      /scene output out_scene .* declares 3 scenes/,
    );
    await expect(
      importOnnx(join(d, 'scenes.onnx'), join(d, 'w'), { palette: robot, size: { height: 64, width: 64 } }),
    ).rejects.toThrow(/does not accept a nchw input of 64x64/);
    expect(existsSync(join(d, 'y'))).toBe(false);
  });

  it('tds export and tds import-onnx from the CLI', async () => {
    const d = tmp();
    await initModel(join(d, 'm'), { profile: 'fast', palette: robot, height: 64, width: 64 });
    const r = cli(['export', join(d, 'm')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/model\.onnx \(\d+ nodes\)/);
    expect(readTdsJson(join(d, 'm')).onnx?.file).toBe('model.onnx');
    const i = cli([
      'import-onnx',
      join(d, 'm', 'model.onnx'),
      '--out',
      join(d, 'imp'),
      '--config',
      join(root, 'configs', 'robot18.yaml'),
      '--layout',
      'nchw',
      '--seg-layout',
      'nhwc',
      '--size',
      '64x64',
      '--outputs',
      'seg,class,scene',
      '--seg-activation',
      'softmax',
    ]);
    expect(i.stderr).toBe('');
    expect(i.code).toBe(0);
    expect(JSON.parse(readFileSync(join(d, 'imp', 'tds.json'), 'utf8')).outputs.seg).toEqual({
      name: 'seg',
      activation: 'softmax',
      layout: 'nhwc',
    });
    const bad = cli(['import-onnx', join(d, 'm', 'tds.json'), '--out', join(d, 'imp2'), '--config', 'robot18']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^tds: .*tds\.json is not an ONNX model/);
  });
});
