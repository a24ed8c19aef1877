import { describe, expect, it, beforeAll } from 'vitest';
import { join } from 'node:path';
import { mkdirSync, readdirSync } from 'node:fs';
import { scanFolder, folderFrames } from '../../src/ingest/folders.js';

/** All frames of a folder, in order. */
async function readAll(dir: string) {
  const out = [];
  for await (const f of folderFrames(dir)) out.push(f);
  return out;
}
import { writeSynthDataset } from '../../src/ingest/synth-write.js';
import { prepareDataset } from '../../src/ingest/prepare.js';
import { loadPalette } from '../../src/ingest/palette.js';
import { readIndexMask } from '../../src/ingest/label-file.js';
import { readRaw, writePng } from '../../src/ingest/image-io.js';
import { synthSequence } from '../../src/ingest/synth.js';
import { TdsError } from '../../src/errors.js';
import { root, tmp } from '../helpers.js';

const robot = loadPalette(join(root, 'configs', 'robot18.yaml'));

describe('frame folders and prepare', () => {
  let raw: string;
  beforeAll(async () => {
    raw = tmp();
    await writeSynthDataset(raw, robot, { sequences: 2, frames: 2, seed: 4, width: 48, height: 32 });
  });

  it('reads ROBOT18 stereo frames in order with names and sequences', async () => {
    const f = await readAll(raw);
    expect(f.map((x) => `${x.sequence}/${x.name}`)).toEqual([
      'seq_1/frame000',
      'seq_1/frame001',
      'seq_2/frame000',
      'seq_2/frame001',
    ]);
    expect(f[1].ptsMs).toBe(1000);
    const direct = synthSequence({ seed: 4, seq: 2, width: 48, height: 32 }).render(1);
    expect(f[3].left.data.equals(direct.left.data)).toBe(true);
    expect(f[3].right!.data.equals(direct.right.data)).toBe(true);
  });

  it('a plain folder of images, in natural order', async () => {
    const d = tmp();
    for (const n of [10, 2, 1])
      await writePng(join(d, `img${n}.png`), { data: Buffer.alloc(4 * 4 * 3, n), width: 4, height: 4, channels: 3 });
    const ds = scanFolder(d);
    expect(ds.layout).toBe('images');
    expect(ds.sequences[0].frames.map((f) => f.name)).toEqual(['img1', 'img2', 'img10']);
    const f = await readAll(d);
    expect(f.map((x) => x.left.data[0])).toEqual([1, 2, 10]);
  });

  it('prepare writes images and 8-bit index masks equal to the generator labels', async () => {
    const out = tmp();
    const s = await prepareDataset(raw, out, robot);
    expect(s).toMatchObject({ sequences: 2, frames: 4, unlabelled: 0, unknownPixels: 0 });
    expect(scanFolder(out).layout).toBe('prepared');
    const m = await readRaw(join(out, 'seq_2', 'masks', 'frame001.png'));
    expect(m.channels).toBe(1);
    const mask = await readIndexMask(join(out, 'seq_2', 'masks', 'frame001.png'), 12);
    expect(
      Buffer.from(mask).equals(Buffer.from(synthSequence({ seed: 4, seq: 2, width: 48, height: 32 }).render(1).labels)),
    ).toBe(true);
  });

  it('prepare with --crop crops frames and masks alike', async () => {
    const out = tmp();
    await prepareDataset(raw, out, robot, { crop: { x: 8, y: 4, w: 16, h: 8 } });
    const img = await readRaw(join(out, 'seq_1', 'images', 'frame000.png'));
    expect(img).toMatchObject({ width: 16, height: 8 });
    const full = synthSequence({ seed: 4, seq: 1, width: 48, height: 32 }).render(0).labels;
    const mask = await readIndexMask(join(out, 'seq_1', 'masks', 'frame000.png'), 12);
    expect(mask[0]).toBe(full[4 * 48 + 8]);
    expect(mask[8 * 16 - 1]).toBe(full[11 * 48 + 23]);
  });

  it('a label whose size differs from its frame is refused, naming both files', async () => {
    const d = tmp();
    await writeSynthDataset(d, robot, { sequences: 1, frames: 1, seed: 4, width: 48, height: 32 });
    await writePng(join(d, 'seq_1', 'labels', 'frame000.png'), {
      data: Buffer.alloc(40 * 32 * 3),
      width: 40,
      height: 32,
      channels: 3,
    });
    const out = tmp();
    const e = await prepareDataset(d, out, robot).catch((x) => x);
    expect(e).toBeInstanceOf(TdsError);
    expect(e.message).toMatch(
      /label .*labels\/frame000\.png is 40x32 but its frame .*left_frames\/frame000\.png is 48x32/,
    );
    expect(readdirSync(out)).toEqual([]);
  });

  it('labels with too many unknown colours abort with counts', async () => {
    const d = tmp();
    await writeSynthDataset(d, robot, { sequences: 1, frames: 1, seed: 4, width: 48, height: 32 });
    await writePng(join(d, 'seq_1', 'labels', 'frame000.png'), {
      data: Buffer.alloc(48 * 32 * 3, 77),
      width: 48,
      height: 32,
      channels: 3,
    });
    const e = await prepareDataset(d, tmp(), robot).catch((x) => x);
    expect(e.code).toBe('BAD_LABEL');
    expect(e.message).toContain('(77,77,77) x 1536');
  });

  it('an empty folder has no frames', async () => {
    const d = tmp();
    mkdirSync(join(d, 'empty'));
    await expect(readAll(join(d, 'empty'))).rejects.toThrow(/no frames found/);
  });
});
