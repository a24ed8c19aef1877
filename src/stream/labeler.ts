// Frame to labels in one call, for library users: the model's ensemble (its tds.json inference defaults unless
// overridden), then post-processing, giving a FrameResult (class-index mask at the source size, classes present
// in the mask and by the class head, scene, sync). Separate entry points for a still image and a video frame.
import type { Frame, Image } from '../types.js';
import { readTdsJson } from '../model/model-dir.js';
import { resolveInference } from '../model/inference-defaults.js';
import { createEnsemble, type EnsembleOptions } from '../model/ensemble.js';
import type { DetachedOptions } from '../postprocess/detached.js';
import { analyze, type FrameResult } from '../postprocess/analyze.js';

export interface LabelerOptions extends EnsembleOptions {
  /** Remove foreground regions smaller than this many source pixels; default the model's, else 0. */
  minArea?: number;
  /** Remove foreground regions that do not reach the edge of the view (null: off); default the model's. */
  detached?: DetachedOptions | null;
}

export interface Labeler {
  /** Labels a still image. */
  labelImage(image: Image): Promise<FrameResult>;
  /** Labels the left view of a video frame; timestamps must increase. */
  labelFrame(frame: Frame): Promise<FrameResult>;
  readonly classes: string[];
  readonly scenes: string[];
  dispose(): void;
}

export async function createLabeler(modelDir: string, o: LabelerOptions = {}): Promise<Labeler> {
  const meta = readTdsJson(modelDir);
  const s = resolveInference(meta, o);
  const ens = await createEnsemble(modelDir, { ...o, sizes: s.sizes, flip: s.flip, roi: s.roi, largest: s.largest });
  const classes = meta.classes.map((c) => c.name);
  const scenes = meta.scenes.map((c) => c.name);
  let lastPts = -Infinity;
  const run = async (frame: Frame) => {
    const e = await ens.segment(frame.left);
    const r = analyze(frame, e, classes, scenes, { minArea: s.minArea, detached: s.detached });
    e.release?.();
    return r;
  };
  return {
    classes,
    scenes,
    labelImage: (image) => run({ index: 0, ptsMs: 0, left: image }),
    labelFrame: (frame) => {
      if (!(frame.ptsMs > lastPts))
        return Promise.reject(
          new RangeError(
            `labelFrame: timestamps must increase (got ${frame.ptsMs} ms after ${lastPts} ms); use labelImage for stills`,
          ),
        );
      lastPts = frame.ptsMs;
      return run(frame);
    },
    dispose: () => ens.dispose(),
  };
}
