// The tfjs engine: the layers model on the wasm, cpu or tensorflow backend (training's own runtime).
import { tf } from './tf.js';
import type { Image } from '../types.js';
import { readTdsJson } from './model-dir.js';
import { loadModelDir } from './model-weights.js';
import { assertWeightsUnchanged } from './onnx-file.js';
import { useBackend } from './backend.js';
import { IMAGENET, preprocess, type Normalization } from './preprocess.js';
import { assertInputSize } from './profiles.js';
import {
  BaseSegmenter,
  type Segmentation,
  type Segmenter,
  type SegmenterInfo,
  type SegmenterOptions,
} from './segmenter-base.js';

class TfjsSegmenter extends BaseSegmenter {
  constructor(
    readonly info: SegmenterInfo,
    private readonly model: tf.LayersModel,
  ) {
    super();
  }

  async segmentImage(image: Image): Promise<Segmentation> {
    this.assertOpen();
    const t0 = performance.now();
    const { height, width } = this.info.inputSize;
    const [seg, cls, scene] = tf.tidy(() => {
      const x = toInput([image], height, width, this.info.meta.normalization);
      const [s, c, sc] = this.model.predict(x) as tf.Tensor[];
      return [s, tf.sigmoid(c), tf.softmax(sc)];
    });
    try {
      const [probs, presence, sceneP] = await Promise.all([seg.data(), cls.data(), scene.data()]);
      return {
        probs: probs as Float32Array,
        width,
        height,
        numClasses: this.info.meta.classes.length,
        presence: presence as Float32Array,
        scene: sceneP as Float32Array,
        ms: performance.now() - t0,
      };
    } finally {
      tf.dispose([seg, cls, scene]);
    }
  }

  protected release(): void {
    this.model.dispose();
  }
}

export async function createTfjsSegmenter(modelDir: string, opts: SegmenterOptions): Promise<Segmenter> {
  const backend = await useBackend(opts.backend ?? 'wasm');
  assertWeightsUnchanged(modelDir, readTdsJson(modelDir));
  const { meta, model } = await loadModelDir(modelDir);
  const size = opts.size ?? meta.inputSize;
  assertInputSize(size.height, size.width);
  return new TfjsSegmenter({ engine: 'tfjs', backend, profile: meta.profile, inputSize: size, meta }, model);
}

/** Images -> normalised NHWC tensor. The caller disposes it. */
function toInput(images: Image[], height: number, width: number, norm: Normalization = IMAGENET): tf.Tensor4D {
  return tf.tensor4d(preprocess(images, height, width, norm, 'nhwc'), [images.length, height, width, 3]);
}
