// Config files with `extends`: merge rules, the shipped demo.yaml, and the errors of a broken chain.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { deepMerge, readConfigFile } from '../../src/ingest/config-file.js';
import { loadRunConfig } from '../../src/train/config.js';
import { root, tmp } from '../helpers.js';

describe('readConfigFile', () => {
  it('objects merge key by key, lists and values replace', () => {
    expect(deepMerge({ a: 1, o: { x: 1, y: [1, 2], z: { k: 1 } } }, { o: { y: [3], z: { j: 2 } }, b: 2 })).toEqual({
      a: 1,
      b: 2,
      o: { x: 1, y: [3], z: { k: 1, j: 2 } },
    });
  });

  it('demo.yaml says only what differs from robot18.yaml: same classes, colours and scenes, its own recipe', () => {
    const demo = loadRunConfig(join(root, 'configs', 'demo.yaml'));
    const robot = loadRunConfig(join(root, 'configs', 'robot18.yaml'));
    expect(demo.palette.classes).toEqual(robot.palette.classes);
    expect(demo.palette.scenes).toEqual(robot.palette.scenes);
    expect(demo.palette.dataset).toBe('robot18-synth');
    expect([demo.train.seed, demo.train.validation.sequences, demo.train.stages.map((s) => s.untilEpoch)]).toEqual([
      7,
      [93, 94, 95, 96],
      [14, 18, 22, 26],
    ]);
  });

  it('a chain in a sub-folder resolves relative to each file; circles and missing parents are named', () => {
    const dir = tmp();
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'base.yaml'), 'dataset: base\ntrain:\n  seed: 1\n  size: [64, 64]\n');
    writeFileSync(join(dir, 'sub', 'child.yaml'), 'extends: ../base.yaml\ntrain:\n  seed: 2\n');
    expect(readConfigFile(join(dir, 'sub', 'child.yaml'))).toEqual({
      dataset: 'base',
      train: { seed: 2, size: [64, 64] },
    });
    writeFileSync(join(dir, 'a.yaml'), 'extends: b.yaml\n');
    writeFileSync(join(dir, 'b.yaml'), 'extends: a.yaml\n');
    expect(() => readConfigFile(join(dir, 'a.yaml'))).toThrow(/extends goes in a circle/);
    writeFileSync(join(dir, 'lost.yaml'), 'extends: nowhere.yaml\n');
    expect(() => readConfigFile(join(dir, 'lost.yaml'))).toThrow(
      /config not found: .*nowhere\.yaml \(extended by .*lost\.yaml\)/,
    );
    writeFileSync(join(dir, 'num.yaml'), 'extends: 3\n');
    expect(() => readConfigFile(join(dir, 'num.yaml'))).toThrow(/extends must be a file name/);
  });
});
