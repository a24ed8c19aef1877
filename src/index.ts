// The tds library: what the CLI and the server are thin shells over. Segment images and frames, batch-process
// recorded procedures, evaluate with the challenge metrics, train, and serve live results.
import type { BackendName } from './model/backend.js';
import type { TrainOptions, TrainResult } from './train/run.js';
import type { CvOptions, CvReport } from './train/cv.js';
export type { Image, Frame } from './types.js';
export { TdsError, isTdsError, type TdsErrorCode } from './errors.js';
export { bundledModel, packageRoot } from './package-paths.js';

// Input
export { readRgb, readRaw, writePng } from './ingest/image-io.js';
export { decodeVideo, openDecoder, type DecodeOptions } from './ingest/decode.js';
export { probeVideo } from './ingest/probe.js';
export { scanFolder, folderFrames, type FolderDataset } from './ingest/folders.js';
export { loadPalette, type Palette } from './ingest/palette.js';
export { fundusScenes, readBmp, type FundusScene } from './ingest/fundus.js';
export { readNifti, writeNiftiLabels, niftiHeader, type Volume } from './ingest/nifti.js';
export { findCases, scanCase, loadCase, type BratsCase, type LoadedCase, type Modality } from './ingest/brats.js';

// Models and inference
export type { BackendName } from './model/backend.js';
export {
  createSegmenter,
  type Segmenter,
  type SegmenterOptions,
  type Segmentation,
  type EngineName,
} from './model/segmenter.js';
export { readTdsJson, type TdsJson } from './model/model-dir.js';
export { createEnsemble, type Ensemble, type EnsembleOptions, type EnsembleResult } from './model/ensemble.js';
export { createLabeler, type Labeler, type LabelerOptions } from './stream/labeler.js';
export { analyze, type FrameResult } from './postprocess/analyze.js';
export { removeSmallRegions } from './postprocess/small-regions.js';
export { removeDetached, DETACHED_DEFAULTS, type DetachedOptions } from './postprocess/detached.js';
export { roiRect, pasteRoi, type RoiOptions } from './model/roi.js';
export { slidingWindow, type SlidingWindowOptions, type PatchPredictor } from './model/sliding-window.js';

// Batch, live, evaluation, training
export { processInput, type ProcessOptions, type ProcessSummary } from './stream/process.js';
export { serve, type ServeOptions, type ServeHandle } from './stream/serve.js';
export {
  liveFrames,
  liveSegment,
  keepOpen,
  sourceFrames,
  type LiveResult,
  type LiveCounts,
  type LiveSegmentOptions,
} from './stream/live.js';
export {
  McapRecorder,
  openRecording,
  type RecordOptions,
  type RecordingInfo,
  type RecordedFrame,
} from './stream/mcap.js';
export { CHANNELS as FOXGLOVE_CHANNELS, FOXGLOVE_TOPICS, type PublishedFrame } from './stream/foxglove.js';
export { evaluateFolders, type EvalOptions } from './eval/evaluate.js';
export { SegmentationMetrics, type EvalResult } from './eval/metrics.js';
export { RefugeMetrics, type RefugeResult, type RefugeImage } from './eval/refuge.js';
export { bratsScores, dice, hd95, type BratsConvention, type BratsRegion } from './eval/brats.js';
export { evaluateBrats, type BratsEvalResult } from './eval/brats-eval.js';
export type { TrainOptions, TrainResult } from './train/run.js';
export { loadRunConfig } from './train/config.js';
export type { CvOptions, CvReport } from './train/cv.js';

// tfjs is loaded by these on their first call, not by importing tds: a server or batch job built on the library
// (ORT engine) then carries no tfjs heap, which every full GC would mark (18.6 MB; see README, live tail).
/** Selects the tfjs backend for training and the tfjs engine ('wasm' default, 'cpu', 'tensorflow' when installed). */
export async function useBackend(name?: BackendName): Promise<string> {
  return (await import('./model/backend.js')).useBackend(name);
}
/** Trains a model (see `tds train`). */
export async function train(o: TrainOptions): Promise<TrainResult> {
  return (await import('./train/run.js')).train(o);
}
/** Leave-one-sequence-out cross-validation (see `tds cv`). */
export async function crossValidate(o: CvOptions): Promise<CvReport> {
  return (await import('./train/cv.js')).crossValidate(o);
}
