// The ORT engine (default): model.onnx through onnxruntime-node. CPU provider with one intra-op thread per
// core and full graph optimisation; CUDA/TensorRT when installed, else CPU with a logged warning.
import { cpus } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { TdsError } from '../errors.js';
import { log } from '../log.js';
import type { Image } from '../types.js';
import type { TdsJson } from './model-dir.js';
import { ensureOnnx } from './onnx-file.js';
import { preprocessInto } from './preprocess.js';
import { segToProbs, sigmoid, softmax } from './outputs.js';
import {
  BaseSegmenter,
  type ExecutionProvider,
  type Segmentation,
  type Segmenter,
  type SegmenterInfo,
  type SegmenterOptions,
} from './segmenter-base.js';

class OrtSegmenter extends BaseSegmenter {
  private readonly input: Float32Array;
  constructor(
    readonly info: SegmenterInfo,
    private readonly session: ort.InferenceSession,
  ) {
    super();
    this.input = new Float32Array(3 * info.inputSize.height * info.inputSize.width);
  }

  async segmentImage(image: Image): Promise<Segmentation> {
    this.assertOpen();
    const t0 = performance.now();
    const { meta } = this.info;
    const { height, width } = this.info.inputSize;
    const onnx = meta.onnx!;
    preprocessInto(image, height, width, meta.normalization, onnx.inputLayout, this.input);
    const dims = onnx.inputLayout === 'nchw' ? [1, 3, height, width] : [1, height, width, 3];
    const feeds = { [onnx.input]: new ort.Tensor('float32', this.input, dims) };
    let out: ort.InferenceSession.ReturnType;
    try {
      out = await this.session.run(feeds);
    } catch (e) {
      throw new TdsError(
        'BAD_MODEL',
        `ONNX model rejected a ${height}x${width} input: ${(e as Error).message.split('\n')[0]}`,
        'use an input size the model accepts (see its tds.json inputSize)',
      );
    }
    const C = meta.classes.length;
    const seg = out[onnx.outputs.seg];
    // tds.json's classes must be the model's: a mismatch would silently drop or invent classes.
    const segC = meta.outputs.seg.layout === 'nchw' ? seg.dims[1] : seg.dims[seg.dims.length - 1];
    if (segC !== C) {
      for (const t of Object.values(out)) t.dispose?.();
      throw new TdsError(
        'BAD_MODEL',
        `${onnx.file} outputs ${segC} classes but tds.json declares ${C} (${meta.classes.map((c) => c.name).join(', ')})`,
        'give the tds.json that belongs to this model (its classes come from the config it was trained with)',
      );
    }
    const probs = segToProbs(
      seg.data as Float32Array,
      height,
      width,
      C,
      meta.outputs.seg.activation,
      meta.outputs.seg.layout,
    );
    const cls = onnx.outputs.class ? (out[onnx.outputs.class].data as Float32Array) : new Float32Array(0);
    const sc = onnx.outputs.scene ? (out[onnx.outputs.scene].data as Float32Array) : new Float32Array(0);
    const presence = meta.outputs.class.activation === 'sigmoid' ? cls.slice() : sigmoid(cls);
    const scene = sc.length === 0 ? sc : meta.outputs.scene.activation === 'softmax' ? sc.slice() : softmax(sc);
    for (const t of Object.values(out)) t.dispose?.();
    return { probs, width, height, numClasses: C, presence, scene, ms: performance.now() - t0 };
  }

  protected release(): void {
    void this.session.release();
  }
}

/** Creates an ORT session on the first provider that loads; CPU is the last resort, with a warning. */
export async function openSession(
  file: string,
  providers: ExecutionProvider[],
  threads: number,
  spinning = true,
): Promise<{ session: ort.InferenceSession; provider: string }> {
  const base: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    // Several sessions in turn (an averaged model's members): intra-op threads that busy-wait after each run
    // starve the next session on 2 cores (measured, three fast networks: 8.8 fps engine-only spinning, 23 fps
    // not). One session alone keeps ORT's default, which is ~8% faster back to back (72 vs 67 fps).
    ...(spinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
  };
  for (const p of providers.filter((x) => x !== 'cpu')) {
    try {
      // Fatal-only native logging for the probe: a missing provider library is reported once, below, as a warning.
      const session = await ort.InferenceSession.create(file, {
        ...base,
        logSeverityLevel: 4,
        executionProviders: [p, 'cpu'],
      });
      return { session, provider: p };
    } catch (e) {
      log.warn(
        { provider: p, err: (e as Error).message.split('\n')[0] },
        `ORT execution provider ${p} is not available here; falling back to CPU`,
      );
    }
  }
  try {
    return {
      session: await ort.InferenceSession.create(file, { ...base, executionProviders: ['cpu'] }),
      provider: 'cpu',
    };
  } catch (e) {
    throw new TdsError(
      'BAD_MODEL',
      `cannot load ONNX model ${file}: ${(e as Error).message.split('\n')[0]}`,
      'check that the file is an ONNX model (re-export with `tds export`)',
    );
  }
}

export async function createOrtSegmenter(modelDir: string, opts: SegmenterOptions): Promise<Segmenter> {
  // Native ORT logs go to stderr outside our logger; every failure also comes back as an exception, which we
  // report with the file and a fix. Only fatal native messages are let through (set here, not on import).
  ort.env.logLevel = 'fatal';
  const meta: TdsJson = await ensureOnnx(modelDir);
  if (!meta.onnx) throw new TdsError('BAD_MODEL', `${modelDir} has no ONNX model`, 'run `tds export DIR`');
  const size = opts.size ?? meta.inputSize;
  if (!Number.isInteger(size.height) || !Number.isInteger(size.width) || size.height < 1 || size.width < 1) {
    throw new TdsError(
      'BAD_OPTION',
      `input size must be positive integers, got ${size.height}x${size.width}`,
      'e.g. 256x320',
    );
  }
  if (meta.profile !== 'imported' && (size.height % 32 || size.width % 32)) {
    throw new TdsError(
      'BAD_MODEL',
      `input size must be HxW with both multiples of 32 (the encoder downsamples by 32), got ${size.height}x${size.width}`,
      'e.g. 256x320 or 512x640',
    );
  }
  const { session, provider } = await openSession(
    join(modelDir, meta.onnx.file),
    opts.executionProviders ?? ['cpu'],
    opts.threads ?? cpus().length,
    opts.spinning ?? true,
  );
  return new OrtSegmenter({ engine: 'ort', backend: provider, profile: meta.profile, inputSize: size, meta }, session);
}
