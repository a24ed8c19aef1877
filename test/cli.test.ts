// The CLI as a user runs it: the built bin, real files, exit codes, one-line errors.
import { describe, expect, it, beforeAll } from 'vitest';
import { join } from 'node:path';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { cli, makeClip, root, tmp } from './helpers.js';

describe('tds CLI', () => {
  let dir: string;
  let clip: string;
  beforeAll(() => {
    dir = tmp();
    clip = makeClip(join(dir, 'c.mp4'), { w: 64, h: 48, fps: 25, seconds: 2 });
  });

  it("probe --json prints one view's geometry", () => {
    const r = cli(['probe', clip, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      width: 64,
      height: 48,
      fps: 25,
      frames: 50,
      durationMs: 2000,
      codec: 'h264',
    });
    const s = cli(['probe', clip, '--stereo', 'sbs', '--json']);
    expect(JSON.parse(s.stdout).width).toBe(32);
  });

  it('npx tds prints nothing from npm: --help, and probe --json is JSON alone on stdout with an empty stderr', () => {
    const run = (args: string[]) =>
      spawnSync('npx', ['--no-install', 'tds', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    const h = run(['--help']);
    expect(h.status).toBe(0);
    expect(h.stderr).toBe('');
    expect(h.stdout).toMatch(/^Usage: tds/);
    const p = run(['probe', clip, '--json']);
    expect(p.status).toBe(0);
    expect(p.stderr).toBe('');
    expect(JSON.parse(p.stdout)).toMatchObject({ width: 64, height: 48 });
    // The reason it stays quiet: no .npmrc key npm warns about (allowScripts keeps onnxruntime-node's download off).
    expect(existsSync(join(root, '.npmrc'))).toBe(false);
  });

  it('extract writes left_frames/frame000.png... at the asked rate', () => {
    const out = join(dir, 'ex');
    const r = cli(['extract', clip, '--out', out, '--rate', '1hz', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ frames: 2, width: 64, height: 48, stereo: false });
    expect(readdirSync(join(out, 'left_frames'))).toEqual(['frame000.png', 'frame001.png']);
  });

  it('extract with --stereo sbs writes right_frames too', () => {
    const out = join(dir, 'ex2');
    const r = cli(['extract', clip, '--out', out, '--rate', '2', '--stereo', 'sbs']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/extracted 4 stereo frame\(s\) of 32x48/);
    expect(readdirSync(join(out, 'right_frames'))).toHaveLength(4);
  });

  it('synth then prepare, with a summary of unknown colours', () => {
    const raw = join(dir, 'raw');
    const s = cli([
      'synth',
      '--out',
      raw,
      '--sequences',
      '2',
      '--frames',
      '2',
      '--seed',
      '3',
      '--size',
      '64x48',
      '--json',
    ]);
    expect(s.code).toBe(0);
    expect(Object.keys(JSON.parse(s.stdout).sequences)).toEqual(['seq_1', 'seq_2']);
    const p = cli(['prepare', '--input', raw, '--out', join(dir, 'prep')]);
    expect(p.code).toBe(0);
    expect(p.stdout).toContain('prepared 4 frame(s) in 2 sequence(s)');
    expect(p.stdout).toContain('unknown label values: none');
    expect(readdirSync(join(dir, 'prep', 'seq_2', 'masks'))).toEqual(['frame000.png', 'frame001.png']);
  });

  it.each([
    [['probe', 'no-such.mp4'], /^tds: input not found: no-such\.mp4 \(fix: /],
    [['extract', 'CLIP', '--out', 'OUT', '--rate', 'fast'], /^tds: unknown --rate value "fast"/],
    [['extract', 'CLIP', '--out', 'FILE'], /^tds: output .* is a file, not a folder/],
    [['synth', '--out', 'OUT', '--size', '33x32'], /^tds: --size must have even width and height/],
    [['prepare', '--input', 'CLIP', '--out', 'OUT'], /^tds: .* is a file, not a frame folder/],
    [['prepare', '--input', 'OUT', '--out', 'OUT2', '--dataset', 'kvasir'], /^tds: unknown dataset "kvasir"/],
  ])('bad input %j exits 1 with one line and no stack', (args, msg) => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const a = args.map((x) =>
      x === 'CLIP' ? clip : x === 'OUT' ? join(dir, 'o1') : x === 'OUT2' ? join(dir, 'o2') : x === 'FILE' ? file : x,
    );
    const r = cli(a);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, 'o2'))).toBe(false);
  });

  it('--verbose adds the stack trace', () => {
    const r = cli(['--verbose', 'probe', 'no-such.mp4']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it('demo (npm start) processes a generated stereo clip with the demo model and scores it', () => {
    const out = join(dir, 'demo');
    const r = cli(['demo', '--out', out, '--frames', '6', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ frames: 6, out: join(out, 'process') });
    expect(s.challengeIoU).toBeGreaterThan(0.5);
    expect(readdirSync(join(out, 'process', 'masks'))).toHaveLength(6);
    expect(readdirSync(join(out, 'process')).sort()).toEqual([
      'color',
      'labels.ndjson',
      'masks',
      'overlay.mp4',
      'run.json',
    ]);
  });
});
