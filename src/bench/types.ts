// What every bench module takes and returns (apart from the runner, so the modules never import it back).

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
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  const med = s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  return s.length > 1
    ? { name, value: round(med), unit, min: round(s[0]), max: round(s[s.length - 1]), repeats: s.length }
    : { name, value: round(med), unit };
}

export interface BenchOptions {
  quick: boolean;
  only?: string;
  /** Length of the live run (memory over time); default 8 s quick, 20 s full. */
  soakSeconds?: number;
}
