// Shared test helpers: temp folders, generated clips through the real ffmpeg, fixture lookup, child listing.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { encode as encodeBmp } from 'fast-bmp';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { ffmpegPath } from '../src/ingest/binaries.js';

export const root = resolve(import.meta.dirname, '..');

export function tmp(prefix = 'tds-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs ffmpeg with args; throws with stderr on failure. */
export function ffmpeg(args: string[]): void {
  execFileSync(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-y', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** A testsrc2 clip; lossless FFV1/MKV when `lossless`, else H.264 mp4. */
export function makeClip(
  path: string,
  o: { w: number; h: number; fps: number; seconds: number; lossless?: boolean; audio?: boolean },
): string {
  const args = ['-f', 'lavfi', '-i', `testsrc2=size=${o.w}x${o.h}:rate=${o.fps}:duration=${o.seconds}`];
  if (o.audio) args.push('-f', 'lavfi', '-i', `sine=frequency=440:duration=${o.seconds}`);
  if (o.lossless) args.push('-c:v', 'ffv1', '-pix_fmt', 'bgr0');
  else args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p');
  if (o.audio) args.push('-c:a', 'aac', '-shortest');
  ffmpeg([...args, path]);
  return path;
}

/** A recording cut off mid-way: an H.264 mp4 with its index at the front (faststart, so it probes as whole)
 * cut at 60% of its bytes, so decoding meets the damage part-way. */
export function cutOffClip(path: string, o: { w: number; h: number; fps: number; seconds: number }): string {
  const full = `${path}.full.mp4`;
  makeClip(full, o);
  const fast = `${path}.fast.mp4`;
  ffmpeg(['-i', full, '-c', 'copy', '-movflags', '+faststart', fast]);
  const bytes = readFileSync(fast);
  writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
  return path;
}

/** The shared fixtures folder, or undefined when this machine has none (the fixture tier then says it did not run). */
export function fixturesDir(): string | undefined {
  const d = process.env.TDS_FIXTURES
    ? resolve(root, process.env.TDS_FIXTURES)
    : resolve(root, '..', 'shared', 'fixtures');
  return existsSync(join(d, 'README.md')) ? d : undefined;
}

/** Pids of ffmpeg processes whose parent is this process. */
export function ffmpegChildren(): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
      if (m && m[1].startsWith('ffmpeg') && Number(m[2]) === process.pid) out.push(Number(p));
    } catch {
      // process ended while listing
    }
  }
  return out;
}

export async function waitUntil(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return cond();
}

/** Runs the built CLI (dist/) and returns its exit code and output. */
export function cli(
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv } = {},
): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli', 'index.js'), ...args], {
    encoding: 'utf8',
    input: opts.input,
    env: { ...process.env, ...opts.env },
    maxBuffer: 64 << 20,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A small untrained fast-profile model with the ROBOT18 classes (64x96), for tests that need any model. */
export async function tinyRobotModel(): Promise<{
  model: string;
  palette: import('../src/ingest/palette.js').Palette;
}> {
  const { loadPalette } = await import('../src/ingest/palette.js');
  const { initModel } = await import('../src/model/init.js');
  const { useBackend } = await import('../src/model/backend.js');
  const palette = loadPalette(join(root, 'configs', 'robot18.yaml'));
  const model = join(tmp(), 'model');
  await useBackend('cpu');
  await initModel(model, { profile: 'fast', palette, height: 64, width: 96, seed: 3 });
  return { model, palette };
}

/** A REFUGE-style training release: two glaucoma and one normal image, 8-bit BMP masks (255 other, 128 disc, 0 cup). */
export async function refugeFolder(): Promise<{ dir: string; masks: Record<string, Uint8Array> }> {
  const dir = tmp();
  const W = 40;
  const H = 30;
  const masks: Record<string, Uint8Array> = {};
  for (const [kind, name, cx] of [
    ['Glaucoma', 'g0001', 12],
    ['Glaucoma', 'g0002', 20],
    ['Non-Glaucoma', 'n0001', 28],
  ] as const) {
    mkdirSync(join(dir, 'Training400', kind), { recursive: true });
    mkdirSync(join(dir, 'Annotation-Training400', 'Disc_Cup_Masks', kind), { recursive: true });
    const m = new Uint8Array(W * H).fill(255);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const d = Math.hypot(x - cx, y - 15);
        if (d < 8) m[y * W + x] = d < 4 ? 0 : 128;
      }
    masks[name] = m;
    const rgb = Buffer.alloc(W * H * 3);
    for (let i = 0; i < W * H; i++) rgb[i * 3] = m[i] === 255 ? 120 : 230;
    await sharp(rgb, { raw: { width: W, height: H, channels: 3 } })
      .jpeg()
      .toFile(join(dir, 'Training400', kind, `${name}.jpg`));
    writeFileSync(
      join(dir, 'Annotation-Training400', 'Disc_Cup_Masks', kind, `${name}.bmp`),
      encodeBmp({ width: W, height: H, data: m, bitsPerPixel: 8, components: 1, channels: 1 }),
    );
  }
  return { dir, masks };
}
