// Data types that cross rooms (shared/DESIGN.md §9). One definition each.

/** An interleaved 8-bit image. `data` is owned by whoever holds the Image; functions never mutate an input. */
export interface Image {
  data: Buffer;
  width: number;
  height: number;
  /** 3 for RGB (the only layout decoders emit), 1 for grey/index. */
  channels: number;
}

/** One decoded moment of video: the left view, and the right view for stereo input. */
export interface Frame {
  /** 0-based position in the emitted stream (after rate selection). */
  index: number;
  /** Presentation time in milliseconds of media time. */
  ptsMs: number;
  left: Image;
  right?: Image;
  /** Source file stem for frame folders (e.g. `frame012`); absent for video. */
  name?: string;
  /** Sequence folder (e.g. `seq_3`) when the source is a ROBOT18-layout folder. */
  sequence?: string;
}

/** A model input size (multiples of 32). */
export interface Size {
  height: number;
  width: number;
}

/** Class probabilities over an image. */
export interface ProbMap {
  /** HWC probabilities. */
  probs: Float32Array;
  width: number;
  height: number;
  numClasses: number;
}

/** What the multi-size ensemble gives for one image: fused probabilities, class presence, scene. */
export interface EnsembleResult {
  fused: ProbMap;
  presence: Float32Array;
  scene: Float32Array;
  /** Sizes that ran, as "HxW". */
  sizes: string[];
  inferMs: number;
  /** Forward passes alone, summed, where the engine times them on its own thread (ORT). */
  runMs?: number;
  /**
   * Hands `fused` back to the engine for the next frame (no allocation per frame): call it when done with
   * `fused`, never before; afterwards it is overwritten. Absent when there is nothing to reuse.
   */
  release?: () => void;
}

/** One frame turned into labels: the mask at the source resolution and the frame-level labels. */
export interface FrameResult {
  frame: Frame;
  /** Class index per pixel at the source (left view) resolution. */
  labels: Uint8Array;
  width: number;
  height: number;
  /** Class-head presence probability per class name. */
  presence: Record<string, number>;
  /** Classes the class head says are present (prob > 0.5). */
  present: string[];
  /** Classes present in the mask. */
  maskPresent: string[];
  scene: { label: string; probs: Record<string, number> };
  /** Agreement of mask and class head over all classes, in [0,1]. */
  sync: number;
  sizes: string[];
  /** Milliseconds: decoding, inference (`run`: its forward passes alone, when known), post-processing. */
  ms: { decode: number; infer: number; run?: number; post: number };
}
