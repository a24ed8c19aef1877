#!/usr/bin/env node
// The `tds` command line: thin commander shells over library functions.
import { Command, CommanderError } from 'commander';
import { isTdsError } from '../errors.js';
import { setVerbose } from '../log.js';
import { closeInferenceThreads } from '../model/ort-thread.js';
import { registerProbe } from './probe.js';
import { registerExtract } from './extract.js';
import { registerPrepare } from './prepare.js';
import { registerSynth } from './synth.js';
import { registerDemo } from './demo.js';
import { registerBench } from './bench.js';
import { registerModel } from './model.js';
import { registerExport } from './export.js';
import { registerTrain } from './train.js';
import { registerEval } from './eval.js';
import { registerProcess } from './process.js';
import { registerServe } from './serve.js';
import { registerCv } from './cv.js';
import { registerQueue } from './queue.js';

// tfjs (training, the tfjs engine, 3D) loads only with the commands that use it; useBackend puts it in
// production mode (no debug checks, no tfjs-node banner on stderr). Video processing and serving never load it.

const program = new Command();
program
  .name('tds')
  .description('task-decomposed surgical video segmentation (TDSNet): ingest, segment, stream')
  .option('--verbose', 'debug logs and stack traces')
  .exitOverride()
  .hook('preAction', (cmd) => setVerbose(!!cmd.opts().verbose));

registerProbe(program);
registerExtract(program);
registerPrepare(program);
registerSynth(program);
registerDemo(program);
registerBench(program);
registerModel(program);
registerExport(program);
registerTrain(program);
registerEval(program);
registerProcess(program);
registerServe(program);
registerCv(program);
registerQueue(program);

const verbose = process.argv.includes('--verbose');
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode);
  if (isTdsError(e)) console.error(`tds: ${e.message}`);
  else console.error(`tds: unexpected error: ${(e as Error).message ?? e}`);
  if (verbose && e instanceof Error) console.error(e.stack);
  // An inference thread inside a run when the process exits aborts it (exit 134): end them first.
  await closeInferenceThreads();
  process.exit(1);
}
