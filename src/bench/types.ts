// What every bench module takes and returns (apart from the runner, so the modules never import it back).

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
}

export interface BenchOptions {
  quick: boolean;
  only?: string;
  /** Length of the live run (memory over time); default 8 s quick, 20 s full. */
  soakSeconds?: number;
}
