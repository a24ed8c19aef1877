// The Segmenter interface and what every engine shares (the engines import this; segmenter.ts, the factory,
// imports the engines). Results are plain copied arrays (no tensors escape), so callers never dispose per-frame
// data.
import { TdsError } from '../errors.js';
import type { Frame, Image } from '../types.js';
import type { BackendName } from './backend.js';
import type { TdsJson } from './model-dir.js';

export type EngineName = 'ort' | 'tfjs';
export const ENGINES: readonly EngineName[] = ['ort', 'tfjs'];
export type ExecutionProvider = 'cpu' | 'cuda' | 'tensorrt';

export interface SegmenterOptions {
  /** Inference engine; default `ort` (onnxruntime-node), `tfjs` for the tfjs backends. */
  engine?: EngineName;
  /** tfjs backend (engine tfjs); default wasm. */
  backend?: BackendName;
  /** ORT execution providers in order of preference (engine ort); default ['cpu']. CPU is always the fallback. */
  executionProviders?: ExecutionProvider[];
  /** ORT intra-op threads; default the number of cores. */
  threads?: number;
  /** ORT: let intra-op threads busy-wait between runs (default off: it starves the rest of the pipeline; only
   * back-to-back inference with nothing else to do gains from it, ~8%). */
  spinning?: boolean;
  /** Run at this input size instead of the model's (multiples of 32; for multi-size ensembles). */
  size?: { height: number; width: number };
}

export interface Segmentation {
  /** Class probabilities, HWC row-major, at the model input size (height x width x numClasses). Owned by the caller. */
  probs: Float32Array;
  width: number;
  height: number;
  numClasses: number;
  /** Per-class presence probability from the class head (sigmoid of its logits); empty when the model has no class head. */
  presence: Float32Array;
  /** Scene probabilities (softmax); empty when the model has no scene head. */
  scene: Float32Array;
  /** Inference time in ms (preprocess + forward + read back). */
  ms: number;
  /** The forward pass alone where the engine runs it on another thread (ORT): the rest of `ms` is this thread's. */
  runMs?: number;
  /**
   * Hands `probs` back to the engine for a later frame (no allocation per frame): call it only when done with
   * `probs`; afterwards they are overwritten. Absent when the engine has nothing to reuse.
   */
  recycle?: () => void;
}

export interface SegmenterInfo {
  engine: EngineName;
  /** What actually runs: the tfjs backend, or the ORT execution provider (never a silent substitute). */
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

/** What every engine shares: the video-frame entry point (increasing timestamps) and idempotent disposal. */
export abstract class BaseSegmenter implements Segmenter {
  private readonly clock = new FrameClock();
  protected disposed = false;
  abstract readonly info: SegmenterInfo;
  abstract segmentImage(image: Image): Promise<Segmentation>;
  protected abstract release(): void;

  async segmentFrame(frame: Frame, ptsMs = frame.ptsMs): Promise<Segmentation> {
    this.clock.check(frame, ptsMs);
    return this.segmentImage(frame.left);
  }

  protected assertOpen(): void {
    if (this.disposed)
      throw new TdsError('BAD_OPTION', 'segmenter was disposed', 'create a new one with createSegmenter');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.release();
  }
}

/** Shared timestamp rule of segmentFrame. */
export class FrameClock {
  private last = -Infinity;
  check(frame: Frame, ptsMs: number): void {
    if (!(ptsMs > this.last)) {
      throw new TdsError(
        'BAD_OPTION',
        `frame ${frame.index}: timestamp ${ptsMs} ms does not increase (last ${this.last} ms)`,
        'pass frames of one stream in order, or use segmentImage for unrelated images',
      );
    }
    this.last = ptsMs;
  }
}
