// `tds serve` as a library function: a live source through the live policy, published over HTTP/WebSocket.
// The video itself is never held back: frames the pipeline cannot take are dropped, and a remote overlay gets
// the source frame (JPEG) and the mask of the same frame to draw together.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import type { Subscription } from 'rxjs';
import { isLiveInput } from '../ingest/options.js';
import { TdsError } from '../errors.js';
import { openSource } from './source.js';
import { log } from '../log.js';
import { createEnsemble, type EnsembleOptions } from './ensemble.js';
import { readTdsJson } from '../model/model-dir.js';
import { resolveInference } from '../model/inference-defaults.js';
import { liveFrames, liveSegment, type LiveCounters, type LiveResult } from './live.js';
import { startServer, type Publisher } from './server.js';
import { rleEncode } from './protocol.js';
import type { SourceOptions } from './source.js';

export interface ServeOptions extends SourceOptions, EnsembleOptions {
  model: string;
  host?: string;
  port?: number;
  token?: string;
  allowOrigins?: string[];
  minArea?: number;
  deadlineMs?: number;
  loop?: boolean;
  /** JPEG quality of `frame` messages. */
  jpegQuality?: number;
  maxBufferedBytes?: number;
  stallTimeoutMs?: number;
  heartbeatMs?: number;
}

export interface ServeHandle {
  url: string;
  port: number;
  counters: LiveCounters;
  publisher: Publisher;
  /** Latencies (ms, arrival to mask published) of the most recent frames. */
  latencies(): number[];
  inferTimes(): number[];
  /** Resolves when the source ends (files without --loop). */
  done: Promise<void>;
  close(): Promise<void>;
}

export const WEB_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');

function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export async function serve(input: string, o: ServeOptions): Promise<ServeHandle> {
  // The model folder's inference defaults fill what the caller left unset.
  o = { ...o, ...resolveInference(readTdsJson(o.model), o) };
  // A file, folder or image must open now (missing, not a video, bad stereo or rate): fail at start, not later
  // in a log line. Live sources are allowed to come up late.
  if (input !== 'synth' && !isLiveInput(input)) (await openSource(input, o)).close();
  const ens = await createEnsemble(o.model, o);
  const meta = ens.members[0].info.meta;
  const classNames = meta.classes.map((c) => c.name);
  const sceneNames = meta.scenes.map((s) => s.name);
  const counters: LiveCounters = { framesIn: 0, processed: 0, dropped: 0, activeSizes: ens.sizes.length, reopened: 0 };
  const sizesNow = () => ens.members.slice(0, counters.activeSizes).map((m) => `${m.info.inputSize.height}x${m.info.inputSize.width}`);
  const latencies: number[] = [];
  const infers: number[] = [];
  const pub = await startServer({
    host: o.host,
    port: o.port,
    token: o.token,
    allowOrigins: o.allowOrigins,
    webRoot: WEB_ROOT,
    maxBufferedBytes: o.maxBufferedBytes,
    stallTimeoutMs: o.stallTimeoutMs,
    heartbeatMs: o.heartbeatMs,
    hello: {
      model: { profile: meta.profile, inputSize: meta.inputSize, engine: ens.members[0].info.engine, backend: ens.members[0].info.backend },
      classes: meta.classes.map((c) => ({ id: c.id, name: c.name, color: c.color as [number, number, number] })),
      scenes: sceneNames,
    },
    health: () => ({ frames: counters.processed, framesIn: counters.framesIn, dropped: counters.dropped, engine: `${ens.members[0].info.engine}/${ens.members[0].info.backend}`, sizes: sizesNow(), reopened: counters.reopened }),
  });
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
    pub.sendStats((skipped) => ({ type: 'stats', fps: Math.round(fps * 10) / 10, framesIn: counters.framesIn, processed: counters.processed, dropped: counters.dropped, clients: pub.clientCount(), sizes: sizesNow(), latencyP50Ms: Math.round(percentile(latencies, 50) * 10) / 10, latencyP99Ms: Math.round(percentile(latencies, 99) * 10) / 10, skippedForYou: skipped }));
  }, 1000);
  stats.unref();

  const publish = async (r: LiveResult) => {
    const { frame } = r;
    pub.metrics.processed.inc();
    pub.metrics.infer.observe(r.ms.infer / 1000);
    infers.push(r.ms.infer);
    const base = { frame: frame.index, ptsMs: frame.ptsMs };
    const encodes: Array<Promise<void>> = [];
    let frameJpeg: Uint8Array | undefined;
    let maskPng: Uint8Array | undefined;
    if (pub.wanted('frame')) encodes.push(sharp(frame.left.data, { raw: { width: frame.left.width, height: frame.left.height, channels: 3 } }).jpeg({ quality: o.jpegQuality ?? 80 }).toBuffer().then((b) => void (frameJpeg = b)));
    if (pub.wanted('mask')) encodes.push(sharp(Buffer.from(r.labels.buffer, r.labels.byteOffset, r.labels.length), { raw: { width: r.width, height: r.height, channels: 1 } }).toColourspace('b-w').png({ compressionLevel: 1 }).toBuffer().then((b) => void (maskPng = b)));
    await Promise.all(encodes);
    if (frameJpeg) pub.sendBinary({ topic: 'frame', ...base, width: frame.left.width, height: frame.left.height, encoding: 'jpeg' }, frameJpeg);
    if (maskPng) pub.sendBinary({ topic: 'mask', ...base, width: r.width, height: r.height, encoding: 'png' }, maskPng);
    if (pub.wantsRle()) pub.sendBinary({ topic: 'mask', ...base, width: r.width, height: r.height, encoding: 'rle' }, rleEncode(r.labels));
    const latencyMs = performance.now() - r.arrivedAt;
    pub.send({ type: 'classes', ...base, presence: r.presence, present: r.present, maskPresent: r.maskPresent, sync: r.sync, sizes: r.sizes, latencyMs: Math.round(latencyMs * 10) / 10 });
    pub.send({ type: 'scene', ...base, label: r.scene.label, probs: r.scene.probs });
    pub.metrics.latency.observe(latencyMs / 1000);
    latencies.push(latencyMs);
    if (latencies.length > 2000) latencies.splice(0, latencies.length - 2000);
    if (infers.length > 2000) infers.splice(0, infers.length - 2000);
  };

  const frames$ = liveFrames(input, { ...o, isLive: isLiveInput(input) }, counters);
  let sub: Subscription | undefined;
  const done = new Promise<void>((resolve, reject) => {
    sub = liveSegment(frames$, ens, { classNames, sceneNames, post: { minArea: o.minArea ?? 0 }, deadlineMs: o.deadlineMs }, counters).subscribe({
      next: (r) => {
        publish(r).catch((e) => log.error({ err: (e as Error).message }, 'publish failed'));
      },
      error: (e) => {
        log.error({ err: (e as Error).message }, 'source failed');
        reject(e instanceof TdsError ? e : new TdsError('CORRUPT_VIDEO', `the source ${input} failed: ${(e as Error).message}`, 'check the input'));
      },
      complete: () => resolve(),
    });
  });
  let closed = false;
  return {
    url: pub.url,
    port: pub.port,
    counters,
    publisher: pub,
    latencies: () => latencies.slice(),
    inferTimes: () => infers.slice(),
    done,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(stats);
      sub?.unsubscribe();
      await pub.close();
      ens.dispose();
    },
  };
}
