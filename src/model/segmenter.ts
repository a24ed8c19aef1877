// The Segmenter: one interface over inference engines, created by a factory (tfjs-models style).
// Results are plain copied arrays (no tensors escape), so callers never dispose per-frame data.
import { tf } from './tf.js';
import { TdsError } from '../errors.js';
import type { Frame, Image } from '../types.js';
import { loadModelDir, type TdsJson } from './model-dir.js';
import { useBackend, type BackendName } from './backend.js';
import { toInput } from './preprocess.js';
import { assertInputSize } from './profiles.js';

export type EngineName = 'tfjs';

export interface SegmenterOptions {
  engine?: EngineName;
  /** tfjs backend; default wasm. */
  backend?: BackendName;
  /** Run at this input size instead of the model's (multiples of 32; for multi-size ensembles). */
  size?: { height: number; width: number };
}

export interface Segmentation {
  /** Class probabilities, HWC row-major, at the model input size (height x width x numClasses). */
  probs: Float32Array;
  width: number;
  height: number;
  numClasses: number;
  /** sigmoid(class logits): per-class presence probability. */
  presence: Float32Array;
  /** softmax(scene logits). */
  scene: Float32Array;
  /** Inference time in ms (preprocess + forward + read back). */
  ms: number;
}

export interface SegmenterInfo {
  engine: EngineName;
  /** The backend that actually runs (never a silent substitute). */
  backend: string;
  profile: string;
  inputSize: { height: number; width: number };
  meta: TdsJson;
}

export interface Segmenter {
  readonly info: SegmenterInfo;
  /** Segments a still image. */
  segmentImage(image: Image): Promise<Segmentation>;
  /** Segments the left view of a video frame; timestamps must increase. */
  segmentFrame(frame: Frame, ptsMs?: number): Promise<Segmentation>;
  dispose(): void;
}

class TfjsSegmenter implements Segmenter {
  private lastPts = -Infinity;
  private disposed = false;
  constructor(
    readonly info: SegmenterInfo,
    private readonly model: tf.LayersModel,
  ) {}

  async segmentImage(image: Image): Promise<Segmentation> {
    if (this.disposed) throw new TdsError('BAD_OPTION', 'segmenter was disposed', 'create a new one with createSegmenter');
    const t0 = performance.now();
    const { height, width } = this.info.inputSize;
    const norm = this.info.meta.normalization;
    const [seg, cls, scene] = tf.tidy(() => {
      const x = toInput([image], height, width, norm);
      const [s, c, sc] = this.model.predict(x) as tf.Tensor[];
      return [s, tf.sigmoid(c), tf.softmax(sc)];
    });
    try {
      const [probs, presence, sceneP] = await Promise.all([seg.data(), cls.data(), scene.data()]);
      return { probs: probs as Float32Array, width, height, numClasses: this.info.meta.classes.length, presence: presence as Float32Array, scene: sceneP as Float32Array, ms: performance.now() - t0 };
    } finally {
      tf.dispose([seg, cls, scene]);
    }
  }

  async segmentFrame(frame: Frame, ptsMs = frame.ptsMs): Promise<Segmentation> {
    if (!(ptsMs > this.lastPts)) {
      throw new TdsError('BAD_OPTION', `frame ${frame.index}: timestamp ${ptsMs} ms does not increase (last ${this.lastPts} ms)`, 'pass frames of one stream in order, or use segmentImage for unrelated images');
    }
    this.lastPts = ptsMs;
    return this.segmentImage(frame.left);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}

/** Loads `modelDir` and returns a Segmenter on the chosen engine/backend. */
export async function createSegmenter(modelDir: string, opts: SegmenterOptions = {}): Promise<Segmenter> {
  const engine = opts.engine ?? 'tfjs';
  if (engine !== 'tfjs') throw new TdsError('BAD_OPTION', `unknown engine ${JSON.stringify(engine)}`, 'use tfjs');
  const backend = await useBackend(opts.backend ?? 'wasm');
  const { meta, model } = await loadModelDir(modelDir);
  const size = opts.size ?? meta.inputSize;
  assertInputSize(size.height, size.width);
  return new TfjsSegmenter({ engine, backend, profile: meta.profile, inputSize: size, meta }, model);
}
