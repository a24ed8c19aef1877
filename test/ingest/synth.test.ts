import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync, readdirSync } from 'node:fs';
import { synthSequence } from '../../src/ingest/synth.js';
import { writeSynthDataset } from '../../src/ingest/synth-write.js';
import { loadPalette } from '../../src/ingest/palette.js';
import { scanFolder } from '../../src/ingest/folders.js';
import { readLabel } from '../../src/ingest/label-file.js';
import { probeVideo } from '../../src/ingest/probe.js';
import { root, tmp } from '../helpers.js';

const robot = loadPalette(join(root, 'configs', 'robot18.yaml'));

describe('synthetic surgical scenes', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = synthSequence({ seed: 5, seq: 1, width: 64, height: 48 }).render(3);
    const b = synthSequence({ seed: 5, seq: 1, width: 64, height: 48 }).render(3);
    const c = synthSequence({ seed: 6, seq: 1, width: 64, height: 48 }).render(3);
    expect(a.left.data.equals(b.left.data)).toBe(true);
    expect(a.right.data.equals(b.right.data)).toBe(true);
    expect(Buffer.from(a.labels).equals(Buffer.from(b.labels))).toBe(true);
    expect(a.left.data.equals(c.left.data)).toBe(false);
  });

  it('moves from frame to frame, and the right view is a shifted rendering', () => {
    const s = synthSequence({ seed: 3, seq: 2, width: 160, height: 128 });
    const f0 = s.render(0);
    const f1 = s.render(1);
    let changed = 0;
    for (let i = 0; i < f0.labels.length; i++) if (f0.labels[i] !== f1.labels[i]) changed++;
    expect(changed).toBeGreaterThan(20);
    expect(f0.left.data.equals(f0.right.data)).toBe(false);
  });

  it('covers instrument parts in every sequence, scene-dependent structures, and every scene', () => {
    const counts = new Array(12).fill(0);
    const scenes = new Set<number>();
    for (let seq = 1; seq <= 12; seq++) {
      const s = synthSequence({ seed: 11, seq, width: 160, height: 128 });
      scenes.add(s.scene);
      const present = new Set(s.render(0).labels);
      for (const c of [1, 2, 3]) expect(present.has(c)).toBe(true);
      for (const c of present) counts[c]++;
    }
    expect([...scenes].sort()).toEqual([0, 1, 2]);
    // Organs and small structures appear in some sequences but not all: the model must look.
    for (const c of [4, 5, 6, 7]) expect(counts[c]).toBeGreaterThan(0);
    expect(counts[6]).toBeLessThan(12);
  });

  it('writes the ROBOT18 layout with exact colour labels, scenes.json and a side-by-side stereo video', async () => {
    const out = tmp();
    const s = await writeSynthDataset(out, robot, {
      sequences: 2,
      frames: 3,
      seed: 9,
      width: 64,
      height: 48,
      video: true,
    });
    expect(readdirSync(join(out, 'seq_1')).sort()).toEqual(['labels', 'left_frames', 'right_frames', 'video.mp4']);
    const scenes = JSON.parse(readFileSync(join(out, 'scenes.json'), 'utf8'));
    expect(Object.keys(scenes.sequences)).toEqual(['seq_1', 'seq_2']);
    expect(scenes.sequences.seq_1.scene).toBe(s.sequences.seq_1.scene);
    const ds = scanFolder(out);
    expect(ds.layout).toBe('robot18');
    expect(ds.sequences[0].frames.map((f) => f.name)).toEqual(['frame000', 'frame001', 'frame002']);
    const direct = synthSequence({ seed: 9, seq: 1, width: 64, height: 48 }).render(2);
    const lab = await readLabel(ds.sequences[0].frames[2].label!, robot);
    expect(lab.unknownPixels).toBe(0);
    expect(Buffer.from(lab.labels).equals(Buffer.from(direct.labels))).toBe(true);
    expect(await probeVideo(join(out, 'seq_1', 'video.mp4'), { stereo: 'sbs' })).toMatchObject({
      width: 64,
      height: 48,
      frames: 3,
      codec: 'h264',
    });
  });
});
