// The fault tier, command line: bad inputs, bad options, broken models and configs, unwritable or full outputs,
// interrupted and concurrent runs, against the built CLI. Each case asserts what a user needs: a one-line typed
// error naming the file or field with the fix, a non-zero exit, no stack trace, no hang, no damaged or partial
// outputs (earlier outputs intact), and no ffmpeg left running.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  truncateSync,
  writeFileSync,
  symlinkSync,
} from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import sharp from 'sharp';
import { makeClip, ffmpeg, root, tmp, waitUntil } from '../helpers.js';
import { expectFault, ffmpegPids, filesUnder, orphanFfmpegPids, tds, tdsBg } from './helpers.js';

let d: string;
let clip: string;
let model: string;
const pidsBefore = new Set<number>();

const sha = (p: string) => execFileSync('sha256sum', [p], { encoding: 'utf8' }).split(' ')[0];

beforeAll(async () => {
  ffmpegPids().forEach((p) => pidsBefore.add(p));
  d = tmp('tds-faults-');
  clip = makeClip(join(d, 'clip.mp4'), { w: 160, h: 128, fps: 25, seconds: 1 });
  // Odd sizes need an RGB codec (yuv420p rounds them to even).
  ffmpeg([
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=162x128:rate=25:duration=1,format=rgb24,crop=161:128:0:0',
    '-c:v',
    'ffv1',
    '-pix_fmt',
    'bgr0',
    join(d, 'odd-w.mkv'),
  ]);
  ffmpeg([
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=160x130:rate=25:duration=1,format=rgb24,crop=160:129:0:0',
    '-c:v',
    'ffv1',
    '-pix_fmt',
    'bgr0',
    join(d, 'odd-h.mkv'),
  ]);
  makeClip(join(d, 'small.mp4'), { w: 128, h: 96, fps: 25, seconds: 1 });
  writeFileSync(join(d, 'zero.mp4'), '');
  writeFileSync(join(d, 'text.mp4'), 'this is not a video\n');
  // moov at the end (x264's default): cutting the file loses the index.
  const whole = readFileSync(clip);
  writeFileSync(join(d, 'moov-cut.mp4'), whole.subarray(0, Math.floor(whole.length * 0.6)));
  // moov first (+faststart): cutting the file loses the last frames only.
  ffmpeg(['-i', clip, '-c', 'copy', '-movflags', '+faststart', join(d, 'fast.mp4')]);
  const fast = readFileSync(join(d, 'fast.mp4'));
  writeFileSync(join(d, 'cut-mid.mp4'), fast.subarray(0, Math.floor(fast.length * 0.5)));
  model = join(d, 'model');
  cpSync(join(root, 'models', 'demo'), model, { recursive: true });
});

afterAll(() => {
  // No ffmpeg or ffprobe started by these cases is still running: none new whose tds has gone (other test files'
  // ffmpegs, running meanwhile under their own node processes, are not these cases').
  expect(orphanFfmpegPids().filter((p) => !pidsBefore.has(p))).toEqual([]);
});

const out = () => join(tmp('tds-fault-out-'), 'out');

describe('fault tier: bad video input', () => {
  it.each([
    ['a missing file', () => join(d, 'nope.mp4'), /nope\.mp4/],
    ['a zero-byte file', () => join(d, 'zero.mp4'), /zero\.mp4/],
    ['a text file named .mp4', () => join(d, 'text.mp4'), /text\.mp4/],
    ['an mp4 whose moov atom is cut off', () => join(d, 'moov-cut.mp4'), /moov-cut\.mp4/],
  ])('%s: a one-line error naming it, nothing written', (_n, input, names) => {
    const o = out();
    expectFault(tds(['process', input(), '--model', model, '--out', o]), names);
    expect(existsSync(join(o, 'masks'))).toBe(false);
  });

  it('a file cut mid-way: the frames before the cut are written whole, the error says where it broke', () => {
    const o = out();
    const msg = expectFault(tds(['process', join(d, 'cut-mid.mp4'), '--model', model, '--out', o]), /cut-mid\.mp4/);
    expect(msg).toMatch(/frame\(s\) were written/);
    const masks = readdirSync(join(o, 'masks'));
    expect(masks.length).toBeGreaterThan(0);
    expect(masks.length).toBeLessThan(25);
    expect(readFileSync(join(o, 'labels.ndjson'), 'utf8').trim().split('\n')).toHaveLength(masks.length);
    expect(masks.some((m) => m.endsWith('.tmp'))).toBe(false);
  });

  it.each([
    ['an odd width with --stereo sbs', ['odd-w.mkv', '--stereo', 'sbs'], /odd-w\.mkv.*width/],
    ['an odd height with --stereo tb', ['odd-h.mkv', '--stereo', 'tb'], /odd-h\.mkv.*height/],
    ['a --right file of another size', ['clip.mp4', '--right', 'small.mp4'], /small\.mp4/],
    [
      '--right together with --stereo sbs',
      ['clip.mp4', '--right', 'clip.mp4', '--stereo', 'sbs'],
      /--right .*--stereo sbs/,
    ],
  ])('%s', (_n, [file, ...rest], names) => {
    expectFault(tds(['process', join(d, file), ...rest, '--model', model, '--out', out()]), names);
  });
});

describe('fault tier: bad options', () => {
  it.each([
    [['--rate', '0'], /--rate/],
    [['--rate', '-5'], /--rate/],
    [['--rate', 'fast'], /--rate/],
    [['--rate', '1e9'], /--rate/],
    [['--rate', '100'], /--rate 100 is above .*25 fps/],
    [['--sizes', '100x100'], /--sizes 100x100/],
    [['--sizes', '100000x100000'], /--sizes 100000x100000 is larger than 2048/],
    [['--sizes', '8192x8192'], /--sizes 8192x8192/],
    [['--sizes', 'big'], /--sizes/],
    [['--min-area', '-1'], /--min-area/],
    [['--min-area', '1.5'], /--min-area/],
    [['--engine', 'gpu'], /--engine/],
  ])('process %j', (opts, names) => {
    const o = out();
    expectFault(tds(['process', clip, '--model', model, '--out', o, ...opts]), names);
    expect(existsSync(join(o, 'masks'))).toBe(false);
  });

  it('paths with spaces and unicode work end to end', () => {
    const dir = join(tmp(), 'a folder with spaces — ünïcødé 内視鏡');
    mkdirSync(dir);
    cpSync(clip, join(dir, 'clip é.mp4'));
    const r = tds(['process', join(dir, 'clip é.mp4'), '--model', model, '--out', join(dir, 'out put'), '--rate', '5']);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('tds:'))).toEqual([]);
    expect(r.code).toBe(0);
    expect(readdirSync(join(dir, 'out put', 'masks'))).toHaveLength(5);
  });
});

describe('fault tier: outputs that cannot be written', () => {
  it('--out is a file: refused, the file untouched', () => {
    const f = join(tmp(), 'a-file');
    writeFileSync(f, 'keep me');
    expectFault(tds(['process', clip, '--model', model, '--out', f]), /a-file/);
    expect(readFileSync(f, 'utf8')).toBe('keep me');
  });

  it.each([['/proc/tds-nope/out'], ['/sys/tds-nope'], ['/proc/self/out']])(
    '--out %s fails at once instead of hanging',
    (o) => {
      const r = tds(['process', clip, '--model', model, '--out', o], { timeoutMs: 20_000 });
      expectFault(r, /kernel file system|cannot create/);
      expect(r.ms).toBeLessThan(15_000);
    },
  );

  it('extract --out under /proc fails at once', () => {
    expectFault(tds(['extract', clip, '--out', '/proc/tds-x'], { timeoutMs: 20_000 }), /\/proc/);
  });

  it('a full disk: a clear error, the frames written before are complete PNGs, no temp files', async (ctx) => {
    const mnt = join(tmp(), 'small-disk');
    mkdirSync(mnt);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=48k', 'tmpfs', mnt]);
    if (m.status !== 0) {
      console.log(
        `FULL-DISK CASE NOT RUN: this machine does not allow mounting a small tmpfs (${m.stderr?.toString().trim()})`,
      );
      ctx.skip();
    }
    try {
      const o = join(mnt, 'out');
      expectFault(tds(['process', clip, '--model', model, '--out', o]), /no space left/);
      const masks = readdirSync(join(o, 'masks'));
      expect(masks.filter((f) => f.endsWith('.tmp'))).toEqual([]);
      for (const f of masks)
        await sharp(join(o, 'masks', f), { failOn: 'truncated' })
          .raw()
          .toBuffer();
      for (const f of filesUnder(o)) expect(f.endsWith('.tmp')).toBe(false);
    } finally {
      spawnSync('umount', [mnt]);
    }
  });

  it('export --out a folder or an unwritable path: an error, no temp file left, model.onnx intact', () => {
    const before = sha(join(model, 'model.onnx'));
    const dir = tmp();
    expectFault(tds(['export', model, '--out', dir]), /is a folder/);
    expect(readdirSync(dir)).toEqual([]);
    expectFault(tds(['export', model, '--out', '/proc/tds-model.onnx']), /tds-model\.onnx/);
    expect(sha(join(model, 'model.onnx'))).toBe(before);
  });
});

describe('fault tier: frame folders', () => {
  it('mixed sizes, 16-bit, grey, RGBA and 1x1 PNGs: each frame is segmented at its own size', async () => {
    const dir = join(tmp(), 'frames');
    mkdirSync(dir);
    const rgb = (w: number, h: number, ch: 1 | 3 | 4) =>
      sharp(Buffer.alloc(w * h * ch, 90), { raw: { width: w, height: h, channels: ch } });
    await rgb(160, 128, 3).png().toFile(join(dir, 'a.png'));
    await rgb(96, 64, 3).png().toFile(join(dir, 'b.png'));
    await rgb(80, 60, 3).toColourspace('rgb16').png().toFile(join(dir, 'c16.png'));
    await rgb(64, 48, 1).toColourspace('b-w').png().toFile(join(dir, 'd-grey.png'));
    await rgb(70, 50, 4).png().toFile(join(dir, 'e-rgba.png'));
    await rgb(1, 1, 3).png().toFile(join(dir, 'f-1x1.png'));
    const o = out();
    const r = tds(['process', dir, '--model', model, '--out', o]);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('tds:'))).toEqual([]);
    expect(r.code).toBe(0);
    const sizes = await Promise.all(
      ['a', 'b', 'c16', 'd-grey', 'e-rgba', 'f-1x1'].map(async (n) => sharp(join(o, 'masks', `${n}.png`)).metadata()),
    );
    expect(sizes.map((m) => `${m.width}x${m.height}`)).toEqual(['160x128', '96x64', '80x60', '64x48', '70x50', '1x1']);
  });

  it('a non-image named .png: the frames before it are written, the error names it', async () => {
    const dir = join(tmp(), 'frames');
    mkdirSync(dir);
    for (const n of ['f1', 'f2'])
      await sharp(Buffer.alloc(64 * 48 * 3, 100), { raw: { width: 64, height: 48, channels: 3 } })
        .png()
        .toFile(join(dir, `${n}.png`));
    writeFileSync(join(dir, 'f3.png'), 'not a png');
    const o = out();
    expectFault(tds(['process', dir, '--model', model, '--out', o]), /f3\.png/);
    expect(readdirSync(join(o, 'masks')).sort()).toEqual(['f1.png', 'f2.png']);
  });

  it('a huge image is refused before it is decoded', async () => {
    const dir = join(tmp(), 'huge');
    mkdirSync(dir);
    await sharp({ create: { width: 12000, height: 6000, channels: 3, background: '#800' } })
      .png({ compressionLevel: 1 })
      .toFile(join(dir, 'huge.png'));
    expectFault(
      tds(['process', join(dir, 'huge.png'), '--model', model, '--out', out()], { timeoutMs: 30_000 }),
      /huge\.png is 12000x6000/,
    );
  });
});

describe('fault tier: broken models', () => {
  const brokenCopy = () => {
    const m = join(tmp(), 'model');
    cpSync(model, m, { recursive: true });
    return m;
  };

  it('a corrupt weights.bin of the right size is reported and never replaces the good model.onnx', () => {
    const m = brokenCopy();
    const onnx = sha(join(m, 'model.onnx'));
    const size = statSync(join(m, 'weights.bin')).size;
    writeFileSync(join(m, 'weights.bin'), Buffer.alloc(size, 7));
    const o = out();
    expectFault(
      tds(['process', clip, '--model', m, '--out', o]),
      /weights\.bin changed since model\.onnx was exported/,
    );
    expect(sha(join(m, 'model.onnx'))).toBe(onnx);
    expectFault(tds(['process', clip, '--model', m, '--out', out(), '--engine', 'tfjs']), /weights\.bin changed/);
    expect(existsSync(join(o, 'masks'))).toBe(false);
  });

  it('tds export keeps the previous model.onnx as model.onnx.bak', () => {
    const m = brokenCopy();
    const onnx = sha(join(m, 'model.onnx'));
    const r = tds(['export', m]);
    expect(r.code).toBe(0);
    expect(sha(join(m, 'model.onnx.bak'))).toBe(onnx);
  });

  it.each([
    ['tds.json that is not JSON', (m: string) => writeFileSync(join(m, 'tds.json'), '{ not json'), /tds\.json/],
    [
      'tds.json with 5 classes for a 12-class model (ORT)',
      (m: string) => {
        const j = JSON.parse(readFileSync(join(m, 'tds.json'), 'utf8'));
        j.classes = j.classes.slice(0, 5);
        writeFileSync(join(m, 'tds.json'), JSON.stringify(j));
      },
      /outputs 12 classes but tds\.json declares 5/,
    ],
    [
      'a model.onnx of random bytes',
      (m: string) => {
        const j = JSON.parse(readFileSync(join(m, 'tds.json'), 'utf8'));
        delete j.files.tfjs; // an imported model: the ONNX file is the model
        writeFileSync(join(m, 'tds.json'), JSON.stringify(j));
        writeFileSync(
          join(m, 'model.onnx'),
          Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) & 255)),
        );
      },
      /model\.onnx|ONNX/,
    ],
    ['a folder without tds.json', (m: string) => execFileSync('rm', [join(m, 'tds.json')]), /no tds\.json/],
  ])('%s', (_n, breakIt, names) => {
    const m = brokenCopy();
    breakIt(m);
    expectFault(tds(['process', clip, '--model', m, '--out', out()]), names);
  });

  it('tds.json whose class count disagrees with the weights: the tfjs engine and model summary refuse too', () => {
    const m = brokenCopy();
    const j = JSON.parse(readFileSync(join(m, 'tds.json'), 'utf8'));
    j.classes = j.classes.slice(0, 5);
    writeFileSync(join(m, 'tds.json'), JSON.stringify(j));
    expectFault(tds(['process', clip, '--model', m, '--out', out(), '--engine', 'tfjs']), /class|5/);
    expectFault(tds(['model', 'summary', m]), /class|5/);
  });

  it('import-onnx of random bytes', () => {
    const f = join(tmp(), 'random.onnx');
    writeFileSync(f, Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7919) & 255)));
    const o = out();
    expectFault(tds(['import-onnx', f, '--out', o, '--config', 'robot18']), /random\.onnx/);
    expect(existsSync(join(o, 'tds.json'))).toBe(false);
  });

  it('model init over a trained model is refused and the model stays; --overwrite replaces it', () => {
    const m = brokenCopy();
    const before = sha(join(m, 'weights.bin'));
    expectFault(tds(['model', 'init', '--out', m]), /already holds a model/);
    expect(sha(join(m, 'weights.bin'))).toBe(before);
    expect(tds(['model', 'init', '--out', m, '--overwrite']).code).toBe(0);
    expect(sha(join(m, 'weights.bin'))).not.toBe(before);
  });
});

describe('fault tier: bad configs', () => {
  const robot = readFileSync(join(root, 'configs', 'robot18.yaml'), 'utf8');
  it.each([
    ['bad YAML syntax', 'dataset: [unclosed\n', /not valid YAML/],
    ['a wrong type', robot.replace('size: [256, 320]', 'size: big'), /train\.size/],
    ['missing classes', robot.replace(/^classes:[\s\S]*?^scenes:/m, 'scenes:'), /classes/],
    ['an unknown top-level key', robot + '\ntrian: {}\n', /unknown top-level key "trian"/],
    ['a misspelt train key', robot.replace('syncMode: hard', 'syncMod: hard'), /syncMod/],
    ['duplicate palette colours', robot.replace('color: [0, 255, 255]', 'color: [0, 255, 0]'), /share a colour/],
  ])('%s', (_n, yaml, names) => {
    const f = join(tmp(), 'cfg.yaml');
    writeFileSync(f, yaml);
    const o = join(tmp(), 'run');
    expectFault(tds(['train', '--config', f, '--data', d, '--out', o]), names);
    expect(existsSync(join(o, 'state.json'))).toBe(false);
  });
});

describe('fault tier: interrupted and concurrent runs', () => {
  it('SIGKILL mid-run, then --resume: byte-identical to an uninterrupted run', async () => {
    const whole = out();
    expect(tds(['process', clip, '--model', model, '--out', whole]).code).toBe(0);
    const part = out();
    const child = tdsBg(['process', clip, '--model', model, '--out', part]);
    expect(
      await waitUntil(() => existsSync(join(part, 'masks')) && readdirSync(join(part, 'masks')).length >= 5, 60_000),
    ).toBe(true);
    child.kill('SIGKILL');
    await once(child, 'exit');
    const r = tds(['process', clip, '--model', model, '--out', part, '--resume', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).resumedFrames).toBeGreaterThan(0);
    for (const sub of ['masks', 'color'])
      for (const f of readdirSync(join(whole, sub)))
        expect(sha(join(part, sub, f)), `${sub}/${f}`).toBe(sha(join(whole, sub, f)));
    const strip = (p: string) =>
      readFileSync(p, 'utf8')
        .trim()
        .split('\n')
        .map((l) => {
          const j = JSON.parse(l);
          delete j.ms;
          return j;
        });
    expect(strip(join(part, 'labels.ndjson'))).toEqual(strip(join(whole, 'labels.ndjson')));
    expect(filesUnder(part).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 120_000);

  it('SIGINT: says how to resume, exits 130, run.json counts the frames, no temp files; --resume finishes', async () => {
    const o = out();
    const child = tdsBg(['process', clip, '--model', model, '--out', o]);
    let err = '';
    child.stderr!.on('data', (b) => (err += b));
    expect(
      await waitUntil(() => existsSync(join(o, 'masks')) && readdirSync(join(o, 'masks')).length >= 3, 60_000),
    ).toBe(true);
    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    expect(code).toBe(130);
    expect(err).toMatch(/tds: interrupted by SIGINT: \d+ frame\(s\) are complete .*--resume/);
    const run = JSON.parse(readFileSync(join(o, 'run.json'), 'utf8'));
    expect(run.counts.frames).toBeGreaterThan(0);
    expect(run.counts.frames).toBe(readdirSync(join(o, 'masks')).length);
    expect(run.finished).toBe(false);
    expect(filesUnder(o).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(tds(['process', clip, '--model', model, '--out', o, '--resume']).code).toBe(0);
    expect(readdirSync(join(o, 'masks'))).toHaveLength(25);
  }, 120_000);

  it('--resume redoes a truncated mask PNG and removes temp files left behind', async () => {
    const o = out();
    expect(tds(['process', clip, '--model', model, '--out', o]).code).toBe(0);
    const good = sha(join(o, 'masks', 'frame000003.png'));
    truncateSync(join(o, 'masks', 'frame000003.png'), 40);
    writeFileSync(join(o, 'masks', 'frame000009.png.123.abc.tmp'), 'left by a killed run');
    const r = tds(['process', clip, '--model', model, '--out', o, '--resume', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).resumedFrames).toBe(24);
    expect(sha(join(o, 'masks', 'frame000003.png'))).toBe(good);
    expect(existsSync(join(o, 'masks', 'frame000009.png.123.abc.tmp'))).toBe(false);
  });

  it('two runs into one --out at the same moment: one writes, the other is refused', async () => {
    const o = out();
    const a = tdsBg(['process', clip, '--model', model, '--out', o]);
    const b = tdsBg(['process', clip, '--model', model, '--out', o]);
    const errs = ['', ''];
    a.stderr!.on('data', (x) => (errs[0] += x));
    b.stderr!.on('data', (x) => (errs[1] += x));
    const codes = await Promise.all([once(a, 'exit'), once(b, 'exit')]).then((r) => r.map(([c]) => c as number));
    expect(codes.filter((c) => c === 0)).toHaveLength(1);
    const loser = errs[codes.indexOf(codes.find((c) => c !== 0)!)];
    expect(loser).toMatch(/tds: (another tds process \(pid \d+\) is writing to|.* holds the outputs of another run)/);
    expect(readdirSync(join(o, 'masks'))).toHaveLength(25);
    expect(existsSync(join(o, '.tds.lock'))).toBe(false);
  }, 120_000);

  it('a stale lock left by a killed run is taken over', () => {
    const o = out();
    mkdirSync(o, { recursive: true });
    writeFileSync(join(o, '.tds.lock'), '999999');
    expect(tds(['process', clip, '--model', model, '--out', o, '--rate', '5']).code).toBe(0);
  });
});

describe('fault tier: symlinked and odd inputs', () => {
  it('a dangling symlink as input', () => {
    const l = join(tmp(), 'dangling.mp4');
    symlinkSync(join(d, 'gone.mp4'), l);
    expectFault(tds(['process', l, '--model', model, '--out', out()]), /dangling\.mp4/);
  });

  it('probe of a folder names it', () => {
    expectFault(tds(['probe', d]), new RegExp(d.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  });
});
