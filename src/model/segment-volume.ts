// Segments MRI volumes with a 3D model folder: the case's modalities (z-scored in the brain) at the model's working
// resolution, sliding-window inference with ONNX Runtime (overlapping patches blended by a Gaussian), the class
// probabilities brought back to the input's voxels (trilinear, argmax), background outside the brain, small
// tumour components removed in 3D, label values as the model's config names them.
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { TdsError } from '../errors.js';
import type { LoadedCase } from '../ingest/brats.js';
import { downsample2, halfDims, upsampleArgmax2, type Dims3 } from '../ingest/volume-resample.js';
import { removeSmallComponents3d } from '../postprocess/small-regions3d.js';
import { readTds3dJson, type Tds3dJson } from './model3d-dir.js';
import { slidingWindow } from './sliding-window.js';

export interface VolumeResult {
  /** Label values (the config's), x fastest, in the input's geometry. */
  labels: Uint8Array;
  /** Milliseconds: inference (sliding window) and the whole case. */
  inferMs: number;
  totalMs: number;
  patches: number;
  removedVoxels: number;
}

export interface VolumeSegmenter {
  meta: Tds3dJson;
  segment(c: LoadedCase): Promise<VolumeResult>;
  dispose(): Promise<void>;
}

export async function createVolumeSegmenter(dir: string, o: { threads?: number } = {}): Promise<VolumeSegmenter> {
  const meta = readTds3dJson(dir);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(join(dir, meta.files.onnx), {
      graphOptimizationLevel: 'all',
      ...(o.threads ? { intraOpNumThreads: o.threads } : {}),
    });
  } catch (e) {
    throw new TdsError(
      'BAD_MODEL',
      `onnxruntime cannot load ${join(dir, meta.files.onnx)}: ${(e as Error).message.split('\n')[0]}`,
      'the folder is incomplete or damaged: restore model.onnx from the run that trained it',
    );
  }
  const C = meta.spec.classes;
  const values = meta.classes.map((c) => c.value);
  return {
    meta,
    async segment(c) {
      const t0 = performance.now();
      if (c.channels.length !== meta.spec.modalities)
        throw new TdsError(
          'BAD_DATASET',
          `${c.case.dir}: ${c.channels.length} modalities read, the model takes ${meta.modalities.join(', ')}`,
          'read the case with the modalities in the model tds.json',
        );
      const full = c.reference.dims as Dims3;
      const scaled = meta.voxelScale === 2;
      const dims = scaled ? halfDims(full) : full;
      const channels = scaled ? c.channels.map((v) => downsample2(v, full)) : c.channels;
      let patches = 0;
      const t1 = performance.now();
      const probs = await slidingWindow(
        channels,
        dims,
        C,
        async (patch, [px, py, pz]) => {
          patches++;
          const input = new Float32Array(patch.length * px * py * pz);
          patch.forEach((p, i) => input.set(p, i * p.length));
          const out = await session.run({
            [session.inputNames[0]]: new ort.Tensor('float32', input, [1, patch.length, pz, py, px]),
          });
          return out.seg.data as Float32Array;
        },
        { patch: meta.patch as Dims3, overlap: meta.inference.overlap, blend: meta.inference.blend },
      );
      const inferMs = performance.now() - t1;
      let idx: Uint8Array;
      if (scaled) idx = upsampleArgmax2(probs, dims, full, C);
      else {
        const n = probs.length / C;
        idx = new Uint8Array(n);
        for (let i = 0; i < n; i++) {
          let best = 0;
          for (let k = 1; k < C; k++) if (probs[k * n + i] > probs[best * n + i]) best = k;
          idx[i] = best;
        }
      }
      for (let i = 0; i < idx.length; i++) if (!c.brain[i]) idx[i] = 0;
      const { removed } = removeSmallComponents3d(idx, full, meta.inference.minVoxels);
      const labels = new Uint8Array(idx.length);
      for (let i = 0; i < idx.length; i++) labels[i] = values[idx[i]];
      return { labels, inferMs, totalMs: performance.now() - t0, patches, removedVoxels: removed };
    },
    dispose: () => session.release(),
  };
}
