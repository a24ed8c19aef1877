import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import { loadPalette } from '../../src/ingest/palette.js';
import { indexToColor, indexToGrey, labelToIndex } from '../../src/ingest/labels.js';
import { readRaw, writePng } from '../../src/ingest/image-io.js';
import { root, tmp } from '../helpers.js';

const robot = loadPalette(join(root, 'configs', 'robot18.yaml'));
const parts = loadPalette(join(root, 'configs', 'endovis17-parts.yaml'));

describe('palettes', () => {
  it('robot18 has the 12 challenge classes and 3 official scenes', () => {
    expect(robot.classes).toHaveLength(12);
    expect(robot.classes[3]).toEqual({ id: 3, name: 'instrument-wrist', color: [125, 255, 12] });
    expect(robot.classes[11].color).toEqual([12, 255, 141]);
    expect(robot.scenes.map((s) => s.sequences)).toEqual([
      [1, 2, 4, 5, 7],
      [3, 10, 11, 12, 16],
      [6, 9, 13, 14, 15],
    ]);
  });

  it('colour <-> index round trip is exact for any label map', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 12 }),
        fc.infiniteStream(fc.integer({ min: 0, max: 11 })),
        (w, h, s) => {
          const labels = Uint8Array.from(s.take(w * h));
          const rgb = indexToColor(labels, w, h, robot);
          const back = labelToIndex(rgb, robot);
          expect(back.unknownPixels).toBe(0);
          expect(Array.from(back.labels)).toEqual(Array.from(labels));
        },
      ),
    );
  });

  it('grey <-> index round trip (EndoVis17 parts)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 64 }), (arr) => {
        const labels = Uint8Array.from(arr);
        const grey = indexToGrey(labels, arr.length, 1, parts);
        expect(Array.from(grey.data)).toEqual(arr.map((v) => v * 10));
        expect(Array.from(labelToIndex(grey, parts).labels)).toEqual(arr);
      }),
    );
  });

  it('unknown colours map to background and are counted, never silently', () => {
    const data = Buffer.from([0, 255, 0, 1, 2, 3, 1, 2, 3, 255, 55, 0]);
    const r = labelToIndex({ data, width: 4, height: 1, channels: 3 }, robot);
    expect(Array.from(r.labels)).toEqual([1, 0, 0, 4]);
    expect(r.unknownPixels).toBe(2);
    expect(Object.fromEntries(r.unknownValues)).toEqual({ '1,2,3': 2 });
  });

  it('a colour label PNG survives write and read back', async () => {
    const labels = Uint8Array.from({ length: 40 * 30 }, (_, i) => (i * 7) % 12);
    const p = join(tmp(), 'l.png');
    await writePng(p, indexToColor(labels, 40, 30, robot));
    const img = await readRaw(p);
    expect(img).toMatchObject({ width: 40, height: 30, channels: 3 });
    expect(Array.from(labelToIndex(img, robot).labels)).toEqual(Array.from(labels));
  });
});
