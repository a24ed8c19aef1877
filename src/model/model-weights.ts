// A model folder's tfjs weights: model.json + weights.bin (tfjs layers format), saved and loaded beside its
// tds.json (src/model/model-dir.ts). Imports tfjs and registers the project's custom layers.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from './tf.js';
import { TdsError } from '../errors.js';
import { makeDirs, writeAtomic } from '../fs-safe.js';
import { readTdsJson, writeTdsJson, type TdsJson, type TdsJsonInput } from './model-dir.js';
import './resize-layer.js';
import './instance-norm-layer.js';

function concatWeights(data: ArrayBuffer | ArrayBuffer[]): Uint8Array {
  if (!Array.isArray(data)) return new Uint8Array(data);
  const total = data.reduce((n, b) => n + b.byteLength, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const b of data) {
    out.set(new Uint8Array(b), o);
    o += b.byteLength;
  }
  return out;
}

/** Saves `model` and its description to `dir` (weights first, tds.json last, each atomically). */
export async function saveModelDir(dir: string, model: tf.LayersModel, meta: TdsJsonInput): Promise<void> {
  if (existsSync(dir) && !statSync(dir).isDirectory())
    throw new TdsError('BAD_OUTPUT', `model output ${dir} is a file`, 'give a folder path');
  makeDirs(dir, 'model folder');
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const a = artifacts!;
  await writeAtomic(join(dir, 'weights.bin'), concatWeights(a.weightData as ArrayBuffer | ArrayBuffer[]));
  const modelJson = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
    convertedBy: null,
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
  };
  await writeAtomic(join(dir, 'model.json'), JSON.stringify(modelJson));
  await writeTdsJson(dir, { ...meta, files: { ...meta.files, tfjs: 'model.json' }, onnx: undefined });
}

export interface LoadedModel {
  dir: string;
  meta: TdsJson;
  model: tf.LayersModel;
}

/** Loads and validates a model folder: tds.json, model.json, weights of the declared size and shapes. */
export async function loadModelDir(dir: string): Promise<LoadedModel> {
  const meta = readTdsJson(dir);
  if (!meta.files.tfjs)
    throw new TdsError(
      'BAD_MODEL',
      `${dir} holds an imported ONNX model without tfjs weights`,
      'run it with the ort engine (--engine ort)',
    );
  const mj = join(dir, meta.files.tfjs);
  if (!existsSync(mj))
    throw new TdsError(
      'BAD_MODEL',
      `${dir}: missing ${meta.files.tfjs ?? 'model.json'} (tfjs weights)`,
      'the folder is incomplete; re-create it or copy the missing file',
    );
  const json = JSON.parse(readFileSync(mj, 'utf8')) as {
    modelTopology: object;
    weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  };
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const buffers = json.weightsManifest.flatMap((g) =>
    g.paths.map((p) => {
      const f = join(dir, p);
      if (!existsSync(f))
        throw new TdsError(
          'BAD_MODEL',
          `${dir}: missing weights file ${p}`,
          'the folder is incomplete; re-create it or copy the missing file',
        );
      return readFileSync(f);
    }),
  );
  const data = Buffer.concat(buffers);
  const expected = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (data.length !== expected) {
    throw new TdsError(
      'BAD_MODEL',
      `${dir}: weights hold ${data.length} bytes but model.json declares ${expected}`,
      'the weights do not belong to this model.json; re-export the folder',
    );
  }
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: specs,
        weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.length),
      }),
    );
  } catch (e) {
    throw new TdsError(
      'BAD_MODEL',
      `${dir}: cannot build the model from model.json and its weights: ${(e as Error).message}`,
      're-create the folder with the same tds version',
    );
  }
  const [seg, cls, scene] = model.outputs.map((o) => o.shape);
  const C = meta.classes.length;
  const S = meta.scenes.length;
  if (seg?.[3] !== C || cls?.[1] !== C || scene?.[1] !== S) {
    model.dispose();
    throw new TdsError(
      'BAD_MODEL',
      `${dir}: outputs are seg ${JSON.stringify(seg)}, class ${JSON.stringify(cls)}, scene ${JSON.stringify(scene)} but tds.json declares ${C} classes and ${S} scenes`,
      'use the tds.json that came with these weights',
    );
  }
  return { dir, meta, model };
}
