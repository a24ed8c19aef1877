// The self-describing model folder: model.json + weights.bin (tfjs layers format) and tds.json (profile,
// classes, colours, scenes, input size, normalisation, output activations, provenance).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { tf } from './tf.js';
import { TdsError } from '../errors.js';
import { makeDirs, writeAtomic } from '../fs-safe.js';
import './resize-layer.js';
import './instance-norm-layer.js';

const require = createRequire(import.meta.url);

const rgb = z.tuple([z.number().int(), z.number().int(), z.number().int()]);

export const tdsJsonSchema = z.object({
  format: z.literal('tds-model'),
  version: z.literal(1),
  profile: z.string(),
  classes: z.array(z.object({ id: z.number().int(), name: z.string(), color: rgb })).min(2),
  scenes: z.array(z.object({ id: z.number().int(), name: z.string() })).min(1),
  inputSize: z.object({ height: z.number().int().positive(), width: z.number().int().positive() }),
  normalization: z.object({
    mean: z.tuple([z.number(), z.number(), z.number()]),
    std: z.tuple([z.number(), z.number(), z.number()]),
  }),
  /** How to read each output: probabilities, log-probabilities or logits. */
  outputs: z.object({
    seg: z.object({
      name: z.string(),
      activation: z.enum(['softmax', 'log-softmax', 'logits']),
      layout: z.enum(['nhwc', 'nchw']).default('nhwc'),
    }),
    class: z.object({ name: z.string(), activation: z.enum(['logits', 'sigmoid']) }),
    scene: z.object({ name: z.string(), activation: z.enum(['logits', 'softmax']) }),
  }),
  files: z.object({ tfjs: z.string().optional() }).passthrough(),
  /** The ONNX graph that the ORT engine runs: file, input name/layout and output names. */
  onnx: z
    .object({
      file: z.string(),
      input: z.string(),
      inputLayout: z.enum(['nchw', 'nhwc']),
      outputs: z.object({ seg: z.string(), class: z.string().optional(), scene: z.string().optional() }),
      opset: z.number().int().optional(),
      source: z.enum(['export', 'import']),
      /** sha256 of weights.bin when exported: a content check that survives git checkouts (which reorder mtimes). */
      weightsSha256: z.string().optional(),
    })
    .optional(),
  /** Inference defaults when the user gives none: ensemble sizes, flip TTA, small-region removal. */
  inference: z
    .object({
      sizes: z.array(z.object({ height: z.number().int().positive(), width: z.number().int().positive() })).min(1),
      flip: z.boolean().default(false),
      minArea: z.number().int().min(0).default(0),
      /** Two-stage inference: a second pass on a square crop `scale` x the region of `classes` (src/model/roi.ts). */
      roi: z
        .object({ classes: z.array(z.number().int().min(0)).min(1), scale: z.number().positive() })
        .nullable()
        .optional(),
      /** One pass keeping only the largest connected region of these classes. */
      largest: z.array(z.number().int().min(0)).min(1).nullable().optional(),
      /** How the defaults were chosen (e.g. the cross-validation that picked them). */
      chosenBy: z.string().optional(),
    })
    .optional(),
  /** An averaged model: these model folders (relative to this one) run on every frame and their class
   * probabilities, presence and scene are averaged. The folder then holds no network of its own. */
  members: z.array(z.string()).min(2).optional(),
  params: z.number().int().optional(),
  gflops: z.number().optional(),
  producedBy: z.record(z.string(), z.unknown()).default({}),
  createdAt: z.string().optional(),
});

export type TdsJson = z.infer<typeof tdsJsonSchema>;
export type TdsJsonInput = z.input<typeof tdsJsonSchema>;

/** Rewrites tds.json (validated, atomically). */
export async function writeTdsJson(dir: string, meta: TdsJsonInput): Promise<TdsJson> {
  const full = tdsJsonSchema.parse(meta);
  await writeAtomic(join(dir, 'tds.json'), JSON.stringify(full, null, 2) + '\n');
  return full;
}

/** Versions recorded in tds.json so a model says what produced it. */
export function packageVersions(): Record<string, string> {
  const tds = (require('../../package.json') as { version: string }).version;
  return { tds, tfjs: tf.version.tfjs, node: process.version };
}

/** Writes a file atomically (src/fs-safe.ts); re-exported where model code has always found it. */

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

/** Reads and validates tds.json alone (no weights). */
export function readTdsJson(dir: string): TdsJson {
  const p = join(dir, 'tds.json');
  if (!existsSync(dir))
    throw new TdsError(
      'BAD_MODEL',
      `model folder not found: ${dir}`,
      'create one with `tds model init` or `tds train`',
    );
  if (!existsSync(p))
    throw new TdsError(
      'BAD_MODEL',
      `${dir} has no tds.json, so it is not a tds model folder`,
      'create one with `tds model init` or `tds train`, or wrap an ONNX file with `tds import-onnx`',
    );
  let obj: unknown;
  try {
    obj = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new TdsError(
      'BAD_MODEL',
      `${p} is not valid JSON: ${(e as Error).message}`,
      'restore the file from the model folder that produced it',
    );
  }
  const r = tdsJsonSchema.safeParse(obj);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new TdsError(
      'BAD_MODEL',
      `${p}: ${i.path.join('.') || '(root)'}: ${i.message}`,
      'restore the file from the model folder that produced it',
    );
  }
  return r.data;
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
