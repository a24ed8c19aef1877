// Inference settings a run uses: what the user asked for, else the model folder's own defaults (tds.json
// `inference`, e.g. chosen by cross-validation), else the model's input size alone, no flip, no region removal.
import type { TdsJson } from './model-dir.js';
import type { RoiOptions } from './roi.js';
import type { DetachedOptions } from '../postprocess/detached.js';

export interface InferenceSettings {
  sizes: Array<{ height: number; width: number }>;
  flip: boolean;
  minArea: number;
  /** Two-stage inference around a region, or null for one pass. */
  roi: RoiOptions | null;
  /** Keep only the largest region of these classes (one pass), or null. */
  largest: number[] | null;
  /** Remove foreground regions that do not reach the edge of the view, or null. */
  detached: DetachedOptions | null;
}

export function resolveInference(
  meta: TdsJson,
  asked: {
    sizes?: Array<{ height: number; width: number }>;
    flip?: boolean;
    minArea?: number;
    roi?: RoiOptions | null;
    largest?: number[] | null;
    detached?: DetachedOptions | null;
  },
): InferenceSettings {
  return {
    sizes: asked.sizes ?? meta.inference?.sizes ?? [meta.inputSize],
    flip: asked.flip ?? meta.inference?.flip ?? false,
    minArea: asked.minArea ?? meta.inference?.minArea ?? 0,
    roi: asked.roi !== undefined ? asked.roi : (meta.inference?.roi ?? null),
    largest: asked.largest !== undefined ? asked.largest : (meta.inference?.largest ?? null),
    detached: asked.detached !== undefined ? asked.detached : (meta.inference?.detached ?? null),
  };
}
