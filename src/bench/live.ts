// Live figures: `serve synth` at 25 fps real time with the demo model: latency from frame arrival to mask
// published, engine time, dropped fraction, memory over the run; WebSocket fan-out to 50 local clients with
// one stalled.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import { tf } from '../model/tf.js';
import { serve, type FrameTiming } from '../stream/serve.js';
import { tailParts, type Pause } from './live-tail.js';
import { benchModel } from './pipeline.js';
import { median } from '../median.js';
import { packageRoot } from '../package-paths.js';
import { spread, type BenchOptions, type BenchResult } from './types.js';

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/**
 * `n` clients in a child process, subscribed to classes, scene, mask and frame; the first never reads (its socket
 * paused). `worst(a, b)` asks the child for the lowest fraction of the messages of frames a..b-1 (four per frame)
 * that a reading client received.
 */
async function startFanoutClients(
  url: string,
  n: number,
): Promise<{ child: ChildProcess; worst(a: number, b: number): Promise<number> }> {
  const script = `
    const { default: WebSocket } = await import('ws');
    const { decodeBinary } = await import('./dist/stream/protocol.js');
    const { createInterface } = await import('node:readline');
    const clients = [];
    await Promise.all(Array.from({ length: ${n} }, () => new Promise((resolve) => {
      const ws = new WebSocket(${JSON.stringify(url)});
      const got = new Map();
      ws.on('message', (d, bin) => {
        const frame = bin ? decodeBinary(new Uint8Array(d)).header.frame : JSON.parse(d.toString()).frame;
        if (frame !== undefined) got.set(frame, (got.get(frame) ?? 0) + 1);
      });
      ws.on('open', () => {
        ws.send(JSON.stringify({ op: 'subscribe', topics: ['classes', 'scene', 'mask', 'frame'] }));
        clients.push(got);
        if (clients.length === 1) ws._socket.pause();
        resolve();
      });
    })));
    process.stdout.write('ready\\n');
    createInterface({ input: process.stdin }).on('line', (l) => {
      const [a, b] = l.split(' ').map(Number);
      let worst = 1;
      for (const got of clients.slice(1)) {
        let k = 0;
        for (let fr = a; fr < b; fr++) k += got.get(fr) ?? 0;
        worst = Math.min(worst, k / ((b - a) * 4));
      }
      process.stdout.write(worst + '\\n');
    });
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: packageRoot,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await Promise.race([
    lines.next(),
    new Promise<never>((_, rej) => child.once('exit', (c) => rej(new Error(`bench clients exited (${c})`)))),
  ]);
  if (first.value !== 'ready') throw new Error(`bench clients: unexpected ${String(first.value)}`);
  return {
    child,
    async worst(a, b) {
      child.stdin!.write(`${a} ${b}\n`);
      const r = await lines.next();
      return Number(r.value);
    },
  };
}

export async function benchLive(o: BenchOptions & { soakSeconds?: number }): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tds-bench-live-'));
  await tf.ready(); // the ORT engine never touches tfjs; the tensor count below still needs a backend
  const model = await benchModel(dir);
  const r1 = (x: number) => Math.round(x * 10) / 10;
  try {
    // Latency: no clients but one mask subscriber, so "published" includes PNG encoding of the mask.
    const seconds = o.soakSeconds ?? (o.quick ? 8 : 20);
    const h = await serve('synth', { model, port: 0, realtime: true });
    const url = `${h.url.replace('http', 'ws')}/ws`;
    const sub = new WebSocket(url);
    await new Promise((r) => sub.on('open', r));
    sub.send(JSON.stringify({ op: 'subscribe', topics: ['mask', 'classes'] }));
    await new Promise((r) => setTimeout(r, 2000)); // warm-up
    const rssStart = process.memoryUsage().rss;
    const tensorsStart = tf.memory().numTensors;
    const in0 = h.counters.framesIn;
    const done0 = h.counters.processed;
    // Every frame's timings (collected each second: the server keeps only the latest), the GC pauses and the
    // event loop's delays over the same window: what the tail is made of.
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
    const lat = timings.map((t) => t.latency);
    const inf = timings.map((t) => t.infer);
    const run = timings.map((t) => t.run ?? t.infer);
    const framesIn = h.counters.framesIn - in0;
    const processed = h.counters.processed - done0;
    const rssEnd = process.memoryUsage().rss;
    const tensorsEnd = tf.memory().numTensors;
    sub.close();
    await h.close();
    const engineP50 = median(inf);
    const tail = tailParts(timings, pauses, engineP50 + 20);
    const gcMs = pauses.reduce((a, p) => a + p.duration, 0);

    // Fan-out: 50 clients on everything, one of them never reads, in their own process (as real clients are:
    // parsing 49 clients' messages on the server's event loop would measure the clients, not the fan-out).
    const f = await serve('synth', {
      model,
      port: 0,
      realtime: true,
      maxBufferedBytes: 256 * 1024,
      stallTimeoutMs: 120_000,
    });
    const clients = await startFanoutClients(`${f.url.replace('http', 'ws')}/ws`, 50);
    const fractions: number[] = [];
    try {
      await new Promise((r) => setTimeout(r, 1000));
      // Windows in turn (quick: one of 5 s; full: three): each gives the worst fast client's delivered fraction,
      // and the figure is their median with the spread.
      for (let w = 0; w < (o.quick ? 1 : 3); w++) {
        const startFrame = f.counters.processed + 2;
        await new Promise((r) => setTimeout(r, 5000));
        const endFrame = f.counters.processed - 5; // leave in-flight frames out
        fractions.push(await clients.worst(startFrame, endFrame));
      }
    } finally {
      clients.child.kill();
      await f.close();
    }
    return [
      { name: 'live.latency.p50.ms', value: r1(pct(lat, 50)), unit: 'ms' },
      { name: 'live.latency.p99.ms', value: r1(pct(lat, 99)), unit: 'ms' },
      { name: 'live.engine.p50.ms', value: r1(engineP50), unit: 'ms' },
      // The tail's evidence: the forward pass alone (ORT's thread), GC, the event loop, and the late frames' parts.
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
      spread(
        'ws.fanout.50clients.delivered.fraction',
        fractions,
        'fraction (worst fast client)',
        (v) => Math.round(v * 1000) / 1000,
      ),
      { name: 'live.soak.seconds', value: seconds, unit: 's' },
      { name: 'live.rss.start.mb', value: Math.round(rssStart / 2 ** 20), unit: 'MiB' },
      { name: 'live.rss.half.mb', value: Math.round(rssHalf / 2 ** 20), unit: 'MiB' },
      { name: 'live.rss.end.mb', value: Math.round(rssEnd / 2 ** 20), unit: 'MiB' },
      { name: 'live.tfjs.tensors.start', value: tensorsStart, unit: 'tensors' },
      { name: 'live.tfjs.tensors.end', value: tensorsEnd, unit: 'tensors' },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
