// The self-describing model folder's tds.json (profile, classes, colours, scenes, input size, normalisation,
// output activations, provenance): read and written without tfjs, so the ORT path never loads it (18.6 MB of
// heap that every major GC of a live server would mark). The tfjs weights beside it: src/model/model-weights.ts.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { TdsError } from '../errors.js';
import { writeAtomic } from '../fs-safe.js';
import { DETACHED_DEFAULTS } from '../postprocess/detached.js';

const require = createRequire(import.meta.url);

const rgb = z.tuple([z.number().int(), z.number().int(), z.number().int()]);

/** Detached-region removal settings (src/postprocess/detached.ts); each defaults to the measured value. */
export const detachedSchema = z
  .object({
    dark: z.number().int().min(0).max(256).default(DETACHED_DEFAULTS.dark),
    reach: z.number().min(0).max(1).default(DETACHED_DEFAULTS.reach),
    keepArea: z.number().min(0).max(1).default(DETACHED_DEFAULTS.keepArea),
  })
  .strict();

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
      /** Remove foreground regions that do not reach the edge of the view (src/postprocess/detached.ts). */
      detached: detachedSchema.nullable().optional(),
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
  const tfjs = (require('@tensorflow/tfjs-core/package.json') as { version: string }).version;
  return { tds, tfjs, node: process.version };
}

/** Reads and validates tds.json alone (no weights). */
export function readTdsJson(dir: string): TdsJson {
  return readModelJson(
    dir,
    tdsJsonSchema,
    'create one with `tds model init` or `tds train`, or wrap an ONNX file with `tds import-onnx`',
  );
}

/**
 * A model folder's tds.json checked against `schema` (2D here, 3D in model3d-dir.ts): a missing folder or file,
 * broken JSON and the first schema issue each get their own error naming the path; `create` says how to make one.
 */
export function readModelJson<T>(dir: string, schema: z.ZodType<T>, create: string): T {
  const p = join(dir, 'tds.json');
  if (!existsSync(dir)) throw new TdsError('BAD_MODEL', `model folder not found: ${dir}`, create);
  if (!existsSync(p))
    throw new TdsError('BAD_MODEL', `${dir} has no tds.json, so it is not a tds model folder`, create);
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
  const r = schema.safeParse(obj);
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

/** True when `dir` holds a 3D model (tds.json with format tds-model-3d). */
export function isModel3dDir(dir: string): boolean {
  const p = join(dir, 'tds.json');
  if (!existsSync(p)) return false;
  try {
    return (JSON.parse(readFileSync(p, 'utf8')) as { format?: string }).format === 'tds-model-3d';
  } catch {
    return false;
  }
}
