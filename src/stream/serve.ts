// `tds serve` as a library function: a live source through the live policy, published over HTTP/WebSocket
// (the tds protocol on /ws, Foxglove's on /foxglove) and optionally recorded as MCAP; or a recording replayed
// to the same endpoints without the model. The video itself is never held back: frames the pipeline cannot
// take are dropped, and a remote overlay gets the source frame (JPEG) and the mask of the same frame together.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import type { Subscription } from 'rxjs';
import { isLiveInput } from '../ingest/options.js';
import { TdsError } from '../errors.js';
import { percentile } from '../median.js';
import { openSource } from './source.js';
import { log } from '../log.js';
import { createEnsemble, type EnsembleOptions } from '../model/ensemble.js';
import { readTdsJson } from '../model/model-dir.js';
import type { DetachedOptions } from '../postprocess/detached.js';
import { resolveInference } from '../model/inference-defaults.js';
import { liveFrames, liveSegment, type LiveCounts, type LiveResult } from './live.js';
import { from } from 'rxjs';
import { startServer, type Publisher, type ServerOptions } from './server.js';
import { rleEncode } from './protocol.js';
import type { SourceOptions } from './source.js';
// Foxglove and MCAP code (with @mcap/core, the schemas and the zstd wasm) is loaded when serve runs, not at every
// tds start: the CLI imports this module for every command.
import type { PaletteInfo, PublishedFrame } from './foxglove.js';
import type { FoxglovePublisher } from './foxglove-server.js';
import type { McapRecorder, RecordingInfo } from './mcap.js';
import { DEFAULT_SERVE, resolveServeDefaults } from './defaults.js';

export interface ServeOptions extends SourceOptions, EnsembleOptions {
  /** The model folder (not needed to replay a recording). */
  model?: string;
  /** Address to listen on. Default `127.0.0.1` (DEFAULT_SERVE). */
  host?: string;
  /** Port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Required on /ws, /foxglove and /metrics when set. Default none. */
  token?: string;
  /** Browser origins allowed besides the server's own. Default none. */
  allowOrigins?: string[];
  /** Remove foreground regions smaller than this many pixels. Default the model's `inference.minArea`, else 0. */
  minArea?: number;
  /** Remove foreground regions that do not reach the edge of the view (null: off). Default the model's
   * `inference.detached`. */
  detached?: DetachedOptions | null;
  /** Adaptive ensemble: a frame slower than this drops the largest size; 0 = off. Default 0. */
  deadlineMs?: number;
  /** Restart a file source at its end. Default false. */
  loop?: boolean;
  /** JPEG quality of the source frame sent to clients. Default 80. */
  jpegQuality?: number;
  /** A /ws client with more bytes than this waiting skips mask/frame messages (Foxglove: 4x). Default 1 MiB. */
  maxBufferedBytes?: number;
  /** A client over that bound for this long is closed. Default 10 000 ms. */
  stallTimeoutMs?: number;
  /** Ping interval; a client that misses one is dropped. Default 15 000 ms. */
  heartbeatMs?: number;
  /** Foxglove WebSocket endpoint at /foxglove (costs nothing until a client subscribes). Default true. */
  foxglove?: boolean;
  /** Record what is published to this MCAP file (refused if it exists). Default none. */
  record?: string;
  /** Start a new recording file at this size (bytes; 0 = one file). Default 0. */
  recordMaxBytes?: number;
}

/** The live counters as of the latest result, plus source reopenings. */
export interface LiveCounters extends LiveCounts {
  reopened: number;
}

/** One published frame's times (ms; `arrivedAt` on performance.now()'s clock). */
export interface FrameTiming {
  arrivedAt: number;
  /** Arrival to mask published. */
  latency: number;
  /** Inference on this thread's clock: preprocessing, the engine, reading back. */
  infer: number;
  /** The forward passes alone on the engine's own thread (ORT), when known. */
  run?: number;
  /** Upsampling, argmax, small regions, labels. */
  post: number;
}

export interface ServeHandle {
  url: string;
  port: number;
  counters: LiveCounters;
  publisher: Publisher;
  foxglove?: FoxglovePublisher;
  recorder?: McapRecorder;
  /** Latencies (ms, arrival to mask published) of the most recent frames. */
  latencies(): number[];
  inferTimes(): number[];
  /** Where each of the most recent frames' time went (the latency's parts), oldest first. */
  frameTimings(): FrameTiming[];
  /** Resolves when the source ends (files without --loop). */
  done: Promise<void>;
  /** Stops; resolves with the recording's files (closed and indexed) when recording. */
  close(): Promise<void>;
}

/** A recording (or one cut short by a crash) is replayed, not segmented. */
export function isRecording(input: string): boolean {
  return /\.mcap(\.part)?$/i.test(input);
}

export const WEB_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');

interface Publishing {
  pub: Publisher;
  fox?: FoxglovePublisher;
  recorder?: McapRecorder;
  /** Some sink wants the source frame as JPEG. */
  wantsJpeg(): boolean;
  /** Sends one frame to every sink: tds clients, Foxglove clients, the recording. */
  publishFrame(f: PublishedFrame): Promise<void>;
  close(): Promise<void>;
}

/** The server, the Foxglove endpoint and the recorder, shared by live serving and replay. */
async function startPublishing(
  o: ServeOptions,
  hello: ServerOptions['hello'],
  palette: PaletteInfo,
  health: ServerOptions['health'],
  source: string,
): Promise<Publishing> {
  const { frameMessages } = await import('./foxglove.js');
  const { createFoxglovePublisher, FOXGLOVE_PATH } = await import('./foxglove-server.js');
  const { McapRecorder } = await import('./mcap.js');
  // The recording is opened first: an existing file or a missing folder fails before anything listens.
  const recorder = o.record
    ? await McapRecorder.open(o.record, { palette, model: hello.model, source } satisfies RecordingInfo, {
        maxBytes: o.recordMaxBytes,
      })
    : undefined;
  const fox =
    o.foxglove === false
      ? undefined
      : createFoxglovePublisher({
          name: 'tds',
          palette,
          // base64 JSON images: 4x the /ws bound.
          maxBufferedBytes: 4 * (o.maxBufferedBytes ?? DEFAULT_SERVE.maxBufferedBytes),
        });
  let pub: Publisher;
  try {
    pub = await startServer({
      host: o.host,
      port: o.port,
      token: o.token,
      allowOrigins: o.allowOrigins,
      webRoot: WEB_ROOT,
      maxBufferedBytes: o.maxBufferedBytes,
      stallTimeoutMs: o.stallTimeoutMs,
      heartbeatMs: o.heartbeatMs,
      hello,
      health,
      upgrades: fox ? { [FOXGLOVE_PATH]: (req, socket, head) => fox.handleUpgrade(req, socket, head) } : undefined,
    });
  } catch (e) {
    await recorder?.discard();
    await fox?.close();
    throw e;
  }
  let recordFailed = false;
  return {
    pub,
    fox,
    recorder,
    wantsJpeg: () => pub.wanted('frame') || !!fox?.wants('frame') || !!recorder,
    async publishFrame(f) {
      const base = { frame: f.labels.frame, ptsMs: f.labels.ptsMs };
      const maskPng = pub.wanted('mask')
        ? await sharp(Buffer.from(f.mask.buffer, f.mask.byteOffset, f.mask.length), {
            raw: { width: f.width, height: f.height, channels: 1 },
          })
            .toColourspace('b-w')
            .png({ compressionLevel: 1 })
            .toBuffer()
        : undefined;
      if (f.jpeg && pub.wanted('frame'))
        pub.sendBinary({ topic: 'frame', ...base, width: f.width, height: f.height, encoding: 'jpeg' }, f.jpeg);
      if (maskPng)
        pub.sendBinary({ topic: 'mask', ...base, width: f.width, height: f.height, encoding: 'png' }, maskPng);
      if (pub.wantsRle())
        pub.sendBinary(
          { topic: 'mask', ...base, width: f.width, height: f.height, encoding: 'rle' },
          rleEncode(f.mask),
        );
      const l = f.labels;
      pub.send({
        type: 'classes',
        ...base,
        presence: l.presence,
        present: l.present,
        maskPresent: l.maskPresent,
        sync: l.sync,
        sizes: l.sizes,
        latencyMs: l.latencyMs ?? 0,
      });
      pub.send({ type: 'scene', ...base, label: l.scene.label, probs: l.scene.probs });
      // Foxglove and the recording share one encoding of the frame (all channels when recording).
      const encoded =
        recorder || fox?.wantsAny() ? frameMessages(f, palette, (k) => !!recorder || !!fox?.wants(k)) : undefined;
      if (encoded) fox?.publish(f, encoded);
      // The recording runs on its own queue: a slow disk never delays the live view (frames beyond a bound are
      // dropped from the recording and counted).
      recorder?.write(f, encoded).catch((e) => {
        if (!recordFailed) log.error({ err: (e as Error).message }, 'recording failed');
        recordFailed = true;
      });
    },
    async close() {
      await pub.close();
      await fox?.close();
      if (recorder) {
        const files = await recorder.close();
        log.info({ files, frames: recorder.frames, dropped: recorder.dropped }, 'recording closed');
      }
    },
  };
}

const paletteOf = (classes: ServerOptions['hello']['classes'], scenes: string[]): PaletteInfo => ({ classes, scenes });

export async function serve(input: string, options: ServeOptions): Promise<ServeHandle> {
  let o: ServeOptions = { ...options, ...resolveServeDefaults(options) };
  if (isRecording(input)) return replay(input, o);
  if (!o.model)
    throw new TdsError(
      'BAD_OPTION',
      'serving a live source needs --model',
      'e.g. --model models/demo (only a recording, *.mcap, replays without one)',
    );
  const model = o.model;
  // The model folder's inference defaults fill what the caller left unset.
  o = { ...o, ...resolveInference(readTdsJson(model), o) };
  // A file, folder or image must open now (missing, not a video, bad stereo or rate): fail at start, not later
  // in a log line. Live sources are allowed to come up late.
  if (input !== 'synth' && !isLiveInput(input)) (await openSource(input, o)).close();
  const ens = await createEnsemble(model, o);
  const meta = ens.members[0].info.meta;
  const classNames = meta.classes.map((c) => c.name);
  const sceneNames = meta.scenes.map((s) => s.name);
  const counters: LiveCounters = { framesIn: 0, processed: 0, dropped: 0, activeSizes: ens.sizes.length, reopened: 0 };
  const sizesNow = () =>
    ens.members.slice(0, counters.activeSizes).map((m) => `${m.info.inputSize.height}x${m.info.inputSize.width}`);
  const latencies: number[] = [];
  const infers: number[] = [];
  const timings: FrameTiming[] = [];
  const hello: ServerOptions['hello'] = {
    model: {
      profile: meta.profile,
      inputSize: meta.inputSize,
      engine: ens.members[0].info.engine,
      backend: ens.members[0].info.backend,
    },
    classes: meta.classes.map((c) => ({ id: c.id, name: c.name, color: c.color as [number, number, number] })),
    scenes: sceneNames,
  };
  let out: Publishing;
  try {
    out = await startPublishing(
      o,
      hello,
      paletteOf(hello.classes, sceneNames),
      () => ({
        frames: counters.processed,
        framesIn: counters.framesIn,
        dropped: counters.dropped,
        engine: `${ens.members[0].info.engine}/${ens.members[0].info.backend}`,
        sizes: sizesNow(),
        reopened: counters.reopened,
        foxgloveClients: out?.fox?.clientCount() ?? 0,
        recording: out?.recorder ? { frames: out.recorder.frames, dropped: out.recorder.dropped } : undefined,
      }),
      input,
    );
  } catch (e) {
    ens.dispose();
    throw e;
  }
  const { pub } = out;
  const stats = statsTicker(pub, counters, sizesNow, latencies);

  const publish = async (r: LiveResult) => {
    const { frame } = r;
    pub.metrics.processed.inc();
    pub.metrics.infer.observe(r.ms.infer / 1000);
    infers.push(r.ms.infer);
    const jpeg = out.wantsJpeg()
      ? await sharp(frame.left.data, { raw: { width: frame.left.width, height: frame.left.height, channels: 3 } })
          .jpeg({ quality: o.jpegQuality })
          .toBuffer()
      : undefined;
    const latencyMs = performance.now() - r.arrivedAt;
    // Capture time (the frame's arrival, wall clock) stamps every channel of the frame alike.
    const timeNs = BigInt(Math.round((performance.timeOrigin + r.arrivedAt) * 1000)) * 1000n;
    await out.publishFrame({
      timeNs,
      jpeg,
      width: r.width,
      height: r.height,
      mask: r.labels,
      labels: {
        frame: frame.index,
        ptsMs: frame.ptsMs,
        presence: r.presence,
        present: r.present,
        maskPresent: r.maskPresent,
        sync: r.sync,
        scene: r.scene,
        sizes: r.sizes,
        latencyMs: Math.round(latencyMs * 10) / 10,
      },
    });
    pub.metrics.latency.observe(latencyMs / 1000);
    latencies.push(latencyMs);
    timings.push({ arrivedAt: r.arrivedAt, latency: latencyMs, infer: r.ms.infer, run: r.ms.run, post: r.ms.post });
    for (const a of [latencies, infers, timings]) if (a.length > 2000) a.splice(0, a.length - 2000);
  };

  // Frames being published (encodes in flight): close waits for them, so a recording holds every frame counted.
  const inflight = new Set<Promise<void>>();
  const frames$ = liveFrames(input, { ...o, isLive: isLiveInput(input), onReopen: () => counters.reopened++ });
  const live = liveSegment({
    segment: (f, n) => from(ens.segment(f.left, n)),
    sizes: ens.sizes.length,
    classNames,
    sceneNames,
    post: { minArea: o.minArea ?? 0, detached: o.detached },
    deadlineMs: o.deadlineMs,
  });
  let sub: Subscription | undefined;
  const done = new Promise<void>((resolve, reject) => {
    sub = frames$.pipe(live).subscribe({
      next: (r) => {
        Object.assign(counters, r.counts);
        const p = publish(r)
          .catch((e) => log.error({ err: (e as Error).message }, 'publish failed'))
          .finally(() => inflight.delete(p));
        inflight.add(p);
      },
      error: (e) => {
        log.error({ err: (e as Error).message }, 'source failed');
        reject(
          e instanceof TdsError
            ? e
            : new TdsError('CORRUPT_VIDEO', `the source ${input} failed: ${(e as Error).message}`, 'check the input'),
        );
      },
      complete: () => resolve(),
    });
  });
  return handleOf(out, counters, done, { latencies, infers, timings }, async () => {
    clearInterval(stats);
    sub?.unsubscribe();
    await Promise.all(inflight);
    try {
      await out.close();
    } finally {
      ens.dispose();
    }
  });
}

/** The handle serve() returns: what runs, its figures, and a close that runs `stop` once. */
function handleOf(
  out: Publishing,
  counters: LiveCounters,
  done: Promise<void>,
  times: { latencies: number[]; infers: number[]; timings: FrameTiming[] },
  stop: () => Promise<void>,
): ServeHandle {
  let closing: Promise<void> | undefined;
  return {
    url: out.pub.url,
    port: out.pub.port,
    counters,
    publisher: out.pub,
    foxglove: out.fox,
    recorder: out.recorder,
    latencies: () => times.latencies.slice(),
    inferTimes: () => times.infers.slice(),
    frameTimings: () => times.timings.slice(),
    done,
    close: () => (closing ??= stop()),
  };
}

/** The once-a-second stats message and the Prometheus counters. */
function statsTicker(
  pub: Publisher,
  counters: LiveCounters,
  sizesNow: () => string[],
  latencies: number[],
): NodeJS.Timeout {
  const reported = { framesIn: 0, dropped: 0 };
  let lastCount = 0;
  let lastTime = performance.now();
  const stats = setInterval(() => {
    const now = performance.now();
    const fps = ((counters.processed - lastCount) * 1000) / (now - lastTime);
    lastCount = counters.processed;
    lastTime = now;
    // prom-client counters only go up: report the growth since the last tick.
    pub.metrics.framesIn.inc(counters.framesIn - reported.framesIn);
    pub.metrics.dropped.inc(Math.max(0, counters.dropped - reported.dropped));
    reported.framesIn = counters.framesIn;
    reported.dropped = Math.max(reported.dropped, counters.dropped);
    pub.sendStats((skipped) => ({
      type: 'stats',
      fps: Math.round(fps * 10) / 10,
      framesIn: counters.framesIn,
      processed: counters.processed,
      dropped: counters.dropped,
      clients: pub.clientCount(),
      sizes: sizesNow(),
      latencyP50Ms: Math.round(percentile(latencies, 50) * 10) / 10,
      latencyP99Ms: Math.round(percentile(latencies, 99) * 10) / 10,
      skippedForYou: skipped,
    }));
  }, 1000);
  stats.unref();
  return stats;
}

/**
 * Replays a recording to /ws and /foxglove at its recorded pace (or `rate` frames per second), without the
 * model: the frames, masks and labels are the recorded ones. With `loop` it starts over at the end.
 */
async function replay(file: string, o: ServeOptions): Promise<ServeHandle> {
  if (o.record) throw new TdsError('BAD_OPTION', 'a replay cannot be recorded again', 'copy the .mcap file instead');
  const { openRecording } = await import('./mcap.js');
  const first = await openRecording(file);
  const { info } = first;
  const counters: LiveCounters = { framesIn: 0, processed: 0, dropped: 0, activeSizes: 1, reopened: 0 };
  const latencies: number[] = [];
  const hello: ServerOptions['hello'] = {
    model: info.model ?? {
      profile: 'recording',
      inputSize: { height: 0, width: 0 },
      engine: 'replay',
      backend: 'mcap',
    },
    classes: info.palette.classes,
    scenes: info.palette.scenes,
  };
  const out = await startPublishing(
    o,
    hello,
    info.palette,
    () => ({
      frames: counters.processed,
      framesIn: counters.framesIn,
      dropped: 0,
      engine: 'replay',
      recording: file,
      foxgloveClients: out?.fox?.clientCount() ?? 0,
    }),
    file,
  );
  const { pub } = out;
  const stats = statsTicker(pub, counters, () => [], latencies);
  let stopped = false;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      wake = () => {
        clearTimeout(t);
        r();
      };
    });
  const pace = typeof o.rate === 'number' ? o.rate : undefined;
  const done = (async () => {
    let rec = first;
    for (;;) {
      let t0: bigint | undefined;
      const start = performance.now();
      let n = 0;
      for await (const f of rec.frames) {
        if (stopped) return;
        t0 ??= f.timeNs;
        // Recorded pace: each frame at its offset from the first; or a fixed rate.
        const due = pace ? (n * 1000) / pace : Number(f.timeNs - t0) / 1e6;
        const wait = start + due - performance.now();
        if (wait > 0) await sleep(wait);
        if (stopped) return;
        n++;
        counters.framesIn++;
        await out.publishFrame(f);
        counters.processed++;
        pub.metrics.processed.inc();
      }
      if (!o.loop || stopped || n === 0) return;
      rec = await openRecording(file);
    }
  })();
  return handleOf(out, counters, done, { latencies: [], infers: [], timings: [] }, async () => {
    stopped = true;
    wake?.();
    clearInterval(stats);
    await done.catch(() => {});
    await out.close();
  });
}
