// Two benchmark runs side by side (`tds bench --compare A.json B.json`): how much each figure moved between them,
// and whether every ratio stayed within a tolerance. A ratio compares two figures of the same run (A against B on
// the same machine in the same minute), so it is what should hold still between runs; absolute figures follow
// the machine's hour and are shown for reading, not judged.
import type { BenchReport } from './run.js';
import type { BenchResult } from './types.js';

export interface CompareRow {
  name: string;
  unit: string;
  a: BenchResult;
  b: BenchResult;
  /** (b - a) / a; NaN where a is 0. */
  change: number;
  ratio: boolean;
}

export interface Comparison {
  rows: CompareRow[];
  tolerance: number;
  /** Ratios that moved more than the tolerance (or could not be compared: a is 0). */
  outside: CompareRow[];
  /** Figures in one run only. */
  unmatched: string[];
}

/** A figure that compares two measurements of the same run: `*.ratio.*` and the fan-out's delivered fraction. */
export function isRatio(name: string): boolean {
  return name.includes('.ratio.') || /^ws\.fanout\..*\.fraction$/.test(name);
}

export function compareRuns(a: BenchReport, b: BenchReport, tolerance = 0.1): Comparison {
  const bs = new Map(b.results.map((r) => [r.name, r]));
  const rows: CompareRow[] = [];
  for (const ra of a.results) {
    const rb = bs.get(ra.name);
    if (!rb) continue;
    const change = ra.value === 0 ? (rb.value === 0 ? 0 : NaN) : (rb.value - ra.value) / Math.abs(ra.value);
    rows.push({ name: ra.name, unit: ra.unit, a: ra, b: rb, change, ratio: isRatio(ra.name) });
  }
  const names = new Set(rows.map((r) => r.name));
  const unmatched = [...a.results, ...b.results].map((r) => r.name).filter((n) => !names.has(n));
  return {
    rows,
    tolerance,
    outside: rows.filter((r) => r.ratio && !(Math.abs(r.change) <= tolerance)),
    unmatched: [...new Set(unmatched)],
  };
}

const fig = (r: BenchResult) => `${r.value}${r.min !== undefined ? ` (${r.min}-${r.max})` : ''}`;
const pct = (c: number) => (Number.isFinite(c) ? `${c >= 0 ? '+' : '−'}${Math.abs(c * 100).toFixed(1)}%` : 'n/a');

/** A markdown table of the comparison (ratios first), with a last line that says whether the ratios held. */
export function comparisonMarkdown(c: Comparison): string {
  const order = [...c.rows.filter((r) => r.ratio), ...c.rows.filter((r) => !r.ratio)];
  const lines = ['| figure | unit | run 1 (min-max) | run 2 (min-max) | change |', '|---|---|---|---|---|'];
  for (const r of order) {
    const change = pct(r.change);
    const flagged = r.ratio && c.outside.includes(r);
    lines.push(
      `| \`${r.name}\`${r.ratio ? ' (ratio)' : ''} | ${r.unit.split(' ')[0]} | ${fig(r.a)} | ${fig(r.b)} | ${flagged ? `**${change}**` : change} |`,
    );
  }
  const nRatios = c.rows.filter((r) => r.ratio).length;
  lines.push(
    '',
    c.outside.length
      ? `${c.outside.length} of ${nRatios} ratios moved more than ${c.tolerance * 100}%: ${c.outside.map((r) => r.name).join(', ')}`
      : `all ${nRatios} ratios within ${c.tolerance * 100}%`,
  );
  return lines.join('\n');
}

/** One run as a markdown table: each figure with its spread over repeats where it has one. */
export function reportMarkdown(r: BenchReport): string {
  const lines = ['| result | value | min-max (repeats) | unit |', '|---|---|---|---|'];
  for (const x of r.results)
    lines.push(
      `| \`${x.name}\` | ${x.value} | ${x.min !== undefined ? `${x.min}-${x.max} (${x.repeats})` : ''} | ${x.unit} |`,
    );
  return lines.join('\n');
}
