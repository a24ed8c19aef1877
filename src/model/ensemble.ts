// Multi-size ensemble on top of the segmenter: the model runs at several input sizes (and, with flip TTA, on
// the mirrored frame too); class probabilities are fused at the largest size, presence and scene averaged.
import { createSegmenter, type Segmenter, type SegmenterOptions } from './segmenter.js';
import { TdsError } from '../errors.js';
import { resolve } from 'node:path';
import { makeDirs } from '../fs-safe.js';
import { readTdsJson, writeTdsJson, type TdsJsonInput } from './model-dir.js';
import type { EnsembleResult, Image, ProbMap, Size } from '../types.js';

export type { EnsembleResult, Size };
import { fuseProbabilities } from '../postprocess/fuse.js';
import { flipProbsHorizontal } from '../postprocess/resize.js';
import { keepLargestRegion, pasteRoi, roiRect, type RoiOptions } from './roi.js';
import { cropImage } from '../ingest/crop.js';

export interface EnsembleOptions extends Omit<SegmenterOptions, 'size'> {
  /** Input sizes (HxW, multiples of 32); default the model's own size. */
  sizes?: Size[];
  /** Fusion weights, one per size; default equal. */
  weights?: number[];
  /** Horizontal-flip test-time augmentation (doubles the work). */
  flip?: boolean;
  /** Two-stage inference: segment again a square crop around the region of these classes (src/model/roi.ts). */
  roi?: RoiOptions | null;
  /** One pass, keeping only the largest connected region of these classes (one structure per image). */
  largest?: number[] | null;
}

export interface Ensemble {
  /** One segmenter per size (the first member model's, for its info). */
  readonly members: Segmenter[];
  /** Models averaged at every size (1, or an averaged model's member count). */
  readonly models: number;
  readonly sizes: Size[];
  /** Runs all members, or the first `limit` sizes (the adaptive live ensemble drops the largest last). */
  segment(image: Image, limit?: number): Promise<EnsembleResult>;
  dispose(): void;
}

/** Largest model input side an ensemble member may run at. */
export const MAX_INPUT_SIDE = 2048;

export function parseSizes(s: string): Size[] {
  const sizes = s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => {
      const m = /^(\d+)x(\d+)$/.exec(x);
      if (!m)
        throw new TdsError(
          'BAD_OPTION',
          `--sizes entries must be HxW, got ${JSON.stringify(x)}`,
          'e.g. --sizes 256x320,320x416',
        );
      const size = { height: Number(m[1]), width: Number(m[2]) };
      if (size.height % 32 || size.width % 32 || !size.height || !size.width)
        throw new TdsError(
          'BAD_OPTION',
          `--sizes ${x} is not a multiple of 32 in both dimensions`,
          'e.g. --sizes 256x320,320x416',
        );
      // The network's input, not the video's: past 2048 px a side it needs gigabytes and sees no more detail.
      if (size.height > MAX_INPUT_SIDE || size.width > MAX_INPUT_SIDE)
        throw new TdsError(
          'BAD_OPTION',
          `--sizes ${x} is larger than ${MAX_INPUT_SIDE} px on a side`,
          `use model input sizes up to ${MAX_INPUT_SIDE}x${MAX_INPUT_SIDE}, e.g. 512x640; masks are written at the source size whatever the input size`,
        );
      return size;
    });
  if (!sizes.length) throw new TdsError('BAD_OPTION', '--sizes is empty', 'e.g. --sizes 256x320');
  return sizes;
}

function flipImage(img: Image): Image {
  const out = Buffer.alloc(img.data.length);
  const row = img.width * 3;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const s = y * row + x * 3;
      const d = y * row + (img.width - 1 - x) * 3;
      out[d] = img.data[s];
      out[d + 1] = img.data[s + 1];
      out[d + 2] = img.data[s + 2];
    }
  }
  return { ...img, data: out };
}

/** The model folders an ensemble runs: an averaged model's members (tds.json `members`), else the folder. */
export function modelMembers(modelDir: string): string[] {
  const meta = readTdsJson(modelDir);
  if (!meta.members) return [modelDir];
  const dirs = meta.members.map((m) => resolve(modelDir, m));
  const names = JSON.stringify(meta.classes.map((c) => c.name));
  for (const d of dirs) {
    const m = readTdsJson(d);
    if (m.members)
      throw new TdsError(
        'BAD_MODEL',
        `${d}: an averaged model's member averages models itself`,
        'list the member folders directly',
      );
    if (JSON.stringify(m.classes.map((c) => c.name)) !== names)
      throw new TdsError(
        'BAD_MODEL',
        `${d} has other classes than ${modelDir}`,
        'average only models of the same classes',
      );
  }
  return dirs;
}

/** Writes an averaged model folder: tds.json naming `members` (relative paths are kept as given). */
export async function writeAveragedModel(
  dir: string,
  members: string[],
  extra: Partial<TdsJsonInput> = {},
): Promise<void> {
  const metas = members.map((m) => readTdsJson(resolve(dir, m)));
  const { onnx: _onnx, files: _files, params: _p, gflops: _g, inference: _inf, ...shared } = metas[0];
  // Members may be built differently (instance norm drops conv biases, a wider encoder adds channels): sum them.
  const sum = (k: 'params' | 'gflops') =>
    metas.some((m) => m[k] === undefined) ? undefined : metas.reduce((a, m) => a + m[k]!, 0);
  const params = sum('params');
  const gflops = sum('gflops');
  makeDirs(dir, 'model folder');
  await writeTdsJson(dir, {
    ...shared,
    files: {},
    members,
    params,
    gflops: gflops === undefined ? undefined : Math.round(gflops * 100) / 100,
    ...extra,
  });
}

export async function createEnsemble(modelDir: string, o: EnsembleOptions = {}): Promise<Ensemble> {
  const dirs = modelMembers(modelDir);
  const sizes = o.sizes ?? [readTdsJson(dirs[0]).inputSize];
  if (o.weights && o.weights.length !== sizes.length)
    throw new TdsError(
      'BAD_OPTION',
      `${o.weights.length} fusion weights for ${sizes.length} sizes`,
      'give one weight per size',
    );
  // groups[i]: one segmenter per member model at sizes[i]; members: the first model's, one per size.
  const groups: Segmenter[][] = [];
  const all = () => groups.flat();
  try {
    for (const s of sizes) {
      const g: Segmenter[] = [];
      groups.push(g);
      for (const d of dirs) g.push(await createSegmenter(d, { ...o, size: s }));
    }
  } catch (e) {
    all().forEach((m) => m.dispose());
    throw e;
  }
  const members = groups.map((g) => g[0]);
  // Largest first is not required: fusion resizes to the largest map.
  const once = async (image: Image, limit: number): Promise<EnsembleResult> => {
    const t0 = performance.now();
    const use = groups.slice(0, Math.max(1, limit));
    const maps: ProbMap[] = [];
    const weights: number[] = [];
    const presence = new Float32Array(members[0].info.meta.classes.length);
    const scene = new Float32Array(members[0].info.meta.scenes.length);
    let runs = 0;
    let runMs: number | undefined;
    // Member outputs the engine may reuse once nothing reads them (see Segmentation.recycle).
    const recyclers: Array<() => void> = [];
    const flipped = o.flip ? flipImage(image) : undefined;
    for (const [i, g] of use.entries()) {
      for (const m of g) {
        for (const img of flipped ? [image, flipped] : [image]) {
          const r = await m.segmentImage(img);
          const map = { probs: r.probs, width: r.width, height: r.height, numClasses: r.numClasses };
          if (img === flipped) {
            maps.push(flipProbsHorizontal(map));
            r.recycle?.();
          } else {
            maps.push(map);
            if (r.recycle) recyclers.push(r.recycle);
          }
          weights.push(o.weights?.[i] ?? 1);
          r.presence.forEach((v, k) => (presence[k] += v));
          r.scene.forEach((v, k) => (scene[k] += v));
          if (r.runMs !== undefined) runMs = (runMs ?? 0) + r.runMs;
          runs++;
        }
      }
    }
    for (let k = 0; k < presence.length; k++) presence[k] /= runs;
    for (let k = 0; k < scene.length; k++) scene[k] /= runs;
    const fused = maps.length === 1 ? maps[0] : fuseProbabilities(maps, { weights });
    // Fusion made a new map: the members' are free now. A single map is the engine's buffer: the caller
    // releases it when done.
    if (maps.length > 1) recyclers.splice(0).forEach((f) => f());
    return {
      fused,
      presence,
      scene,
      sizes: use.map((g) => `${g[0].info.inputSize.height}x${g[0].info.inputSize.width}`),
      inferMs: performance.now() - t0,
      runMs,
      release: recyclers.length ? () => recyclers.splice(0).forEach((f) => f()) : undefined,
    };
  };
  return {
    members,
    sizes,
    models: dirs.length,
    async segment(image, limit = groups.length) {
      const first = await once(image, limit);
      const rect = o.roi ? roiRect(first.fused, image.width, image.height, o.roi) : undefined;
      if (!rect) {
        if (!o.largest?.length) return first;
        // keepLargestRegion and pasteRoi make new maps: the passes' own buffers are free after them.
        const fused = keepLargestRegion(first.fused, o.largest);
        first.release?.();
        return { ...first, fused, release: undefined };
      }
      first.release?.();
      const second = await once(cropImage(image, rect), limit);
      const fused = pasteRoi(keepLargestRegion(second.fused, o.roi!.classes), rect, image.width, image.height);
      second.release?.();
      // Presence and scene from the crop: the view in which the structure is resolved.
      return {
        ...second,
        fused,
        release: undefined,
        inferMs: first.inferMs + second.inferMs,
        runMs: first.runMs === undefined ? undefined : first.runMs + (second.runMs ?? 0),
      };
    },
    dispose() {
      all().forEach((m) => m.dispose());
    },
  };
}
