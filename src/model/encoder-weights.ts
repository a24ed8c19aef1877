// Loads VGG16 encoder weights saved with Keras layer names (block1_conv1 ... block5_conv3) from a tfjs
// weights manifest (a model.json with weightsManifest, or a bare manifest array) into the paper profile.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tf } from './tf.js';
import { TdsError } from '../errors.js';
import { encoderLayerNames } from './profiles.js';

type Manifest = Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;

export function readWeightsManifest(file: string): Record<string, tf.Tensor> {
  if (!existsSync(file))
    throw new TdsError(
      'ENOENT_INPUT',
      `encoder weights not found: ${file}`,
      'give a tfjs weights manifest (model.json or weights_manifest.json)',
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new TdsError('BAD_MODEL', `${file} is not JSON: ${(e as Error).message}`, 'give a tfjs weights manifest');
  }
  const manifest = (Array.isArray(parsed) ? parsed : (parsed as { weightsManifest?: Manifest }).weightsManifest) as
    Manifest | undefined;
  if (!manifest) throw new TdsError('BAD_MODEL', `${file} has no weightsManifest`, 'give a tfjs weights manifest');
  const out: Record<string, tf.Tensor> = {};
  for (const group of manifest) {
    const data = Buffer.concat(
      group.paths.map((p) => {
        const f = join(dirname(file), p);
        if (!existsSync(f))
          throw new TdsError(
            'ENOENT_INPUT',
            `weights shard ${f} named in ${file} is missing`,
            'keep the .bin files beside the manifest',
          );
        return readFileSync(f);
      }),
    );
    const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.length);
    Object.assign(out, tf.io.decodeWeights(ab, group.weights));
  }
  return out;
}

/** Sets the encoder's block convolutions from `file`; every name must be present with the right shapes. */
export function loadEncoderWeights(model: tf.LayersModel, file: string): number {
  const weights = readWeightsManifest(file);
  try {
    let loaded = 0;
    for (const name of encoderLayerNames(model)) {
      const layer = model.getLayer(name);
      const [k, b] = layer.getWeights();
      const wk = weights[`${name}/kernel`];
      const wb = weights[`${name}/bias`];
      if (!wk || !wb)
        throw new TdsError(
          'BAD_MODEL',
          `${file} has no ${!wk ? `${name}/kernel` : `${name}/bias`}`,
          'save VGG16 weights with Keras layer names block1_conv1 ... block5_conv3',
        );
      for (const [got, want, what] of [
        [wk, k, 'kernel'],
        [wb, b, 'bias'],
      ] as const) {
        if (got.shape.join() !== want.shape.join()) {
          throw new TdsError(
            'BAD_MODEL',
            `${file}: ${name}/${what} has shape [${got.shape}] but the encoder expects [${want.shape}]`,
            'give VGG16 weights (3x3 kernels, 64-128-256-512-512 channels)',
          );
        }
      }
      layer.setWeights([wk, wb]);
      loaded++;
    }
    return loaded;
  } finally {
    tf.dispose(Object.values(weights));
  }
}
