// `tds process` as a library function: a video, frame folder or image through the ensemble, post-processing and
// writers. Batch policy (lossless, ordered). Every output file is written atomically; labels.ndjson grows one
// line per finished frame, so --resume knows what is complete and gives identical results.
import { makeDirs, writeAtomic } from '../fs-safe.js';
import { existsSync, statSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { lockOutput } from './out-lock.js';
import { join, resolve } from 'node:path';
import { TdsError } from '../errors.js';
import type { Frame, Image } from '../types.js';
import { writePng, readRaw } from '../ingest/image-io.js';
import { encodeVideo } from '../ingest/encode.js';
import { packageVersions, readTdsJson } from '../model/model-dir.js';
import type { DetachedOptions } from '../postprocess/detached.js';
import { resolveInference } from '../model/inference-defaults.js';
import type { EngineName, ExecutionProvider } from '../model/segmenter.js';
import type { BackendName } from '../model/backend.js';
import { colorize, renderOverlay, type Rgb } from '../postprocess/render.js';
import { createEnsemble, type Ensemble, type Size } from '../model/ensemble.js';
import type { RoiOptions } from '../model/roi.js';
import { analyze, type FrameResult } from '../postprocess/analyze.js';
import { openSource, type SourceOptions } from './source.js';
import { segmentInOrder } from './batch.js';
import { channel } from './channel.js';
import { resumePoint } from './resume.js';
import type { FrameLine } from './frame-line.js';

export type { FrameLine };
import { videoFrameStem } from '../ingest/frame-names.js';
import type { RunRecording } from './run-recording.js';

export interface ProcessOptions extends SourceOptions {
  /** The model folder. */
  model: string;
  /** The output folder (created; refused if it holds another run's outputs, unless `resume`). */
  out: string;
  /** Inference engine. Default `ort` (onnxruntime-node, CPU). */
  engine?: EngineName;
  /** tfjs backend when `engine` is tfjs. Default `wasm`. */
  backend?: BackendName;
  /** ORT execution providers in order; CPU is the fallback. Default `['cpu']`. */
  executionProviders?: ExecutionProvider[];
  /** Ensemble input sizes. Default the model's `inference.sizes`, else its input size. */
  sizes?: Size[];
  /** Fusion weight per size. Default equal. */
  weights?: number[];
  /** Horizontal-flip test-time augmentation. Default the model's `inference.flip`, else false. */
  flip?: boolean;
  /** Remove foreground regions smaller than this many pixels. Default the model's `inference.minArea`, else 0. */
  minArea?: number;
  /** Write colour PNGs (`color/`) beside the index masks; default true. */
  color?: boolean;
  /** Two-stage inference around a region (null: one pass). Default the model's `inference.roi`. */
  roi?: RoiOptions | null;
  /** Keep only the largest region of these classes (one pass). Default the model's `inference.largest`. */
  largest?: number[] | null;
  /** Remove foreground regions that do not reach the edge of the view (null: off). Default the model's
   * `inference.detached`. */
  detached?: DetachedOptions | null;
  /** Also write overlay.mp4. Default false. */
  overlay?: boolean;
  /** Also record frames, masks and labels as MCAP (Foxglove channels) to this file. Default none. */
  mcap?: string;
  /** ORT intra-op threads. Default the number of cores (queue workers give each chunk fewer). */
  threads?: number;
  /** An ensemble already made for `model` with these settings, used and left open (a queue worker runs many
   * chunks through one, instead of a new ORT session per chunk). Default: one made and disposed here. */
  ensemble?: Ensemble;
  /** Continue an interrupted run in `out` (same settings). Default false. */
  resume?: boolean;
  /** Aborting stops after the frame in progress; what is done stays valid and `--resume` continues it. */
  signal?: AbortSignal;
  /** Called after each finished frame. */
  onFrame?: (done: number, total: number | undefined, r: FrameLine) => void;
}

export interface ProcessSummary {
  input: string;
  out: string;
  frames: number;
  resumedFrames: number;
  fps: number;
  wallMs: number;
  error?: string;
  /** True when the signal stopped the run early. */
  interrupted?: boolean;
}

/** Output name of a frame: its source stem (with its sequence folder for ROBOT18 input) or frame000000. */
export function frameName(f: Frame): string {
  if (f.name) return f.sequence ? `${f.sequence}/${f.name}` : f.name;
  return videoFrameStem(f.index);
}

/** The settings that must match for --resume to reuse earlier frames. */
function settingsOf(input: string, o: ProcessOptions, sizes: string[]) {
  return {
    input: resolve(input),
    model: resolve(o.model),
    sizes,
    weights: o.weights ?? null,
    flip: !!o.flip,
    minArea: o.minArea!,
    // Only runs without colour PNGs carry it (a resumed run must not leave frames without them).
    ...(o.color === false ? { color: false } : {}),
    // Only a two-stage model's runs carry it, so earlier runs' settings (and --resume) stay as they were.
    ...(o.roi ? { roi: o.roi } : {}),
    ...(o.largest?.length ? { largest: o.largest } : {}),
    ...(o.detached ? { detached: o.detached } : {}),
    rate: o.rate ?? 'native',
    stereo: o.stereo ?? 'none',
    right: o.right ? resolve(o.right) : null,
    sequences: o.sequences ?? null,
    // Only a chunk of a recording (tds queue) has a range; a whole run's settings stay as they were.
    ...(o.from !== undefined || o.until !== undefined ? { range: [o.from ?? 0, o.until ?? null] } : {}),
  };
}

export async function processInput(input: string, o: ProcessOptions): Promise<ProcessSummary> {
  if (o.minArea !== undefined && (!Number.isInteger(o.minArea) || o.minArea < 0))
    throw new TdsError(
      'BAD_OPTION',
      `--min-area must be a non-negative integer, got ${o.minArea}`,
      'e.g. --min-area 50',
    );
  if (existsSync(o.out) && !statSync(o.out).isDirectory())
    throw new TdsError('BAD_OUTPUT', `output ${o.out} is a file, not a folder`, 'give a folder path with --out');
  readTdsJson(o.model); // a bad model folder fails before anything is created
  makeDirs(o.out);
  // One writer per folder: a second run started at the same moment is refused, not silently merged.
  const release = lockOutput(o.out);
  try {
    return await processLocked(input, o);
  } finally {
    release();
  }
}

/** Frames written concurrently: enough to keep libuv's 4 threads busy while the next frames are segmented. */
const IN_FLIGHT = 3;
/**
 * zlib level of the mask and colour PNGs: 3 encodes a 1280x1024 mask in ~3.6 ms and a colour map in ~5.4 (level 6:
 * 5.9 and 8.1) for files ~20-35% larger (6.8 and 11 KB); level 1 saves little more and writes them 4x larger.
 */
const PNG_LEVEL = 3;

async function processLocked(input: string, o: ProcessOptions): Promise<ProcessSummary> {
  const t0 = performance.now();
  const meta = readTdsJson(o.model);
  // The model folder's inference defaults fill what the caller left unset.
  o = { ...o, ...resolveInference(meta, o) };
  const sizes = o.sizes!.map((s) => `${s.height}x${s.width}`);
  const settings = settingsOf(input, o, sizes);
  const runJson = join(o.out, 'run.json');
  const done = await resumePoint(o.out, settings, !!o.resume);
  const source = await openSource(input, o);
  const ens =
    o.ensemble ??
    (await createEnsemble(o.model, {
      engine: o.engine,
      backend: o.backend,
      executionProviders: o.executionProviders,
      threads: o.threads,
      sizes: o.sizes,
      weights: o.weights,
      flip: o.flip,
      roi: o.roi,
      largest: o.largest,
    }));
  const classNames = meta.classes.map((c) => c.name);
  const sceneNames = meta.scenes.map((s) => s.name);
  const colors = meta.classes.map((c) => c.color as Rgb);
  const lines = new Map<string, FrameLine>(done);
  // The overlay video is encoded while frames are processed (a bounded queue to ffmpeg), never held in memory:
  // an hour at 1280x1024 would be hundreds of GB.
  const overlays = o.overlay ? channel<Image>(4) : undefined;
  const encoding = overlays ? encodeVideo(join(o.out, 'overlay.mp4'), overlays, { fps: source.fps ?? 25 }) : undefined;
  encoding?.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
  const pushOverlay = (img: Image) => overlays!.push(img.width % 2 || img.height % 2 ? cropEven(img) : img);
  let recorder: RunRecording | undefined;
  try {
    // Loaded only when asked for: the MCAP code stays out of every other run's start-up.
    if (o.mcap)
      recorder = await (await import('./run-recording.js')).RunRecording.open(o.mcap, meta, ens.members[0].info, input);
  } catch (e) {
    source.close();
    if (!o.ensemble) ens.dispose();
    overlays?.fail(e as Error);
    await encoding?.catch(() => {});
    throw e;
  }
  const record = async (f: Frame, mask: Uint8Array, width: number, height: number, l: FrameLine) =>
    recorder?.record(f, mask, width, height, l);
  let processed = 0;
  let resumed = 0;
  // Frames whose PNGs are being written, oldest first (each waits for the one before).
  const inFlight: Array<Promise<void>> = [];
  let error: TdsError | undefined;
  let interrupted = false;
  const writeRun = async (finished: boolean) => {
    const m = ens.members[0].info;
    await writeAtomic(
      runJson,
      JSON.stringify(
        {
          input: resolve(input),
          model: { dir: resolve(o.model), profile: meta.profile, classes: classNames, scenes: sceneNames },
          engine: m.engine,
          backend: m.backend,
          sizes,
          flip: !!o.flip,
          minArea: o.minArea!,
          settings,
          versions: packageVersions(),
          counts: { frames: lines.size, processed, resumed },
          timings: {
            wallMs: Math.round(performance.now() - t0),
            fps: Math.round((processed / ((performance.now() - t0) / 1000)) * 100) / 100,
          },
          finished,
          interrupted,
          error: error?.message,
        },
        null,
        2,
      ) + '\n',
    );
  };
  try {
    await writeRun(false);
    const skip = (f: Frame) => done.has(frameName(f));
    for await (const s of segmentInOrder(source.frames, ens, skip)) {
      if (o.signal?.aborted) {
        interrupted = true;
        break;
      }
      const name = frameName(s.frame);
      if ('skipped' in s) {
        resumed++;
        if (o.overlay || recorder) {
          const mask = await readRaw(join(o.out, 'masks', `${name}.png`));
          if (o.overlay)
            await pushOverlay(
              await renderOverlay(
                s.frame.left,
                mask.data,
                colors,
                classNames,
                done.get(name)!.maskPresent.map((n) => classNames.indexOf(n)),
              ),
            );
          await record(s.frame, mask.data, mask.width, mask.height, done.get(name)!);
        }
        continue;
      }
      const r: FrameResult = analyze(
        s.frame,
        s.result,
        classNames,
        sceneNames,
        { minArea: o.minArea!, detached: o.detached },
        s.decodeMs,
      );
      s.result.release?.();
      const w0 = performance.now();
      // PNG encoding runs on libuv's threads: the loop goes on to the next frame meanwhile (a few frames in
      // flight), and each frame's completion record still follows its PNGs and the frames before it.
      const pngs = Promise.all([
        writePng(
          join(o.out, 'masks', `${name}.png`),
          {
            data: Buffer.from(r.labels.buffer, r.labels.byteOffset, r.labels.length),
            width: r.width,
            height: r.height,
            channels: 1,
          },
          PNG_LEVEL,
        ),
        o.color === false
          ? undefined
          : writePng(join(o.out, 'color', `${name}.png`), colorize(r.labels, r.width, r.height, colors), PNG_LEVEL),
      ]);
      pngs.catch(() => {}); // awaited in order below; this only keeps a failure from going unhandled meanwhile
      if (overlays)
        await pushOverlay(
          await renderOverlay(
            s.frame.left,
            r.labels,
            colors,
            classNames,
            r.maskPresent.map((n) => classNames.indexOf(n)),
          ),
        );
      const complete = async () => {
        await pngs;
        const write = performance.now() - w0;
        const line: FrameLine = {
          frame: s.frame.index,
          name,
          ptsMs: s.frame.ptsMs,
          presence: r.presence,
          present: r.present,
          maskPresent: r.maskPresent,
          scene: r.scene,
          sync: r.sync,
          sizes: r.sizes,
          ms: {
            decode: round(r.ms.decode),
            infer: round(r.ms.infer),
            post: round(r.ms.post),
            write: round(write),
            total: round(r.ms.decode + r.ms.infer + r.ms.post + write),
          },
        };
        // The line is the frame's completion record: written after its PNGs.
        await record(s.frame, r.labels, r.width, r.height, line);
        await appendFile(join(o.out, 'labels.ndjson'), JSON.stringify(line) + '\n');
        lines.set(name, line);
        processed++;
        o.onFrame?.(processed + resumed, source.total, line);
      };
      const prev = inFlight.at(-1) ?? Promise.resolve();
      const completed = prev.then(complete);
      completed.catch(() => {});
      inFlight.push(completed);
      if (inFlight.length > IN_FLIGHT) await inFlight.shift();
    }
    // Every frame handed to the writers is complete (or its failure thrown) before the run is summed up.
    while (inFlight.length) await inFlight.shift();
  } catch (e) {
    // Frames still being written finish (or fail) before the run is summed up: nothing writes after run.json.
    await Promise.allSettled(inFlight.splice(0));
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof TdsError) error = e;
    else if (code === 'ENOSPC')
      error = new TdsError(
        'BAD_OUTPUT',
        `no space left on the disk of ${o.out}`,
        'free disk space, or write to another disk; the frames written before are complete and --resume continues',
      );
    else if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM')
      error = new TdsError(
        'BAD_OUTPUT',
        `cannot write into ${o.out}: ${(e as Error).message}`,
        'make the output folder writable, or choose another --out',
      );
    else error = new TdsError('CORRUPT_VIDEO', `processing stopped: ${(e as Error).message}`, 'check the input');
  } finally {
    source.close();
    if (!o.ensemble) ens.dispose();
  }
  // Final ordered rewrite of labels.ndjson, the overlay video, run.json (also after an error: keep what was made).
  try {
    const ordered = [...lines.values()].sort((a, b) => a.frame - b.frame || a.name.localeCompare(b.name));
    await writeAtomic(
      join(o.out, 'labels.ndjson'),
      ordered.map((l) => JSON.stringify(l)).join('\n') + (ordered.length ? '\n' : ''),
    );
    if (overlays && encoding) {
      // A run that failed or was interrupted leaves no overlay.mp4 (the encoder removes its temp file).
      if (error || interrupted) overlays.fail(error ?? new Error('interrupted'));
      else overlays.end();
      await encoding.catch((e) => {
        if (!error && !interrupted && lines.size) throw e;
      });
    }
    await recorder?.finish(!error && !interrupted);
    await writeRun(!error && !interrupted);
  } catch (e) {
    // After a failure (a full disk, say) the summary files are best effort: the first error is the one to report.
    if (!error) throw e;
  }
  if (error)
    throw new TdsError(
      error.code,
      `${error.message.replace(/ \(fix:.*$/, '')}; ${lines.size} frame(s) were written to ${o.out}`,
      error.fix,
    );
  const wallMs = performance.now() - t0;
  return {
    input,
    out: o.out,
    frames: lines.size,
    resumedFrames: resumed,
    fps: processed / (wallMs / 1000),
    wallMs,
    interrupted,
  };
}

const round = (x: number) => Math.round(x * 100) / 100;

/** H.264 yuv420p needs even sizes: drop a last odd row/column. */
function cropEven(img: Image): Image {
  const w = img.width & ~1;
  const h = img.height & ~1;
  const out = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) img.data.copy(out, y * w * 3, y * img.width * 3, y * img.width * 3 + w * 3);
  return { data: out, width: w, height: h, channels: 3 };
}
