// `tds bench` (npm run bench): the project's benchmark. Prints {machine, results:[{name,value,unit}]} with --json,
// a markdown table with --markdown; `--compare A.json B.json` sets two saved runs side by side.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { TdsError } from '../errors.js';
import type { BenchReport } from '../bench/run.js';

function readReport(path: string): BenchReport {
  let r: unknown;
  try {
    r = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new TdsError(
      'ENOENT_INPUT',
      `cannot read benchmark run ${path}: ${(e as Error).message}`,
      'give the file that `tds bench --json > FILE` wrote',
    );
  }
  if (!r || typeof r !== 'object' || !Array.isArray((r as BenchReport).results))
    throw new TdsError(
      'ENOENT_INPUT',
      `${path} is not a benchmark run (no "results" list)`,
      'give the file that `tds bench --json > FILE` wrote',
    );
  return r as BenchReport;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description("measure the project's benchmark figures on this machine")
    .option('--quick', 'fewer repetitions (under 2 minutes)')
    .option('--only <prefix>', 'only results whose name starts with this')
    .option('--soak <seconds>', 'length of the live run that reports memory over time (e.g. 600)')
    .option('--json', 'print one JSON object')
    .option('--markdown', 'print a markdown table (figure, median, min-max over repeats)')
    .option(
      '--compare <files...>',
      'no measuring: set two saved runs (--json output) side by side; exits 1 when a ratio moved more than --tolerance',
    )
    .option('--tolerance <fraction>', 'how far a ratio may move between the compared runs', '0.1')
    .action(
      async (o: {
        quick?: boolean;
        only?: string;
        soak?: string;
        json?: boolean;
        markdown?: boolean;
        compare?: string[];
        tolerance: string;
      }) => {
        const { compareRuns, comparisonMarkdown, reportMarkdown } = await import('../bench/compare.js');
        if (o.compare) {
          if (o.compare.length !== 2)
            throw new TdsError(
              'BAD_OPTION',
              `--compare takes two files, got ${o.compare.length}`,
              'give A.json B.json',
            );
          const tolerance = Number(o.tolerance);
          if (!(tolerance >= 0))
            throw new TdsError('BAD_OPTION', `--tolerance ${o.tolerance} is not a fraction`, 'e.g. --tolerance 0.1');
          const c = compareRuns(readReport(o.compare[0]), readReport(o.compare[1]), tolerance);
          console.log(o.json ? JSON.stringify(c) : comparisonMarkdown(c));
          if (c.outside.length) process.exitCode = 1;
          return;
        }
        // Loaded when the benchmark runs, not at every tds start (it pulls in every room and the Foxglove/MCAP code).
        const { runBench } = await import('../bench/run.js');
        const r = await runBench({
          quick: !!o.quick,
          only: o.only,
          soakSeconds: o.soak ? Number(o.soak) : undefined,
        });
        if (o.json) console.log(JSON.stringify(r));
        else if (o.markdown) console.log(reportMarkdown(r));
        else {
          console.log(`${r.machine.cpu} x${r.machine.cores}, node ${r.machine.node}`);
          for (const x of r.results)
            console.log(
              `${x.name.padEnd(40)} ${String(x.value).padStart(10)} ${x.unit}${x.min !== undefined ? `  (${x.min}-${x.max}, ${x.repeats} runs)` : ''}`,
            );
        }
      },
    );
}
