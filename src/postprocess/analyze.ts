// From fused probabilities to a FrameResult: labels at the source resolution (argmax of the bilinearly
// upsampled probabilities), small-region removal, presence from mask and class head, sync consistency, scene.
import type { EnsembleResult, Frame, FrameResult } from '../types.js';

export type { FrameResult };
import { resizeArgmax } from './resize.js';
import { removeSmallRegions } from './small-regions.js';
import { removeDetached, type DetachedOptions } from './detached.js';
import { headPresent, maskPresent, sceneLabel, syncConsistency } from './presence.js';

export interface PostOptions {
  minArea: number;
  connectivity?: 4 | 8;
  perClass?: Record<number, number>;
  /** Remove foreground regions that do not reach the edge of the view (src/postprocess/detached.ts); null: off. */
  detached?: DetachedOptions | null;
}

export function analyze(
  frame: Frame,
  e: EnsembleResult,
  classNames: string[],
  sceneNames: string[],
  o: PostOptions,
  decodeMs = 0,
): FrameResult {
  const t0 = performance.now();
  const { width, height } = frame.left;
  let labels = resizeArgmax(e.fused, width, height);
  if (o.minArea > 0 || o.perClass)
    labels = removeSmallRegions(labels, width, height, {
      minArea: o.minArea,
      connectivity: o.connectivity ?? 8,
      perClass: o.perClass,
      inPlace: true, // resizeArgmax's fresh array, not used otherwise
    });
  // After small-region removal: a small detached fragment joined to a stable region is judged with it.
  if (o.detached) removeDetached(labels, frame.left, o.detached);
  const C = classNames.length;
  const inMask = maskPresent(labels, C);
  const inHead = e.presence.length ? headPresent(e.presence) : inMask;
  const scene = e.scene.length ? sceneLabel(e.scene, sceneNames) : { label: 'unknown', id: -1, probs: {} };
  return {
    frame,
    labels,
    width,
    height,
    presence: Object.fromEntries(classNames.map((n, k) => [n, Math.round((e.presence[k] ?? NaN) * 1e4) / 1e4])),
    present: inHead.map((k) => classNames[k]),
    maskPresent: inMask.map((k) => classNames[k]),
    scene: { label: scene.label, probs: scene.probs },
    sync: syncConsistency(inMask, inHead, C),
    sizes: e.sizes,
    ms: { decode: decodeMs, infer: e.inferMs, run: e.runMs, post: performance.now() - t0 },
  };
}
