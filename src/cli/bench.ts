// `tds bench` (npm run bench): the project's benchmark. Prints {machine, results:[{name,value,unit}]} with --json.
import type { Command } from 'commander';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description("measure the project's benchmark figures on this machine")
    .option('--quick', 'fewer repetitions (under 2 minutes)')
    .option('--only <prefix>', 'only results whose name starts with this')
    .option('--soak <seconds>', 'length of the live run that reports memory over time (e.g. 600)')
    .option('--json', 'print one JSON object')
    .action(async (o: { quick?: boolean; only?: string; soak?: string; json?: boolean }) => {
      // Loaded when the benchmark runs, not at every tds start (it pulls in every room and the Foxglove/MCAP code).
      const { runBench } = await import('../bench/run.js');
      const r = await runBench({ quick: !!o.quick, only: o.only, soakSeconds: o.soak ? Number(o.soak) : undefined });
      if (o.json) console.log(JSON.stringify(r));
      else {
        console.log(`${r.machine.cpu} x${r.machine.cores}, node ${r.machine.node}`);
        for (const x of r.results)
          console.log(
            `${x.name.padEnd(40)} ${String(x.value).padStart(10)} ${x.unit}${x.min !== undefined ? `  (${x.min}-${x.max}, ${x.repeats} runs)` : ''}`,
          );
      }
    });
}
