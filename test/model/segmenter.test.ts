import { describe, expect, it, beforeAll } from 'vitest';
import { join } from 'node:path';
import { tf } from '../../src/model/tf.js';
import { initModel } from '../../src/model/init.js';
import { createSegmenter } from '../../src/model/segmenter.js';
import { useBackend } from '../../src/model/backend.js';
import { loadPalette } from '../../src/ingest/palette.js';
import { synthSequence } from '../../src/ingest/synth.js';
import { root, tmp } from '../helpers.js';

const robot = loadPalette(join(root, 'configs', 'robot18.yaml'));
let dir: string;

beforeAll(async () => {
  dir = join(tmp(), 'fast');
  await useBackend('cpu');
  await initModel(dir, { profile: 'fast', palette: robot, height: 128, width: 160 });
});

describe('createSegmenter (tfjs engine)', () => {
  const frame = synthSequence({ seed: 1, seq: 1, width: 320, height: 256 }).render(0);

  it.each(['wasm', 'cpu'] as const)('segments a synthetic frame on %s and says which backend ran', async (backend) => {
    const seg = await createSegmenter(dir, { engine: 'tfjs', backend });
    try {
      expect(seg.info).toMatchObject({
        engine: 'tfjs',
        backend,
        profile: 'fast',
        inputSize: { height: 128, width: 160 },
      });
      const r = await seg.segmentImage(frame.left);
      expect(r).toMatchObject({ width: 160, height: 128, numClasses: 12 });
      expect(r.probs.length).toBe(128 * 160 * 12);
      let sum = 0;
      for (let c = 0; c < 12; c++) sum += r.probs[c];
      expect(sum).toBeCloseTo(1, 4);
      expect(r.presence).toHaveLength(12);
      for (const p of r.presence) expect(p > 0 && p < 1).toBe(true);
      expect(r.scene.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    } finally {
      seg.dispose();
    }
  });

  it('wasm and cpu agree on the same weights and input', async () => {
    const a = await createSegmenter(dir, { engine: 'tfjs', backend: 'wasm' });
    const ra = await a.segmentImage(frame.left);
    a.dispose();
    const b = await createSegmenter(dir, { engine: 'tfjs', backend: 'cpu' });
    const rb = await b.segmentImage(frame.left);
    b.dispose();
    let max = 0;
    for (let i = 0; i < ra.probs.length; i++) max = Math.max(max, Math.abs(ra.probs[i] - rb.probs[i]));
    expect(max).toBeLessThan(1e-4);
  });

  it('tensor count is the same after 100 frames as after 1', async () => {
    const seg = await createSegmenter(dir, { engine: 'tfjs', backend: 'wasm' });
    try {
      const f = { index: 0, ptsMs: 0, left: frame.left };
      await seg.segmentFrame(f, 0);
      const after1 = tf.memory().numTensors;
      for (let i = 1; i < 100; i++) await seg.segmentFrame({ ...f, index: i }, i * 40);
      expect(tf.memory().numTensors).toBe(after1);
    } finally {
      seg.dispose();
    }
  });

  it('rejects non-increasing timestamps, wrong channel counts, and an absent tensorflow backend', async () => {
    const seg = await createSegmenter(dir, { engine: 'tfjs', backend: 'cpu' });
    try {
      await seg.segmentFrame({ index: 0, ptsMs: 40, left: frame.left });
      await expect(seg.segmentFrame({ index: 1, ptsMs: 40, left: frame.left })).rejects.toThrow(
        /frame 1: timestamp 40 ms does not increase/,
      );
      const grey = { data: Buffer.alloc(320 * 256), width: 320, height: 256, channels: 1 };
      await expect(seg.segmentImage(grey)).rejects.toThrow(/has 1 channel\(s\); the model needs RGB \(3\)/);
    } finally {
      seg.dispose();
    }
    await expect(createSegmenter(dir, { engine: 'tfjs', backend: 'tensorflow' })).rejects.toThrow(
      /backend tensorflow needs @tensorflow\/tfjs-node-gpu or @tensorflow\/tfjs-node/,
    );
    await expect(createSegmenter(dir, { engine: 'tfjs', size: { height: 100, width: 160 } })).rejects.toThrow(
      /multiples of 32/,
    );
  });
});
