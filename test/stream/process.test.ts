// tds process on real files: a stereo video, a ROBOT18 folder, an image; outputs, resume, bad input.
import { describe, expect, it, beforeAll } from 'vitest';
import { join } from 'node:path';
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync, unlinkSync } from 'node:fs';
import { processInput } from '../../src/stream/process.js';
import { createEnsemble, parseSizes, writeAveragedModel } from '../../src/model/ensemble.js';
import { readTdsJson } from '../../src/model/model-dir.js';
import { createSegmenter } from '../../src/model/segmenter.js';
import { initModel } from '../../src/model/init.js';
import { useBackend } from '../../src/model/backend.js';
import { writeSynthDataset } from '../../src/ingest/synth-write.js';
import { loadPalette } from '../../src/ingest/palette.js';
import { readRaw, readRgb } from '../../src/ingest/image-io.js';
import { removeDetached } from '../../src/postprocess/detached.js';
import { probeVideo } from '../../src/ingest/probe.js';
import { synthSequence } from '../../src/ingest/synth.js';
import { TdsError } from '../../src/errors.js';
import { root, tmp, cli, ffmpeg } from '../helpers.js';

const robot = loadPalette(join(root, 'configs', 'robot18.yaml'));
let model: string;
let data: string;
const stripMs = (s: string) => s.replace(/"ms":\{[^}]*\}/g, '');

beforeAll(async () => {
  const d = tmp();
  model = join(d, 'model');
  await useBackend('cpu');
  await initModel(model, { profile: 'fast', palette: robot, height: 64, width: 96, seed: 3 });
  data = join(d, 'synth');
  await writeSynthDataset(data, robot, {
    sequences: 2,
    frames: 3,
    seed: 8,
    width: 80,
    height: 64,
    video: true,
    fps: 10,
  });
});

describe('tds process', () => {
  it('a side-by-side stereo video: full-resolution masks of the left view, colour PNGs, labels.ndjson, run.json, overlay.mp4', async () => {
    const out = join(tmp(), 'out');
    const s = await processInput(join(data, 'seq_1', 'video.mp4'), {
      model,
      out,
      stereo: 'sbs',
      minArea: 10,
      overlay: true,
    });
    expect(s).toMatchObject({ frames: 3, resumedFrames: 0 });
    expect(readdirSync(join(out, 'masks'))).toEqual(['frame000000.png', 'frame000001.png', 'frame000002.png']);
    const m = await readRaw(join(out, 'masks', 'frame000001.png'));
    expect(m).toMatchObject({ width: 80, height: 64, channels: 1 });
    expect(Math.max(...m.data)).toBeLessThan(12);
    const c = await readRaw(join(out, 'color', 'frame000001.png'));
    expect(c).toMatchObject({ width: 80, height: 64, channels: 3 });
    const lines = readFileSync(join(out, 'labels.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.frame, l.name, l.ptsMs])).toEqual([
      [0, 'frame000000', 0],
      [1, 'frame000001', 100],
      [2, 'frame000002', 200],
    ]);
    expect(Object.keys(lines[0]).sort()).toEqual(
      ['frame', 'maskPresent', 'ms', 'name', 'present', 'presence', 'ptsMs', 'scene', 'sizes', 'sync'].sort(),
    );
    expect(Object.keys(lines[0].presence)).toHaveLength(12);
    expect(lines[0].sync).toBeGreaterThanOrEqual(0);
    expect(lines[0].sync).toBeLessThanOrEqual(1);
    expect(Object.keys(lines[0].ms).sort()).toEqual(['decode', 'infer', 'post', 'total', 'write']);
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(run).toMatchObject({
      engine: 'ort',
      backend: 'cpu',
      sizes: ['64x96'],
      minArea: 10,
      finished: true,
      counts: { frames: 3 },
    });
    expect(await probeVideo(join(out, 'overlay.mp4'))).toMatchObject({
      width: 80,
      height: 64,
      fps: 10,
      frames: 3,
      codec: 'h264',
    });
  });

  it('a ROBOT18 folder keeps source names per sequence; a single image works too', async () => {
    const out = join(tmp(), 'out');
    await processInput(data, { model, out, sizes: parseSizes('64x96,96x128'), flip: true });
    expect(readdirSync(join(out, 'masks'))).toEqual(['seq_1', 'seq_2']);
    expect(readdirSync(join(out, 'masks', 'seq_2'))).toEqual(['frame000.png', 'frame001.png', 'frame002.png']);
    const line = JSON.parse(readFileSync(join(out, 'labels.ndjson'), 'utf8').split('\n')[0]);
    expect(line.sizes).toEqual(['64x96', '96x128']);
    const one = join(tmp(), 'one');
    await processInput(join(data, 'seq_2', 'left_frames', 'frame001.png'), { model, out: one });
    expect(readdirSync(join(one, 'masks'))).toEqual(['frame001.png']);
  });

  it('--resume skips complete frames and gives identical results', async () => {
    const full = join(tmp(), 'full');
    await processInput(data, { model, out: full, minArea: 5 });
    const part = join(tmp(), 'part');
    await processInput(data, { model, out: part, minArea: 5 });
    // Simulate an interruption after 4 frames: the last two frames' files and lines are gone, one line is cut short.
    const lines = readFileSync(join(part, 'labels.ndjson'), 'utf8').trim().split('\n');
    writeFileSync(join(part, 'labels.ndjson'), lines.slice(0, 4).join('\n') + '\n' + lines[4].slice(0, 20));
    unlinkSync(join(part, 'masks', 'seq_2', 'frame002.png'));
    await expect(processInput(data, { model, out: part, minArea: 5 })).rejects.toThrow(
      /holds the outputs of another run.*--resume/,
    );
    await expect(processInput(data, { model, out: part, minArea: 9, resume: true })).rejects.toThrow(
      /made with different minArea/,
    );
    const s = await processInput(data, { model, out: part, minArea: 5, resume: true });
    expect(s).toMatchObject({ frames: 6, resumedFrames: 4 });
    expect(stripMs(readFileSync(join(part, 'labels.ndjson'), 'utf8'))).toBe(
      stripMs(readFileSync(join(full, 'labels.ndjson'), 'utf8')),
    );
    for (const seq of ['seq_1', 'seq_2'])
      for (const f of ['frame000', 'frame001', 'frame002'])
        expect(
          readFileSync(join(part, 'masks', seq, `${f}.png`)).equals(readFileSync(join(full, 'masks', seq, `${f}.png`))),
        ).toBe(true);
  });

  it('--masks-only writes the same masks and labels without colour PNGs; its --resume refuses a colour run', async () => {
    const full = join(tmp(), 'full');
    await processInput(data, { model, out: full, minArea: 5 });
    const lean = join(tmp(), 'lean');
    const r = cli(['process', data, '--model', model, '--out', lean, '--min-area', '5', '--masks-only']);
    expect(r.code).toBe(0);
    expect(existsSync(join(lean, 'color'))).toBe(false);
    expect(readdirSync(join(full, 'color', 'seq_1'))).toHaveLength(3);
    expect(stripMs(readFileSync(join(lean, 'labels.ndjson'), 'utf8'))).toBe(
      stripMs(readFileSync(join(full, 'labels.ndjson'), 'utf8')),
    );
    for (const seq of ['seq_1', 'seq_2'])
      for (const f of ['frame000', 'frame001', 'frame002'])
        expect(
          readFileSync(join(lean, 'masks', seq, `${f}.png`)).equals(readFileSync(join(full, 'masks', seq, `${f}.png`))),
        ).toBe(true);
    expect(JSON.parse(readFileSync(join(lean, 'run.json'), 'utf8')).settings.color).toBe(false);
    await expect(processInput(data, { model, out: lean, minArea: 5, resume: true })).rejects.toThrow(/different color/);
  });

  it("applies the model's detached-region removal by default, and --keep-detached turns it off", async () => {
    const d = tmp();
    const edgy = join(d, 'edgy');
    // The demo model (trained on these synthetic scenes): its masks have regions inside the frame.
    cpSync(join(root, 'models', 'demo'), edgy, { recursive: true });
    // Every region that does not touch the frame's border goes (no dark surround, no reach, no size exemption).
    const detached = { dark: 0, reach: 0, keepArea: 1 };
    const meta = JSON.parse(readFileSync(join(edgy, 'tds.json'), 'utf8'));
    writeFileSync(
      join(edgy, 'tds.json'),
      JSON.stringify({ ...meta, inference: { sizes: [meta.inputSize], detached } }),
    );
    const on = join(d, 'on');
    const off = join(d, 'off');
    expect(cli(['process', data, '--model', edgy, '--out', on, '--masks-only']).code).toBe(0);
    expect(cli(['process', data, '--model', edgy, '--out', off, '--masks-only', '--keep-detached']).code).toBe(0);
    expect(JSON.parse(readFileSync(join(on, 'run.json'), 'utf8')).settings.detached).toEqual(detached);
    expect(JSON.parse(readFileSync(join(off, 'run.json'), 'utf8')).settings.detached).toBeUndefined();
    let removed = 0;
    for (const seq of ['seq_1', 'seq_2'])
      for (const f of ['frame000', 'frame001', 'frame002']) {
        const kept = await readRaw(join(off, 'masks', seq, `${f}.png`));
        const img = await readRgb(join(data, seq, 'left_frames', `${f}.png`));
        const want = removeDetached(new Uint8Array(kept.data), img, detached);
        const got = await readRaw(join(on, 'masks', seq, `${f}.png`));
        expect(Buffer.from(want).equals(got.data)).toBe(true);
        removed += kept.data.reduce((a, v, i) => a + (v && !want[i] ? 1 : 0), 0);
      }
    // The rule had something to remove.
    expect(removed).toBeGreaterThan(0);
  });

  it('a video that ends early: processes what decodes, reports where it failed, keeps what was written', async () => {
    const d = tmp();
    const clip = join(d, 'clip.mp4');
    ffmpeg([
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=96x64:rate=10:duration=3',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-pix_fmt',
      'yuv420p',
      '-movflags',
      '+faststart',
      clip,
    ]);
    const bytes = readFileSync(clip);
    writeFileSync(join(d, 'cut.mp4'), bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const out = join(d, 'out');
    const e = await processInput(join(d, 'cut.mp4'), { model, out }).catch((x) => x);
    expect(e).toBeInstanceOf(TdsError);
    expect(e.message).toMatch(/cut\.mp4 is damaged after frame \d+.*frame\(s\) were written/);
    const n = readdirSync(join(out, 'masks')).length;
    expect(n).toBeGreaterThan(3);
    expect(readFileSync(join(out, 'labels.ndjson'), 'utf8').trim().split('\n')).toHaveLength(n);
    expect(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'))).toMatchObject({
      finished: false,
      error: expect.stringContaining('damaged'),
    });
    const r = cli(['process', join(d, 'cut.mp4'), '--model', model, '--out', join(d, 'out2')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tds: .*damaged/);
  });

  it('bad options fail before any output', () => {
    const d = tmp();
    expect(cli(['process', data, '--model', model, '--out', join(d, 'a'), '--sizes', '100x96']).stderr).toMatch(
      /^tds: --sizes 100x96 is not a multiple of 32/,
    );
    expect(cli(['process', data, '--model', model, '--out', join(d, 'b'), '--min-area', '-3']).stderr).toMatch(
      /^tds: --min-area must be a non-negative integer, got -3/,
    );
    expect(cli(['process', data, '--model', join(d, 'nomodel'), '--out', join(d, 'c')]).stderr).toMatch(
      /^tds: model folder not found/,
    );
    expect(existsSync(join(d, 'a')) || existsSync(join(d, 'b')) || existsSync(join(d, 'c'))).toBe(false);
  });
});

describe('ensemble', () => {
  it('fuses sizes and flip TTA into one map at the largest size; presence and scene are averaged distributions', async () => {
    const ens = await createEnsemble(model, { sizes: parseSizes('64x96,96x128'), flip: true });
    const img = synthSequence({ seed: 1, seq: 1, width: 80, height: 64 }).render(0).left;
    const r = await ens.segment(img);
    expect(r.sizes).toEqual(['64x96', '96x128']);
    expect([r.fused.height, r.fused.width]).toEqual([96, 128]);
    let s = 0;
    for (let k = 0; k < 12; k++) s += r.fused.probs[k];
    expect(s).toBeCloseTo(1, 4);
    expect(r.scene.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const small = await ens.segment(img, 1);
    expect(small.sizes).toEqual(['64x96']);
    ens.dispose();
  });

  it('an averaged model (tds.json members) gives the mean of its members, and tds process runs it', async () => {
    const other = join(tmp(), 'other');
    await initModel(other, {
      profile: 'fast',
      palette: loadPalette(join(root, 'configs', 'robot18.yaml')),
      height: 64,
      width: 96,
      seed: 11,
      // built differently from the first (no conv biases in two blocks): its own parameter count
      instanceNormBlocks: 2,
    });
    const avg = join(tmp(), 'avg');
    await writeAveragedModel(avg, [model, other]);
    const [pm, po, pa] = [model, other, avg].map((d) => readTdsJson(d).params!);
    expect(po).not.toBe(pm);
    expect(pa).toBe(pm + po);
    const img = synthSequence({ seed: 2, seq: 1, width: 96, height: 64 }).render(0).left;
    const [a, b, m] = [model, other, avg].map((d) => createEnsemble(d));
    const [ra, rb, rm] = await Promise.all([a, b, m].map(async (e) => (await e).segment(img)));
    expect((await m).models).toBe(2);
    for (let i = 0; i < rm.fused.probs.length; i += 97)
      expect(rm.fused.probs[i]).toBeCloseTo((ra.fused.probs[i] + rb.fused.probs[i]) / 2, 6);
    for (let k = 0; k < rm.presence.length; k++)
      expect(rm.presence[k]).toBeCloseTo((ra.presence[k] + rb.presence[k]) / 2, 6);
    for (const e of [a, b, m]) (await e).dispose();
    // No network of its own: a single segmenter is refused with the way out.
    await expect(createSegmenter(avg)).rejects.toThrow(/averages 2 models .*fix: run it through the ensemble/);
    const out = join(tmp(), 'avg-out');
    const s = await processInput(join(data, 'seq_1'), { model: avg, out });
    expect(s.frames).toBe(3);
    expect(readFileSync(join(out, 'labels.ndjson'), 'utf8').trim().split('\n')).toHaveLength(3);
  });
});
