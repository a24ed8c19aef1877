// Live figures: `serve synth` at 25 fps real time with the demo model: latency from frame arrival to mask
// published, engine time, dropped fraction, memory over the run; WebSocket fan-out to 50 local clients with
// one stalled.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { tf } from '../model/tf.js';
import { serve } from '../stream/serve.js';
import { decodeBinary } from '../stream/protocol.js';
import { benchModel } from './pipeline.js';
import { median } from '../median.js';
import type { BenchOptions, BenchResult } from './types.js';

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

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
    const lat0 = h.latencies().length;
    // RSS at half time too: growth that stops (allocator arenas, JIT) vs growth that goes on (a leak).
    await new Promise((r) => setTimeout(r, (seconds * 1000) / 2));
    const rssHalf = process.memoryUsage().rss;
    await new Promise((r) => setTimeout(r, (seconds * 1000) / 2));
    const lat = h.latencies().slice(lat0 - h.latencies().length || undefined);
    const inf = h.inferTimes().slice(-lat.length);
    const framesIn = h.counters.framesIn - in0;
    const processed = h.counters.processed - done0;
    const rssEnd = process.memoryUsage().rss;
    const tensorsEnd = tf.memory().numTensors;
    sub.close();
    await h.close();

    // Fan-out: 50 clients on everything, one of them never reads.
    const f = await serve('synth', {
      model,
      port: 0,
      realtime: true,
      maxBufferedBytes: 256 * 1024,
      stallTimeoutMs: 120_000,
    });
    const furl = `${f.url.replace('http', 'ws')}/ws`;
    const clients = await Promise.all(
      Array.from(
        { length: 50 },
        () =>
          new Promise<{ ws: WebSocket; got: Map<number, number> }>((resolve) => {
            const ws = new WebSocket(furl);
            const got = new Map<number, number>();
            ws.on('message', (d, bin) => {
              const frame = bin
                ? decodeBinary(new Uint8Array(d as Buffer)).header.frame
                : (JSON.parse(d.toString()) as { frame?: number }).frame;
              if (frame !== undefined) got.set(frame, (got.get(frame) ?? 0) + 1);
            });
            ws.on('open', () => {
              ws.send(JSON.stringify({ op: 'subscribe', topics: ['classes', 'scene', 'mask', 'frame'] }));
              resolve({ ws, got });
            });
          }),
      ),
    );
    (clients[0].ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await new Promise((r) => setTimeout(r, 1000));
    const startFrame = f.counters.processed + 2;
    await new Promise((r) => setTimeout(r, (o.quick ? 5 : 15) * 1000));
    const endFrame = f.counters.processed - 5; // leave in-flight frames out
    const expected = (endFrame - startFrame) * 4; // classes, scene, mask, frame per frame
    const fractions = clients.slice(1).map((c) => {
      let n = 0;
      for (let fr = startFrame; fr < endFrame; fr++) n += c.got.get(fr) ?? 0;
      return n / expected;
    });
    for (const c of clients) c.ws.terminate();
    await f.close();
    return [
      { name: 'live.latency.p50.ms', value: r1(pct(lat, 50)), unit: 'ms' },
      { name: 'live.latency.p99.ms', value: r1(pct(lat, 99)), unit: 'ms' },
      { name: 'live.engine.p50.ms', value: r1(median(inf)), unit: 'ms' },
      { name: 'live.dropped.fraction', value: Math.round((1 - processed / framesIn) * 1000) / 1000, unit: 'fraction' },
      {
        name: 'ws.fanout.50clients.delivered.fraction',
        value: Math.round(Math.min(...fractions) * 1000) / 1000,
        unit: 'fraction (worst fast client)',
      },
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
