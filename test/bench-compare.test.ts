// Two benchmark runs side by side: which figures are ratios, how far each moved, and the CLI's exit code.
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareRuns, comparisonMarkdown, isRatio, reportMarkdown } from '../src/bench/compare.js';
import type { BenchReport } from '../src/bench/run.js';
import { cli, tmp } from './helpers.js';

const machine = { cpu: 'x', cores: 2, memGiB: 24, node: 'v20', platform: 'linux-x64' };
const run1: BenchReport = {
  machine,
  results: [
    { name: 'pipeline.batch.fast.fps', value: 13.1, unit: 'fps', min: 13.1, max: 13.3, repeats: 3 },
    { name: 'pipeline.ratio.batch-vs-engine', value: 0.29, unit: 'fraction', min: 0.28, max: 0.29, repeats: 3 },
    { name: 'train.ratio.cpu-vs-wasm.fast', value: 34.3, unit: 'x' },
    { name: 'ws.fanout.50clients.delivered.fraction', value: 0.991, unit: 'fraction (worst fast client)' },
    { name: 'live.dropped.fraction', value: 0, unit: 'fraction' },
    { name: 'only.in.one', value: 1, unit: 'ms' },
  ],
};
const run2: BenchReport = {
  machine,
  results: [
    { name: 'pipeline.batch.fast.fps', value: 9.0, unit: 'fps' },
    { name: 'pipeline.ratio.batch-vs-engine', value: 0.31, unit: 'fraction' },
    { name: 'train.ratio.cpu-vs-wasm.fast', value: 39.0, unit: 'x' },
    { name: 'ws.fanout.50clients.delivered.fraction', value: 1, unit: 'fraction' },
    { name: 'live.dropped.fraction', value: 0.01, unit: 'fraction' },
  ],
};

describe('tds bench --compare', () => {
  it('judges ratios only: a ratio that moved 13.7% is outside 10%, an fps that moved 31% is only shown', () => {
    expect(isRatio('engine.ratio.ort-vs-wasm.fast')).toBe(true);
    expect(isRatio('ws.fanout.50clients.delivered.fraction')).toBe(true);
    expect(isRatio('live.dropped.fraction')).toBe(false);
    expect(isRatio('pipeline.batch.fast.fps')).toBe(false);
    const c = compareRuns(run1, run2, 0.1);
    expect(c.rows.map((r) => r.name)).toEqual(run2.results.map((r) => r.name));
    expect(c.unmatched).toEqual(['only.in.one']);
    const by = Object.fromEntries(c.rows.map((r) => [r.name, r.change]));
    expect(by['pipeline.ratio.batch-vs-engine']).toBeCloseTo(0.02 / 0.29, 6);
    expect(by['train.ratio.cpu-vs-wasm.fast']).toBeCloseTo(4.7 / 34.3, 6);
    expect(by['live.dropped.fraction']).toBeNaN(); // from 0: no relative change
    expect(c.outside.map((r) => r.name)).toEqual(['train.ratio.cpu-vs-wasm.fast']);
    expect(compareRuns(run1, run2, 0.15).outside).toEqual([]);
    const md = comparisonMarkdown(c);
    // Ratios first, the moved one in bold, spreads kept, and the verdict on the last line.
    expect(md.split('\n')[2]).toContain('pipeline.ratio.batch-vs-engine');
    expect(md).toContain('| 13.1 (13.1-13.3) | 9 | −31.3% |');
    expect(md).toContain('**+13.7%**');
    expect(md.split('\n').at(-1)).toBe('1 of 3 ratios moved more than 10%: train.ratio.cpu-vs-wasm.fast');
    expect(reportMarkdown(run1)).toContain('| `pipeline.batch.fast.fps` | 13.1 | 13.1-13.3 (3) | fps |');
  });

  it('the CLI exits 1 when a ratio moved too far, 0 when not, and names a file that is not a run', () => {
    const dir = tmp();
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    writeFileSync(a, JSON.stringify(run1));
    writeFileSync(b, JSON.stringify(run2));
    const moved = cli(['bench', '--compare', a, b]);
    expect(moved.code).toBe(1);
    expect(moved.stdout).toContain('1 of 3 ratios moved more than 10%');
    const held = cli(['bench', '--compare', a, b, '--tolerance', '0.2']);
    expect(held.code).toBe(0);
    expect(held.stdout).toContain('all 3 ratios within 20%');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"machine": {}}');
    const r = cli(['bench', '--compare', a, bad]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${bad} is not a benchmark run`);
  });
});
