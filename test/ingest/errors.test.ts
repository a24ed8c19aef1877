// Bad input: each a typed error that names the file and the fix, and no partial output.
import { describe, expect, it, beforeAll } from 'vitest';
import { join } from 'node:path';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { lastValueFrom, toArray } from 'rxjs';
import { decodeVideo } from '../../src/ingest/decode.js';
import { probeVideo } from '../../src/ingest/probe.js';
import { parseRate, parseStereo } from '../../src/ingest/options.js';
import { extractFrames } from '../../src/ingest/extract.js';
import { loadPalette } from '../../src/ingest/palette.js';
import { TdsError } from '../../src/errors.js';
import { cutOffClip, ffmpeg, makeClip, tmp, ffmpegChildren, waitUntil } from '../helpers.js';

const decodeAll = (input: string, o = {}) => lastValueFrom(decodeVideo(input, o).pipe(toArray()));

async function tdsError(p: Promise<unknown>): Promise<TdsError> {
  const e = await p.then(
    () => undefined,
    (x) => x,
  );
  expect(e).toBeInstanceOf(TdsError);
  return e as TdsError;
}

describe('bad video input', () => {
  let dir: string;
  let clip: string;
  beforeAll(() => {
    dir = tmp();
    clip = makeClip(join(dir, 'ok.mp4'), { w: 64, h: 48, fps: 25, seconds: 2 });
  });

  it('a missing path', async () => {
    const e = await tdsError(decodeAll(join(dir, 'missing.mp4')));
    expect(e.code).toBe('ENOENT_INPUT');
    expect(e.message).toContain('missing.mp4');
    expect(e.message).toContain('fix:');
  });

  it('a file that is not a video', async () => {
    const txt = join(dir, 'notes.mp4');
    writeFileSync(txt, 'these are my surgical notes, not a video\n'.repeat(20));
    const e = await tdsError(decodeAll(txt));
    expect(e.code).toBe('NOT_VIDEO');
    expect(e.message).toContain('notes.mp4');
    const p = await tdsError(probeVideo(txt));
    expect(p.code).toBe('NOT_VIDEO');
    expect(await waitUntil(() => ffmpegChildren().length === 0)).toBe(true);
  });

  it('a truncated video', async () => {
    const cut = join(dir, 'cut.mp4');
    const bytes = readFileSync(clip);
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const e = await tdsError(decodeAll(cut));
    expect(['CORRUPT_VIDEO', 'NOT_VIDEO']).toContain(e.code);
    expect(e.message).toContain('cut.mp4');
  });

  it('a video that ends early yields the frames before the cut, then an error naming where', async () => {
    // An index at the front (faststart) promises more frames than the cut file holds: a recording cut off mid-way.
    const bad = cutOffClip(join(dir, 'cutoff.mp4'), { w: 64, h: 48, fps: 25, seconds: 4 });
    const got: number[] = [];
    const e = await new Promise<unknown>((resolve) =>
      decodeVideo(bad).subscribe({
        next: (f) => got.push(f.index),
        error: resolve,
        complete: () => resolve(undefined),
      }),
    );
    expect(e).toBeInstanceOf(TdsError);
    expect((e as TdsError).code).toBe('CORRUPT_VIDEO');
    expect((e as TdsError).message).toMatch(new RegExp(`cutoff\\.mp4 is damaged after frame ${got.length - 1}`));
    expect(got.length).toBeGreaterThan(10);
    expect(got.length).toBeLessThan(100);
  });

  it('an odd width with sbs stereo', async () => {
    const odd = join(dir, 'odd.mkv');
    ffmpeg([
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=66x48:rate=25:duration=1,format=rgb24,crop=65:48:0:0',
      '-c:v',
      'ffv1',
      '-pix_fmt',
      'bgr0',
      odd,
    ]);
    const e = await tdsError(decodeAll(odd, { stereo: 'sbs' }));
    expect(e.code).toBe('BAD_STEREO');
    expect(e.message).toMatch(/odd\.mkv is 65 px in width; --stereo sbs needs an even width/);
    expect((await tdsError(probeVideo(odd, { stereo: 'sbs' }))).code).toBe('BAD_STEREO');
    const oddH = join(dir, 'oddh.mkv');
    ffmpeg([
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=64x48:rate=25:duration=1,format=rgb24,crop=64:47:0:0',
      '-c:v',
      'ffv1',
      '-pix_fmt',
      'bgr0',
      oddH,
    ]);
    expect((await tdsError(decodeAll(oddH, { stereo: 'tb' }))).code).toBe('BAD_STEREO');
  });

  it('left and right files of different sizes or frame rates', async () => {
    const big = makeClip(join(dir, 'big.mp4'), { w: 96, h: 48, fps: 25, seconds: 2 });
    const slow = makeClip(join(dir, 'slow.mp4'), { w: 64, h: 48, fps: 30, seconds: 2 });
    const e1 = await tdsError(decodeAll(clip, { right: big }));
    expect(e1.code).toBe('STEREO_MISMATCH');
    expect(e1.message).toContain('64x48');
    expect(e1.message).toContain('96x48');
    const e2 = await tdsError(decodeAll(clip, { right: slow }));
    expect(e2.code).toBe('STEREO_MISMATCH');
    expect(e2.message).toMatch(/25 fps.*30 fps/);
  });

  it('an output folder that is a file, with nothing written', async () => {
    const f = join(dir, 'i-am-a-file');
    writeFileSync(f, 'x');
    const e = await tdsError(extractFrames(clip, f));
    expect(e.code).toBe('BAD_OUTPUT');
    expect(readFileSync(f, 'utf8')).toBe('x');
  });

  it('extract refuses to overwrite an earlier extraction unless asked', async () => {
    const out = join(dir, 'frames');
    expect((await extractFrames(clip, out, { rate: '1hz' })).frames).toBe(2);
    expect((await tdsError(extractFrames(clip, out))).code).toBe('BAD_OUTPUT');
    expect((await extractFrames(clip, out, { rate: 5, overwrite: true })).frames).toBe(10);
    expect(readdirSync(join(out, 'left_frames')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});

describe('option validation', () => {
  it.each([
    ['1hz', '1hz'],
    ['native', 'native'],
    ['5', 5],
    ['12.5', 12.5],
    ['10fps', 10],
  ])('rate %s', (v, want) => expect(parseRate(v)).toBe(want));

  it.each(['fast', '0', '-1', '', 'hz'])('rejects rate %j', (v) => {
    expect(() => parseRate(v)).toThrow(/unknown --rate value/);
  });

  it('rejects an unknown stereo packing', () => {
    expect(() => parseStereo('lr')).toThrow(/unknown --stereo value "lr".*none, sbs .*tb/);
  });

  it('a malformed palette YAML names the file and the field', () => {
    const d = tmp();
    writeFileSync(join(d, 'bad.yaml'), 'dataset: x\nclasses: [\n');
    expect(() => loadPalette(join(d, 'bad.yaml'))).toThrow(/bad\.yaml is not valid YAML/);
    writeFileSync(
      join(d, 'shape.yaml'),
      'dataset: x\nclasses:\n  - {id: 0, name: bg, color: [0,0,0]}\n  - {id: 1, name: tool, color: [0,300,0]}\nscenes: [{id: 0, name: s}]\n',
    );
    expect(() => loadPalette(join(d, 'shape.yaml'))).toThrow(/shape\.yaml: classes\.1\.color\.1/);
    writeFileSync(
      join(d, 'order.yaml'),
      'dataset: x\nclasses:\n  - {id: 1, name: bg, color: [0,0,0]}\n  - {id: 0, name: tool, color: [0,255,0]}\nscenes: [{id: 0, name: s}]\n',
    );
    expect(() => loadPalette(join(d, 'order.yaml'))).toThrow(/class ids must be 0..N-1/);
    expect(existsSync(join(d, 'nope.yaml'))).toBe(false);
    expect(() => loadPalette(join(d, 'nope.yaml'))).toThrow(/config not found/);
  });
});
