// `tds model init|summary`: create a model folder, and describe one.
import type { Command } from 'commander';
import type { ProfileName } from '../model/profiles.js';
import { loadPalette } from '../ingest/palette.js';
import { TdsError } from '../errors.js';
import { configPath } from '../package-paths.js';
import { parseSize } from './size.js';

// The model code (tfjs) loads when a model command runs, not at every tds start.
const load = async () => {
  const [{ initModel }, { loadModelDir }, { countGflops }, { PROFILES, assertInputSize }, { useBackend }] =
    await Promise.all([
      import('../model/init.js'),
      import('../model/model-weights.js'),
      import('../model/flops.js'),
      import('../model/profiles.js'),
      import('../model/backend.js'),
    ]);
  return { initModel, loadModelDir, countGflops, PROFILES, assertInputSize, useBackend };
};

export function registerModel(program: Command): void {
  const model = program.command('model').description('create and inspect model folders');
  model
    .command('init')
    .description('create a model folder with fresh weights (He-normal, or a VGG16 encoder file)')
    .requiredOption('--out <dir>', 'model folder to create')
    .option('--config <file>', 'palette YAML (classes, colours, scenes)', 'robot18')
    .option('--profile <name>', 'paper | fast', 'fast')
    .option('--size <HxW>', 'input size, multiples of 32', '256x320')
    .option('--encoder-weights <file>', 'tfjs weights manifest with Keras VGG16 names (paper profile)')
    .option('--seed <n>', 'initialisation seed', '1')
    .option('--overwrite', 'replace a model already in --out (its weights are lost)')
    .option('--json', 'print tds.json')
    .action(
      async (o: {
        out: string;
        config: string;
        profile: string;
        size: string;
        encoderWeights?: string;
        seed: string;
        overwrite?: boolean;
        json?: boolean;
      }) => {
        const { initModel, PROFILES, assertInputSize, useBackend } = await load();
        if (!PROFILES.includes(o.profile as ProfileName))
          throw new TdsError(
            'BAD_MODEL',
            `unknown profile ${JSON.stringify(o.profile)}`,
            `use one of ${PROFILES.join(', ')}`,
          );
        const { height, width } = parseSize(o.size, 'HxW');
        assertInputSize(height, width);
        await useBackend('cpu');
        const cfg = configPath(o.config);
        const meta = await initModel(o.out, {
          profile: o.profile as ProfileName,
          palette: loadPalette(cfg),
          height,
          width,
          encoderWeights: o.encoderWeights,
          seed: Number(o.seed),
          overwrite: o.overwrite,
          producedBy: { config: cfg, command: 'tds model init' },
        });
        if (o.json) console.log(JSON.stringify(meta));
        else
          console.log(
            `created ${o.profile} model in ${o.out}: ${meta.params!.toLocaleString('en')} params, ${meta.gflops} GFLOP at ${height}x${width}, ${meta.classes.length} classes, ${meta.scenes.length} scenes`,
          );
      },
    );
  model
    .command('summary')
    .description('print {profile, params, gflops, inputSize, classes, scenes} of a model folder')
    .argument('<dir>', 'model folder')
    .option('--size <HxW>', "count GFLOPs at this input size instead of the model's")
    .option('--json', 'print JSON')
    .action(async (dir: string, o: { size?: string; json?: boolean }) => {
      const { loadModelDir, countGflops, assertInputSize, useBackend } = await load();
      await useBackend('cpu');
      const { meta, model } = await loadModelDir(dir);
      try {
        const size = o.size ? parseSize(o.size, 'HxW') : meta.inputSize;
        assertInputSize(size.height, size.width);
        const s = {
          profile: meta.profile,
          params: model.countParams(),
          gflops: Math.round(countGflops(model, size.height, size.width) * 1000) / 1000,
          inputSize: { height: size.height, width: size.width },
          classes: meta.classes.map((c) => c.name),
          scenes: meta.scenes.map((c) => c.name),
        };
        if (o.json) console.log(JSON.stringify(s));
        else
          console.log(
            `${dir}: ${s.profile}, ${s.params.toLocaleString('en')} params, ${s.gflops} GFLOP at ${size.height}x${size.width}, classes: ${s.classes.join(', ')}; scenes: ${s.scenes.join(', ')}`,
          );
      } finally {
        model.dispose();
      }
    });
}
