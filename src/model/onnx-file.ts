// Writes model.onnx into a model folder from its tfjs weights, and keeps it fresh: a missing export is made
// before the ORT engine loads it. weights.bin that no longer matches the hash recorded at export is reported,
// never silently re-exported (damaged weights would replace the good model.onnx); an export over an existing
// model.onnx keeps the old one as model.onnx.bak.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { TdsError } from '../errors.js';
import { join, resolve } from 'node:path';
import { readTdsJson, writeTdsJson, type TdsJson } from './model-dir.js';
import { writeAtomic } from '../fs-safe.js';
import { OPSET } from './onnx-graph.js';

/** Exports `dir`'s tfjs model to `out` (default DIR/model.onnx) and records it in tds.json. */
export async function exportModelDir(
  dir: string,
  out?: string,
): Promise<{ file: string; meta: TdsJson; nodes: number }> {
  // tfjs only when exporting: the ORT engine's path through this module (a fresh export) never loads it.
  const [{ tf }, { useBackend }, { loadModelDir }, { exportOnnx }] = await Promise.all([
    import('./tf.js'),
    import('./backend.js'),
    import('./model-weights.js'),
    import('./onnx-export.js'),
  ]);
  if (tf.getBackend() !== 'cpu' && tf.getBackend() !== 'wasm') await useBackend('cpu');
  const { meta, model } = await loadModelDir(dir);
  try {
    const e = exportOnnx(model);
    const file = out ?? join(dir, 'model.onnx');
    if (existsSync(file) && statSync(file).isDirectory())
      throw new TdsError(
        'BAD_OUTPUT',
        `cannot write the ONNX export to ${file}: it is a folder`,
        'give a file path such as out/model.onnx',
      );
    // Never destroy the only good copy: the previous export stays beside the new one.
    if (existsSync(file) && resolve(file) === resolve(join(dir, 'model.onnx'))) await copyFile(file, `${file}.bak`);
    await writeAtomic(file, e.bytes);
    // Only the folder's own model.onnx is recorded; an export elsewhere is a copy for other tools.
    if (resolve(file) !== resolve(join(dir, 'model.onnx'))) return { file, meta, nodes: e.nodes };
    const next = await writeTdsJson(dir, {
      ...meta,
      onnx: {
        file: 'model.onnx',
        input: e.input,
        inputLayout: 'nchw',
        outputs: e.outputs,
        opset: OPSET,
        source: 'export',
        weightsSha256: weightsHash(dir),
      },
    });
    return { file, meta: next, nodes: e.nodes };
  } finally {
    model.dispose();
  }
}

function weightsHash(dir: string): string | undefined {
  const w = join(dir, 'weights.bin');
  return existsSync(w) ? createHash('sha256').update(readFileSync(w)).digest('hex') : undefined;
}

/**
 * True when the folder's ONNX export is missing or older than its tfjs weights. "Older" is decided by content
 * (the weights' sha256 recorded at export) when recorded, else by modification time.
 */
export function onnxIsStale(dir: string, meta: TdsJson): boolean {
  if (!meta.files.tfjs) return false; // imported: the ONNX file is the model
  if (!meta.onnx || meta.onnx.source !== 'export') return true;
  const onnx = join(dir, meta.onnx.file);
  if (!existsSync(onnx)) return true;
  if (meta.onnx.weightsSha256) return meta.onnx.weightsSha256 !== weightsHash(dir);
  const weights = join(dir, 'weights.bin');
  return existsSync(weights) && statSync(weights).mtimeMs > statSync(onnx).mtimeMs;
}

/**
 * Throws when weights.bin differs from the weights model.onnx was exported from (hash recorded at export).
 * Returns true when it checked and they match (the export is fresh), false when there was nothing to check.
 */
export function assertWeightsUnchanged(dir: string, meta: TdsJson): boolean {
  const recorded = meta.onnx?.source === 'export' ? meta.onnx.weightsSha256 : undefined;
  if (!recorded || !existsSync(join(dir, meta.onnx!.file))) return false;
  const now = weightsHash(dir);
  if (now && now !== recorded) {
    throw new TdsError(
      'BAD_MODEL',
      `${join(dir, 'weights.bin')} changed since ${meta.onnx!.file} was exported from it (sha256 ${recorded.slice(0, 12)}… recorded, ${now.slice(0, 12)}… now): the weights may be damaged`,
      `restore weights.bin; if you replaced it on purpose, run \`tds export ${dir}\` (the old model.onnx is kept as model.onnx.bak)`,
    );
  }
  return now !== undefined;
}

/** Ensures a fresh model.onnx; returns the (possibly updated) description. */
export async function ensureOnnx(dir: string): Promise<TdsJson> {
  const meta = readTdsJson(dir);
  // One hash of weights.bin per load: a verified export is fresh without onnxIsStale hashing it again.
  if (assertWeightsUnchanged(dir, meta) || !onnxIsStale(dir, meta)) return meta;
  return (await exportModelDir(dir)).meta;
}
