// Wraps a foreign ONNX model (e.g. TDSNet exported from the official PyTorch code: log-softmax seg, class and
// scene logits, NCHW) into a model folder that the ORT engine runs. Checks the outputs against the config.
import { readFileSync, existsSync } from 'node:fs';
import { copyFile, rename } from 'node:fs/promises';
import { makeDirs } from '../fs-safe.js';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { TdsError } from '../errors.js';
import type { Palette } from '../ingest/palette.js';
import { tempName } from '../ingest/image-io.js';
import { decodeModel } from './onnx-graph.js';
import { packageVersions, writeTdsJson, type TdsJson } from './model-dir.js';
import { IMAGENET, type Layout, type Normalization } from './preprocess.js';

export interface ImportOptions {
  palette: Palette;
  layout?: Layout;
  /** Layout of the seg output; default the input layout. */
  segLayout?: Layout;
  /** Input size to run at; default the model's static input size. */
  size?: { height: number; width: number };
  /** ONNX output names for seg, class, scene (class/scene may be omitted); default the model's outputs in order. */
  outputs?: string[];
  segActivation?: 'softmax' | 'log-softmax' | 'logits';
  classActivation?: 'logits' | 'sigmoid';
  sceneActivation?: 'logits' | 'softmax';
  normalization?: Normalization;
}

export async function importOnnx(file: string, out: string, o: ImportOptions): Promise<TdsJson> {
  if (!existsSync(file)) throw new TdsError('ENOENT_INPUT', `ONNX file not found: ${file}`, 'check the path');
  const bytes = readFileSync(file);
  let model;
  try {
    model = decodeModel(bytes);
  } catch (e) {
    throw new TdsError(
      'BAD_MODEL',
      `${file} is not an ONNX model: ${(e as Error).message}`,
      'give a .onnx file exported by PyTorch (torch.onnx.export), tf2onnx or tds export',
    );
  }
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
  } catch (e) {
    throw new TdsError(
      'BAD_MODEL',
      `onnxruntime cannot load ${file}: ${(e as Error).message.split('\n')[0]}`,
      'check the opset and operators of the export',
    );
  }
  try {
    const layout = o.layout ?? 'nchw';
    const input = session.inputNames[0];
    const names = o.outputs ?? session.outputNames.slice(0, 3);
    for (const n of names)
      if (!session.outputNames.includes(n))
        throw new TdsError(
          'BAD_MODEL',
          `${file} has no output named ${n} (it has ${session.outputNames.join(', ')})`,
          "pass --outputs SEG,CLASS,SCENE with the model's output names",
        );
    const dims = (model.graph!.input!.find((i) => i.name === input)?.type?.tensorType?.shape?.dim ?? []).map((d) =>
      d.dimValue ? Number(d.dimValue) : undefined,
    );
    const staticHW = layout === 'nchw' ? [dims[2], dims[3]] : [dims[1], dims[2]];
    const size = o.size ?? (staticHW[0] && staticHW[1] ? { height: staticHW[0], width: staticHW[1] } : undefined);
    if (!size) throw new TdsError('BAD_OPTION', `${file} has a dynamic input size`, 'pass --size HxW');
    const { height: H, width: W } = size;
    const shape = layout === 'nchw' ? [1, 3, H, W] : [1, H, W, 3];
    let res: ort.InferenceSession.ReturnType;
    try {
      res = await session.run({ [input]: new ort.Tensor('float32', new Float32Array(3 * H * W), shape) });
    } catch (e) {
      throw new TdsError(
        'BAD_MODEL',
        `${file} does not accept a ${layout} input of ${H}x${W}: ${(e as Error).message.split('\n')[0]}`,
        'pass the --size and --layout the model was exported with',
      );
    }
    const C = o.palette.classes.length;
    const S = o.palette.scenes.length;
    const seg = res[names[0]].dims;
    const segLayout = o.segLayout ?? layout;
    const segC = segLayout === 'nchw' ? seg[1] : seg[3];
    const segHW = segLayout === 'nchw' ? [seg[2], seg[3]] : [seg[1], seg[2]];
    if (seg.length !== 4 || segC !== C || segHW[0] !== H || segHW[1] !== W) {
      throw new TdsError(
        'BAD_MODEL',
        `${file}: segmentation output ${names[0]} has shape [${seg}] but the config declares ${C} classes at ${H}x${W} (${segLayout})`,
        'use the config the model was trained with, or fix --layout/--seg-layout/--outputs',
      );
    }
    if (names[1] && res[names[1]].dims.at(-1) !== C)
      throw new TdsError(
        'BAD_MODEL',
        `${file}: class output ${names[1]} has shape [${res[names[1]].dims}] but the config declares ${C} classes`,
        'use the config the model was trained with',
      );
    if (names[2] && res[names[2]].dims.at(-1) !== S)
      throw new TdsError(
        'BAD_MODEL',
        `${file}: scene output ${names[2]} has shape [${res[names[2]].dims}] but the config declares ${S} scenes`,
        'use the config the model was trained with',
      );
    makeDirs(out, 'model folder');
    const dest = join(out, 'model.onnx');
    const tmp = tempName(dest);
    await copyFile(file, tmp);
    await rename(tmp, dest);
    return await writeTdsJson(out, {
      format: 'tds-model',
      version: 1,
      profile: 'imported',
      classes: o.palette.classes.map((c) => ({ id: c.id, name: c.name, color: c.color })),
      scenes: o.palette.scenes.map((s) => ({ id: s.id, name: s.name })),
      inputSize: size,
      normalization: o.normalization ?? IMAGENET,
      outputs: {
        seg: { name: names[0], activation: o.segActivation ?? 'log-softmax', layout: segLayout },
        class: { name: names[1] ?? '', activation: o.classActivation ?? 'logits' },
        scene: { name: names[2] ?? '', activation: o.sceneActivation ?? 'logits' },
      },
      files: {},
      onnx: {
        file: 'model.onnx',
        input,
        inputLayout: layout,
        outputs: { seg: names[0], class: names[1], scene: names[2] },
        opset: Number(model.opsetImport?.[0]?.version ?? 0),
        source: 'import',
      },
      producedBy: { ...packageVersions(), importedFrom: file },
      createdAt: new Date().toISOString(),
    });
  } finally {
    await session.release();
  }
}
