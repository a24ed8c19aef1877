import { describe, expect, it, beforeAll } from 'vitest';
import { join } from 'node:path';
import { lastValueFrom, take, toArray } from 'rxjs';
import sharp from 'sharp';
import { decodeVideo, openDecoder } from '../../src/ingest/decode.js';
import { probeVideo } from '../../src/ingest/probe.js';
import { ffmpeg, ffmpegChildren, makeClip, tmp, waitUntil } from '../helpers.js';

const all = (input: string, o = {}) => lastValueFrom(decodeVideo(input, o).pipe(toArray()));

describe('decodeVideo: rates and timestamps (real ffmpeg, generated clips)', () => {
  let clip: string;
  beforeAll(() => {
    clip = makeClip(join(tmp(), 'c.mp4'), { w: 96, h: 64, fps: 25, seconds: 3 });
  });

  it('native rate emits every frame with monotonic 40 ms timestamps', async () => {
    const f = await all(clip);
    expect(f).toHaveLength(75);
    expect(f[0].ptsMs).toBe(0);
    expect(f[1].ptsMs).toBe(40);
    for (let i = 1; i < f.length; i++) expect(f[i].ptsMs).toBeGreaterThan(f[i - 1].ptsMs);
    expect(f.map((x) => x.index)).toEqual([...Array(75).keys()]);
    expect(f[0].left).toMatchObject({ width: 96, height: 64, channels: 3 });
    expect(f[0].left.data.length).toBe(96 * 64 * 3);
    expect(f[0].right).toBeUndefined();
  });

  it('each frame owns its pixels: a frame larger than a pipe chunk keeps the joined buffer, a small one is copied', async () => {
    // 320x240x3 = 230 KB per frame, several 64 KB pipe chunks; 96x64x3 = 18 KB, several frames per chunk.
    const big = makeClip(join(tmp(), 'big.mp4'), { w: 320, h: 240, fps: 25, seconds: 1 });
    for (const input of [big, clip]) {
      const a = await all(input);
      const b = await all(input);
      expect(a.length).toBeGreaterThan(20);
      for (const f of a) expect(f.left.data.buffer.byteLength).toBeLessThanOrEqual(2 * f.left.data.length);
      // Overwriting every other frame changes no other frame: no two frames share memory.
      for (let i = 0; i < a.length; i += 2) a[i].left.data.fill(7);
      for (let i = 1; i < a.length; i += 2) expect(Buffer.compare(a[i].left.data, b[i].left.data)).toBe(0);
      expect(a[0].left.data.every((v) => v === 7)).toBe(true);
      expect(b[0].left.data.every((v) => v === 7)).toBe(false);
    }
  });

  it('1hz emits one frame per second of media time', async () => {
    const f = await all(clip, { rate: '1hz' });
    expect(f.map((x) => x.ptsMs)).toEqual([0, 1000, 2000]);
  });

  it('a fixed fps emits that many frames per second', async () => {
    const f = await all(clip, { rate: 5 });
    expect(f).toHaveLength(15);
    expect(f.slice(0, 3).map((x) => x.ptsMs)).toEqual([0, 200, 400]);
  });

  it('from/until cut a file into chunks that together are the whole decode: no frame lost, none twice', async () => {
    // A keyframe every 30 frames and B-frames, so a cut falls mid-GOP; an MPEG-TS copy starts at 1.4 s.
    const mp4 = join(tmp(), 'gop.mp4');
    ffmpeg([
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=96x64:rate=25:duration=3',
      '-c:v',
      'libx264',
      '-g',
      '30',
      '-bf',
      '2',
      '-pix_fmt',
      'yuv420p',
      mp4,
    ]);
    const ts = join(tmp(), 'gop.ts');
    ffmpeg(['-i', mp4, '-c', 'copy', ts]);
    for (const file of [mp4, ts]) {
      const whole = await all(file);
      const parts = [
        ...(await all(file, { until: 1.02 })),
        ...(await all(file, { from: 1.02, until: 2 })),
        ...(await all(file, { from: 2 })),
      ];
      expect(parts.map((f) => f.ptsMs)).toEqual(whole.map((f) => f.ptsMs));
      for (let i = 0; i < whole.length; i += 7) expect(parts[i].left.data.equals(whole[i].left.data)).toBe(true);
    }
  });

  it('matches the probe', async () => {
    expect(await probeVideo(clip)).toEqual({
      width: 96,
      height: 64,
      fps: 25,
      frames: 75,
      durationMs: 3000,
      codec: 'h264',
    });
  });

  it('unsubscribing kills ffmpeg: no child outlives its stream', async () => {
    expect(ffmpegChildren()).toEqual([]);
    const long = makeClip(join(tmp(), 'long.mp4'), { w: 320, h: 240, fps: 25, seconds: 30 });
    const f = await lastValueFrom(decodeVideo(long).pipe(take(3), toArray()));
    expect(f).toHaveLength(3);
    expect(await waitUntil(() => ffmpegChildren().length === 0)).toBe(true);
  });

  it('closing a pull decoder mid-stream kills ffmpeg; a finished stream leaves none', async () => {
    const dec = openDecoder(clip);
    let n = 0;
    for await (const _ of dec.frames) if (++n === 2) break;
    expect(await waitUntil(() => ffmpegChildren().length === 0)).toBe(true);
    await all(clip, { rate: '1hz' });
    expect(await waitUntil(() => ffmpegChildren().length === 0)).toBe(true);
  });

  it('realtime replays at the media pace', async () => {
    const t0 = Date.now();
    const f = await lastValueFrom(decodeVideo(clip, { realtime: true }).pipe(take(26), toArray()));
    expect(f).toHaveLength(26);
    // 26 frames at 25 fps span 1 s of media time; -re must not deliver them much faster.
    expect(Date.now() - t0).toBeGreaterThan(800);
  });

  it('reads stdin when the input is -', async () => {
    const { createReadStream } = await import('node:fs');
    const mkv = makeClip(join(tmp(), 'c.mkv'), { w: 96, h: 64, fps: 25, seconds: 3, lossless: true });
    const f = await all('-', { stdin: createReadStream(mkv), rate: '1hz' });
    expect(f).toHaveLength(3);
    expect(f[0].left.width).toBe(96);
  });
});

describe('decodeVideo: stereo split is exact (lossless clips)', () => {
  let dir: string;
  let leftRaw: Buffer;
  let rightRaw: Buffer;
  const W = 64;
  const H = 48;
  beforeAll(async () => {
    dir = tmp();
    // Two different random images: any mix-up of halves or rows shows up pixel by pixel.
    const noise = (seed: number) =>
      Buffer.from(Array.from({ length: W * H * 3 }, (_, i) => (i * 2654435761 + seed * 97) % 251));
    leftRaw = noise(1);
    rightRaw = noise(2);
    await sharp(leftRaw, { raw: { width: W, height: H, channels: 3 } })
      .png()
      .toFile(join(dir, 'l.png'));
    await sharp(rightRaw, { raw: { width: W, height: H, channels: 3 } })
      .png()
      .toFile(join(dir, 'r.png'));
    const lossless = ['-c:v', 'ffv1', '-pix_fmt', 'bgr0'];
    ffmpeg([
      '-loop',
      '1',
      '-i',
      join(dir, 'l.png'),
      '-loop',
      '1',
      '-i',
      join(dir, 'r.png'),
      '-filter_complex',
      'hstack',
      '-frames:v',
      '3',
      ...lossless,
      join(dir, 'sbs.mkv'),
    ]);
    ffmpeg([
      '-loop',
      '1',
      '-i',
      join(dir, 'l.png'),
      '-loop',
      '1',
      '-i',
      join(dir, 'r.png'),
      '-filter_complex',
      'vstack',
      '-frames:v',
      '3',
      ...lossless,
      join(dir, 'tb.mkv'),
    ]);
    ffmpeg(['-loop', '1', '-i', join(dir, 'l.png'), '-frames:v', '3', ...lossless, join(dir, 'left.mkv')]);
    ffmpeg(['-loop', '1', '-i', join(dir, 'r.png'), '-frames:v', '3', ...lossless, join(dir, 'right.mkv')]);
  });

  it.each([
    ['sbs', 'sbs.mkv', {}],
    ['tb', 'tb.mkv', {}],
    ['two files', 'left.mkv', { right: 'right.mkv' }],
  ])('%s', async (stereo, file, extra: { right?: string }) => {
    const f = await all(join(dir, file), {
      stereo: stereo === 'two files' ? 'none' : stereo,
      right: extra.right && join(dir, extra.right),
    });
    expect(f).toHaveLength(3);
    for (const fr of f) {
      expect(fr.left).toMatchObject({ width: W, height: H });
      expect(fr.right).toMatchObject({ width: W, height: H });
      expect(fr.left.data.equals(leftRaw)).toBe(true);
      expect(fr.right!.data.equals(rightRaw)).toBe(true);
    }
  });

  it('probe reports one view for sbs and tb', async () => {
    expect(await probeVideo(join(dir, 'sbs.mkv'), { stereo: 'sbs' })).toMatchObject({ width: W, height: H });
    expect(await probeVideo(join(dir, 'tb.mkv'), { stereo: 'tb' })).toMatchObject({ width: W, height: H });
  });
});
