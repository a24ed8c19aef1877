// The ORT engine (default): model.onnx through onnxruntime-node, in its own thread (src/model/ort-worker.ts) so
// that a forward pass never stops the event loop. CPU provider with one intra-op thread per core and full graph
// optimisation; CUDA/TensorRT when installed, else CPU with a logged warning.
import { cpus } from 'node:os';
import { join } from 'node:path';
import { TdsError } from '../errors.js';
import { log } from '../log.js';
import type { Image } from '../types.js';
import type { TdsJson } from './model-dir.js';
import { ensureOnnx } from './onnx-file.js';
import { preprocessInto } from './preprocess.js';
import { segToProbs, sigmoid, softmax } from './outputs.js';
import { OrtThread, type Outputs } from './ort-thread.js';
import {
  BaseSegmenter,
  type Segmentation,
  type Segmenter,
  type SegmenterInfo,
  type SegmenterOptions,
} from './segmenter-base.js';

class OrtSegmenter extends BaseSegmenter {
  constructor(
    readonly info: SegmenterInfo,
    private readonly thread: OrtThread,
  ) {
    super();
  }

  async segmentImage(image: Image): Promise<Segmentation> {
    this.assertOpen();
    const t0 = performance.now();
    const { meta } = this.info;
    const { height, width } = this.info.inputSize;
    const onnx = meta.onnx!;
    const input = this.thread.inputBuffer(3 * height * width);
    preprocessInto(image, height, width, meta.normalization, onnx.inputLayout, input);
    const dims = onnx.inputLayout === 'nchw' ? [1, 3, height, width] : [1, height, width, 3];
    let out: Outputs;
    let runMs: number;
    try {
      ({ outputs: out, runMs } = await this.thread.run(onnx.input, input, dims));
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
      throw new TdsError(
        'BAD_MODEL',
        `${onnx.file} outputs ${segC} classes but tds.json declares ${C} (${meta.classes.map((c) => c.name).join(', ')})`,
        'give the tds.json that belongs to this model (its classes come from the config it was trained with)',
      );
    }
    const probs = segToProbs(seg.data, height, width, C, meta.outputs.seg.activation, meta.outputs.seg.layout);
    // The raw output goes back to the thread for the next run: now when the probabilities are a new array,
    // else when the caller says it is done with them (recycle).
    let given = false;
    const giveBack = () => {
      // Once: a buffer handed back twice would be sent to two runs at once.
      if (!given) this.thread.recycle(onnx.outputs.seg, seg.data);
      given = true;
    };
    if (probs !== seg.data) giveBack();
    const cls = onnx.outputs.class ? out[onnx.outputs.class].data : new Float32Array(0);
    const sc = onnx.outputs.scene ? out[onnx.outputs.scene].data : new Float32Array(0);
    const presence = meta.outputs.class.activation === 'sigmoid' ? cls : sigmoid(cls);
    const scene = sc.length === 0 ? sc : meta.outputs.scene.activation === 'softmax' ? sc : softmax(sc);
    return {
      probs,
      width,
      height,
      numClasses: C,
      presence,
      scene,
      ms: performance.now() - t0,
      runMs,
      recycle: given ? undefined : giveBack,
    };
  }

  protected release(): void {
    // Ends after its run in progress; closeInferenceThreads() waits for that before a process exits.
    void this.thread.close();
  }
}

export async function createOrtSegmenter(modelDir: string, opts: SegmenterOptions): Promise<Segmenter> {
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
  const file = join(modelDir, meta.onnx.file);
  let thread: OrtThread;
  try {
    thread = await OrtThread.start({
      file,
      providers: opts.executionProviders ?? ['cpu'],
      threads: opts.threads ?? cpus().length,
      spinning: opts.spinning ?? false,
    });
  } catch (e) {
    if (e instanceof TdsError) throw e;
    throw new TdsError(
      'BAD_MODEL',
      `cannot load ONNX model ${file}: ${(e as Error).message.split('\n')[0]}`,
      'check that the file is an ONNX model (re-export with `tds export`)',
    );
  }
  for (const s of thread.skipped)
    log.warn(
      { provider: s.provider, err: s.err },
      `ORT execution provider ${s.provider} is not available here; falling back to CPU`,
    );
  return new OrtSegmenter(
    { engine: 'ort', backend: thread.provider, profile: meta.profile, inputSize: size, meta },
    thread,
  );
}
