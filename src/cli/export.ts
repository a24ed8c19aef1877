// `tds export MODEL_DIR [--out FILE]` and `tds import-onnx FILE --out DIR --config CFG`.
import type { Command } from 'commander';
import { exportModelDir } from '../model/onnx-file.js';
import { importOnnx } from '../model/onnx-import.js';
import { loadPalette } from '../ingest/palette.js';
import { TdsError } from '../errors.js';
import { configPath } from '../package-paths.js';
import { parseSize } from './size.js';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description("export a model folder's tfjs weights to ONNX (opset 17) for the ORT engine")
    .argument('<dir>', 'model folder')
    .option('--out <file>', 'ONNX file to write (default DIR/model.onnx, recorded in tds.json)')
    .action(async (dir: string, o: { out?: string }) => {
      const r = await exportModelDir(dir, o.out);
      console.log(`wrote ${r.file} (${r.nodes} nodes)`);
    });
  program
    .command('import-onnx')
    .description('wrap a foreign ONNX model (e.g. official TDSNet from PyTorch) into a model folder')
    .argument('<file>', 'ONNX file')
    .requiredOption('--out <dir>', 'model folder to create')
    .requiredOption('--config <file>', "palette YAML with the model's classes and scenes")
    .option('--layout <layout>', 'input/seg layout: nchw | nhwc', 'nchw')
    .option('--seg-layout <layout>', 'layout of the seg output (default: --layout)')
    .option('--size <HxW>', "input size (default: the model's static size)")
    .option('--outputs <names>', "output names for seg,class,scene (default: the model's outputs in order)")
    .option('--seg-activation <a>', 'softmax | log-softmax | logits', 'log-softmax')
    .option('--json', 'print tds.json')
    .action(
      async (
        file: string,
        o: {
          out: string;
          config: string;
          layout: string;
          segLayout?: string;
          size?: string;
          outputs?: string;
          segActivation: string;
          json?: boolean;
        },
      ) => {
        if (o.layout !== 'nchw' && o.layout !== 'nhwc')
          throw new TdsError(
            'BAD_OPTION',
            `--layout must be nchw or nhwc, got ${JSON.stringify(o.layout)}`,
            'PyTorch exports are nchw',
          );
        if (o.segLayout && o.segLayout !== 'nchw' && o.segLayout !== 'nhwc')
          throw new TdsError(
            'BAD_OPTION',
            `--seg-layout must be nchw or nhwc, got ${JSON.stringify(o.segLayout)}`,
            'tds exports use nhwc',
          );
        if (!['softmax', 'log-softmax', 'logits'].includes(o.segActivation))
          throw new TdsError(
            'BAD_OPTION',
            `--seg-activation must be softmax, log-softmax or logits, got ${JSON.stringify(o.segActivation)}`,
            'the official TDSNet outputs log-softmax',
          );
        const meta = await importOnnx(file, o.out, {
          palette: loadPalette(configPath(o.config)),
          layout: o.layout,
          segLayout: o.segLayout as 'nchw' | 'nhwc' | undefined,
          size: o.size ? parseSize(o.size, 'HxW') : undefined,
          outputs: o.outputs?.split(',').map((s) => s.trim()),
          segActivation: o.segActivation as 'log-softmax',
        });
        if (o.json) console.log(JSON.stringify(meta));
        else
          console.log(
            `imported ${file} into ${o.out}: ${meta.classes.length} classes, ${meta.scenes.length} scenes, input ${meta.inputSize.height}x${meta.inputSize.width} ${meta.onnx!.inputLayout}`,
          );
      },
    );
}
