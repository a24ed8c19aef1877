// What every bench module takes and returns (apart from the runner, so the modules never import it back).
import { median } from '../median.js';

export interface BenchResult {
  name: string;
  /** The median over repeats (or the single measurement). */
  value: number;
  unit: string;
  /** Spread of the repeats the median is taken over (same unit), when there were several. */
  min?: number;
  max?: number;
  repeats?: number;
}

/** A figure from repeated measurements: the median, with the min-max spread. */
export function spread(
  name: string,
  xs: number[],
  unit: string,
  round: (v: number) => number = (v) => Math.round(v * 10) / 10,
): BenchResult {
  const med = median(xs);
  return xs.length > 1
    ? { name, value: round(med), unit, min: round(Math.min(...xs)), max: round(Math.max(...xs)), repeats: xs.length }
    : { name, value: round(med), unit };
}

export interface BenchOptions {
  quick: boolean;
  only?: string;
  /** Length of the live run (memory over time); default 8 s quick, 20 s full. */
  soakSeconds?: number;
}
