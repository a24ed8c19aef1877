// A 3D model folder: tds.json (format tds-model-3d: the network spec, the modalities it reads in order, the label
// values it writes, the regions its class head predicts, the working resolution and the sliding-window settings),
// weights.bin (float32, tds3dWeightShapes order) and model.onnx (what inference runs). Every file is written under
// a temporary name and renamed, tds.json last, so a folder is never half-written.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { TdsError } from '../errors.js';
import { makeDirs, writeAtomic } from '../fs-safe.js';
import { packageVersions, readModelJson } from './model-dir.js';
import { tds3dGflops, tds3dVariables, tds3dWeightShapes, type Tds3dSpec, type Tds3dWeights } from './tds3d.js';
import { exportTds3dOnnx } from './tds3d-onnx.js';

const rgb = z.tuple([z.number().int(), z.number().int(), z.number().int()]);
const dims3 = z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]);

export const tds3dJsonSchema = z.object({
  format: z.literal('tds-model-3d'),
  version: z.literal(1),
  spec: z.object({
    modalities: z.number().int().positive(),
    classes: z.number().int().min(2),
    channels: z.tuple([z.number().int(), z.number().int(), z.number().int(), z.number().int()]),
    latent: z.number().int().positive(),
    dilations: z.array(z.number().int().positive()).min(1),
    regions: z.array(z.array(z.number().int().min(1))).min(1),
  }),
  /** Modality names in input-channel order (src/ingest/brats.ts MODALITIES). */
  modalities: z.array(z.string()).min(1),
  /** Output classes: index -> label value written to seg.nii.gz. */
  classes: z.array(z.object({ id: z.number().int(), name: z.string(), value: z.number().int(), color: rgb })).min(2),
  regions: z.array(z.object({ name: z.string(), classes: z.array(z.number().int()) })).min(1),
  /** The model works at 1/voxelScale of the input resolution (2: BraTS 1 mm -> 2 mm). */
  voxelScale: z.union([z.literal(1), z.literal(2)]),
  /** Sliding-window patch (x, y, z) in model voxels. */
  patch: dims3,
  inference: z.object({
    overlap: z.number().min(0).max(0.9),
    blend: z.enum(['gaussian', 'constant']),
    /** 3D connected components of a foreground label smaller than this (input voxels) are relabelled. */
    minVoxels: z.number().int().min(0),
  }),
  files: z.object({ weights: z.string(), onnx: z.string() }),
  params: z.number().int(),
  /** GFLOP of one patch. */
  gflops: z.number(),
  producedBy: z.record(z.string(), z.unknown()).default({}),
  createdAt: z.string().optional(),
});

export type Tds3dJson = z.infer<typeof tds3dJsonSchema>;
export type Tds3dJsonInput = Omit<
  z.input<typeof tds3dJsonSchema>,
  'format' | 'version' | 'files' | 'params' | 'gflops'
>;

export function readTds3dJson(dir: string): Tds3dJson {
  return readModelJson(dir, tds3dJsonSchema, 'train one with `tds train`');
}

/** Weights as one float32 buffer in tds3dWeightShapes order. */
export function packWeights(w: Tds3dWeights, s: Tds3dSpec): Uint8Array {
  const parts = tds3dWeightShapes(s).map(([name]) => w.get(name)!.dataSync() as Float32Array);
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return new Uint8Array(out.buffer);
}

/** Splits a weights buffer by the spec's shapes; a size mismatch names the file. */
export function unpackWeights(bytes: Uint8Array, s: Tds3dSpec, file: string): Float32Array[] {
  const shapes = tds3dWeightShapes(s);
  const want = shapes.reduce((n, [, sh]) => n + sh.reduce((a, b) => a * b, 1), 0);
  if (bytes.byteLength !== want * 4)
    throw new TdsError(
      'BAD_MODEL',
      `${file} holds ${bytes.byteLength} bytes; the network in tds.json needs ${want * 4}`,
      'the weights and tds.json come from different models: restore both from the same run',
    );
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  let o = 0;
  return shapes.map(([, sh]) => {
    const n = sh.reduce((a, b) => a * b, 1);
    const v = all.subarray(o, o + n);
    o += n;
    return v;
  });
}

/** Saves weights, the ONNX export and tds.json (last), each atomically. */
export async function saveModel3d(dir: string, w: Tds3dWeights, meta: Tds3dJsonInput): Promise<Tds3dJson> {
  if (existsSync(dir) && !statSync(dir).isDirectory())
    throw new TdsError('BAD_OUTPUT', `model output ${dir} is a file`, 'give a folder path');
  makeDirs(dir, 'model folder');
  const s = meta.spec as Tds3dSpec;
  await writeAtomic(join(dir, 'weights.bin'), packWeights(w, s));
  await writeAtomic(join(dir, 'model.onnx'), exportTds3dOnnx(w, s));
  const [px, py, pz] = meta.patch;
  const full = tds3dJsonSchema.parse({
    ...meta,
    format: 'tds-model-3d',
    version: 1,
    files: { weights: 'weights.bin', onnx: 'model.onnx' },
    params: tds3dWeightShapes(s).reduce((n, [, sh]) => n + sh.reduce((a, b) => a * b, 1), 0),
    gflops: Math.round(tds3dGflops(s, pz, py, px) * 1000) / 1000,
    producedBy: { ...packageVersions(), ...meta.producedBy },
    createdAt: meta.createdAt ?? new Date().toISOString(),
  });
  await writeAtomic(join(dir, 'tds.json'), JSON.stringify(full, null, 2) + '\n');
  return full;
}

/** Reads tds.json and the weights into variables (for training on, or checking against ONNX). */
export function loadModel3dWeights(dir: string): { meta: Tds3dJson; weights: Tds3dWeights } {
  const meta = readTds3dJson(dir);
  const f = join(dir, meta.files.weights);
  if (!existsSync(f))
    throw new TdsError('BAD_MODEL', `${dir}: missing ${meta.files.weights}`, 'the folder is incomplete');
  const values = unpackWeights(readFileSync(f), meta.spec, f);
  return { meta, weights: tds3dVariables(meta.spec, values) };
}
