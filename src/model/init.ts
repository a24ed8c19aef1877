// Creates a new model folder for a profile and palette (random He-normal weights, or a VGG16 encoder file).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from './tf.js';
import { buildTdsNet, type ProfileName } from './profiles.js';
import { countGflops } from './flops.js';
import { readTdsJson, packageVersions, type TdsJson, type TdsJsonInput } from './model-dir.js';
import { saveModelDir } from './model-weights.js';
import { loadEncoderWeights } from './encoder-weights.js';
import { IMAGENET, type Normalization } from './preprocess.js';
import { TdsError } from '../errors.js';
import type { Palette } from '../ingest/palette.js';

export interface InitOptions {
  profile: ProfileName;
  palette: Palette;
  height: number;
  width: number;
  encoderWeights?: string;
  seed?: number;
  /** Instance-normalise the first N encoder blocks (BuildOptions.instanceNormBlocks). */
  instanceNormBlocks?: number;
  normalization?: Normalization;
  /** Recorded in tds.json (e.g. the config path and command). */
  producedBy?: Record<string, unknown>;
  /** Replace a model already in `dir` (default: refuse, so a trained model is never lost). */
  overwrite?: boolean;
}

const MODEL_FILES = ['tds.json', 'model.json', 'weights.bin', 'model.onnx'];

export function describeModel(
  model: tf.LayersModel,
  o: Omit<InitOptions, 'encoderWeights' | 'seed' | 'instanceNormBlocks'>,
): TdsJsonInput {
  return {
    format: 'tds-model',
    version: 1,
    profile: o.profile,
    classes: o.palette.classes.map((c) => ({ id: c.id, name: c.name, color: c.color })),
    scenes: o.palette.scenes.map((s) => ({ id: s.id, name: s.name })),
    inputSize: { height: o.height, width: o.width },
    normalization: o.normalization ?? IMAGENET,
    outputs: {
      seg: { name: 'seg', activation: 'softmax' },
      class: { name: 'class', activation: 'logits' },
      scene: { name: 'scene', activation: 'logits' },
    },
    files: { tfjs: 'model.json' },
    params: model.countParams(),
    gflops: Math.round(countGflops(model, o.height, o.width) * 1000) / 1000,
    producedBy: { ...packageVersions(), ...o.producedBy },
    createdAt: new Date().toISOString(),
  };
}

export async function initModel(dir: string, o: InitOptions): Promise<TdsJson> {
  const held = MODEL_FILES.filter((f) => existsSync(join(dir, f)));
  if (held.length && !o.overwrite)
    throw new TdsError(
      'BAD_OUTPUT',
      `${dir} already holds a model (${held.join(', ')})`,
      'choose another --out, or pass --overwrite to replace it with fresh weights',
    );
  const model = buildTdsNet({
    profile: o.profile,
    numClasses: o.palette.classes.length,
    numScenes: o.palette.scenes.length,
    height: o.height,
    width: o.width,
    seed: o.seed,
    instanceNormBlocks: o.instanceNormBlocks,
  });
  try {
    if (o.encoderWeights) {
      if (o.instanceNormBlocks)
        throw new TdsError(
          'BAD_OPTION',
          'VGG16 encoder weights were trained without instance norm; they cannot load into an instance-norm encoder',
          'drop --encoder-weights or the instance norm',
        );
      if (o.profile !== 'paper')
        throw new TdsError(
          'BAD_OPTION',
          `--encoder-weights loads VGG16 weights, which only the paper profile has (got ${o.profile})`,
          'use --profile paper, or drop --encoder-weights',
        );
      loadEncoderWeights(model, o.encoderWeights);
    }
    const meta = describeModel(model, {
      ...o,
      producedBy: { ...o.producedBy, encoderWeights: o.encoderWeights ?? 'he-normal', seed: o.seed ?? 1 },
    });
    await saveModelDir(dir, model, meta);
    return readTdsJson(dir);
  } finally {
    model.dispose();
  }
}
