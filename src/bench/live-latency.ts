// The live latency run, in a process of its own started by the benchmark (src/bench/live.ts): `serve synth` at
// 25 fps real time with one mask subscriber, in a process that has loaded only what `tds serve` loads (no tfjs:
// its 18.6 MB of heap would lengthen every major GC the figures are about). Latency from frame arrival to mask
// ready, engine time, dropped fraction, memory over the run, and the tail's evidence: the forward pass on ORT's
// thread, GC pauses, event-loop delay, and the parts of the frames over engine p50 + 20 ms.
// Run as `node dist/bench/live-latency.js MODEL SECONDS`: prints one line `RESULT <json BenchResult[]>`.
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { serve, type FrameTiming } from '../stream/serve.js';
import { closeInferenceThreads } from '../model/ort-thread.js';
import { median, percentile as pct } from '../median.js';
import { tailParts, type Pause } from './live-tail.js';
import type { BenchResult } from './types.js';

const r1 = (x: number) => Math.round(x * 10) / 10;

export async function measureLiveLatency(model: string, seconds: number): Promise<BenchResult[]> {
  const h = await serve('synth', { model, port: 0, realtime: true });
  const sub = new WebSocket(`${h.url.replace('http', 'ws')}/ws`);
  await new Promise((r) => sub.on('open', r));
  sub.send(JSON.stringify({ op: 'subscribe', topics: ['mask', 'classes'] }));
  await new Promise((r) => setTimeout(r, 2000)); // warm-up
  const rssStart = process.memoryUsage().rss;
  const in0 = h.counters.framesIn;
  const done0 = h.counters.processed;
  // Every frame's timings (collected each second: the server keeps only the latest), the GC pauses and the
  // event loop's delays over the same window.
  const t0 = performance.now();
  const timings: FrameTiming[] = [];
  const collect = () => {
    const last = timings.length ? timings[timings.length - 1].arrivedAt : t0;
    timings.push(...h.frameTimings().filter((t) => t.arrivedAt > last));
  };
  const pauses: Pause[] = [];
  const gcObs = new PerformanceObserver((l) =>
    l.getEntries().forEach((e) => pauses.push({ start: e.startTime, duration: e.duration })),
  );
  gcObs.observe({ entryTypes: ['gc'] });
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const poll = setInterval(collect, 1000);
  let rssHalf = 0;
  try {
    // RSS at half time too: growth that stops (allocator arenas, JIT) vs growth that goes on (a leak).
    await new Promise((r) => setTimeout(r, (seconds * 1000) / 2));
    rssHalf = process.memoryUsage().rss;
    await new Promise((r) => setTimeout(r, (seconds * 1000) / 2));
    collect();
  } finally {
    clearInterval(poll);
    loop.disable();
    gcObs.disconnect();
  }
  const framesIn = h.counters.framesIn - in0;
  const processed = h.counters.processed - done0;
  const rssEnd = process.memoryUsage().rss;
  sub.close();
  await h.close();
  const lat = timings.map((t) => t.latency);
  const inf = timings.map((t) => t.infer);
  const run = timings.map((t) => t.run ?? t.infer);
  const engineP50 = median(inf);
  const tail = tailParts(timings, pauses, engineP50 + 20);
  const gcMs = pauses.reduce((a, p) => a + p.duration, 0);
  // tfjs-core registers its engine on the global object when it loads.
  const tfjsLoaded = (globalThis as { _tfengine?: unknown })._tfengine !== undefined;
  return [
    { name: 'live.latency.p50.ms', value: r1(pct(lat, 50)), unit: 'ms' },
    { name: 'live.latency.p99.ms', value: r1(pct(lat, 99)), unit: 'ms' },
    { name: 'live.engine.p50.ms', value: r1(engineP50), unit: 'ms' },
    { name: 'live.engine.run.p50.ms', value: r1(median(run)), unit: 'ms' },
    { name: 'live.engine.run.p99.ms', value: r1(pct(run, 99)), unit: 'ms' },
    { name: 'live.gc.ms.per.s', value: r1(gcMs / seconds), unit: 'ms/s' },
    { name: 'live.gc.pause.max.ms', value: r1(Math.max(0, ...pauses.map((p) => p.duration))), unit: 'ms' },
    { name: 'live.loop.delay.p99.ms', value: r1(loop.percentile(99) / 1e6), unit: 'ms' },
    { name: 'live.tail.frames', value: tail.late, unit: `frames over engine p50 + 20 ms (of ${tail.frames})` },
    { name: 'live.tail.latency.ms', value: r1(tail.latency), unit: 'ms (median of the late frames)' },
    { name: 'live.tail.run.ms', value: r1(tail.run), unit: 'ms (their forward pass, ORT thread)' },
    { name: 'live.tail.post.ms', value: r1(tail.post), unit: 'ms (their post-processing)' },
    { name: 'live.tail.gc.ms', value: r1(tail.gc), unit: 'ms (GC pauses inside them)' },
    { name: 'live.tail.rest.ms', value: r1(tail.rest), unit: 'ms (preprocess, hand-offs, event-loop waits)' },
    { name: 'live.tail.slow-run.frames', value: tail.slowRun, unit: 'late frames whose forward pass alone was late' },
    { name: 'live.tail.with-gc.frames', value: tail.withGc, unit: 'late frames overlapping a GC pause >= 5 ms' },
    { name: 'live.dropped.fraction', value: Math.round((1 - processed / framesIn) * 1000) / 1000, unit: 'fraction' },
    { name: 'live.soak.seconds', value: seconds, unit: 's' },
    { name: 'live.rss.start.mb', value: Math.round(rssStart / 2 ** 20), unit: 'MiB' },
    { name: 'live.rss.half.mb', value: Math.round(rssHalf / 2 ** 20), unit: 'MiB' },
    { name: 'live.rss.end.mb', value: Math.round(rssEnd / 2 ** 20), unit: 'MiB' },
    { name: 'live.tfjs.loaded', value: tfjsLoaded ? 1 : 0, unit: 'tfjs in the serving process (0: never imported)' },
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [model, seconds] = process.argv.slice(2);
  const results = await measureLiveLatency(model, Number(seconds));
  process.stdout.write(`RESULT ${JSON.stringify(results)}\n`);
  await closeInferenceThreads();
}
