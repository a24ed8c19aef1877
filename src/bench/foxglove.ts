// What publishing to Foxglove and recording MCAP cost the live pipeline: `serve synth` with the bench model and
// one tds overlay client (mask + frame + labels), with and without a Foxglove client subscribed to every channel
// plus a recording (clients in their own process), in interleaved runs (A, B, A, B; medians). Two figures: throughput when frames arrive as
// fast as the pipeline takes them (free-running source), and process CPU per frame at 25 fps real time.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { packageRoot } from '../package-paths.js';
import { serve } from '../stream/serve.js';
import sharp from 'sharp';
import { synthSequence } from '../ingest/synth.js';
import { frameMessages, type PaletteInfo } from '../stream/foxglove.js';
import { McapRecorder } from '../stream/mcap.js';
import { benchModel } from './pipeline.js';
import { median } from '../median.js';
import { spread as spreadOf, type BenchOptions, type BenchResult } from './types.js';

interface Run {
  fps: number;
  cpuMsPerFrame: number;
}

/**
 * The clients run in a child process (an overlay page and, for B, Foxglove subscribed to every channel), so the
 * CPU figures are the server's own.
 */
function startClients(url: string, foxglove: boolean): Promise<ChildProcess> {
  const script = `
    const { WebSocket } = await import('ws');
    const { default: p } = await import('@foxglove/ws-protocol');
    const ws = new WebSocket(${JSON.stringify(url.replace('http', 'ws') + '/ws')});
    ws.on('open', () => { ws.send(JSON.stringify({ op: 'subscribe', topics: ['mask', 'frame', 'classes', 'scene'] })); });
    let n = 0;
    ws.on('message', () => n++);
    if (${foxglove}) {
      const f = new WebSocket(${JSON.stringify(url.replace('http', 'ws') + '/foxglove')}, [p.FoxgloveClient.SUPPORTED_SUBPROTOCOL]);
      const c = new p.FoxgloveClient({ ws: f });
      c.on('advertise', (chs) => chs.forEach((ch) => c.subscribe(ch.id)));
      c.on('message', () => n++);
      f.on('open', () => process.stdout.write('ready\\n'));
    } else ws.on('open', () => process.stdout.write('ready\\n'));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: packageRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((res, rej) => {
    child.stdout!.once('data', () => res(child));
    child.once('exit', (c) => rej(new Error(`bench client exited (${c})`)));
  });
}

async function once(
  model: string,
  dir: string,
  withFoxglove: boolean,
  realtime: boolean,
  seconds: number,
  k: number,
): Promise<Run> {
  const h = await serve('synth', {
    model,
    port: 0,
    realtime,
    record: withFoxglove ? join(dir, `rec-${k}-${realtime}.mcap`) : undefined,
  });
  const clients = await startClients(h.url, withFoxglove);
  await new Promise((r) => setTimeout(r, 1500)); // warm-up
  const n0 = h.counters.processed;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const n = h.counters.processed - n0;
  const c = process.cpuUsage(c0);
  const ms = performance.now() - t0;
  clients.kill();
  await h.close();
  return { fps: (n * 1000) / ms, cpuMsPerFrame: (c.user + c.system) / 1000 / Math.max(n, 1) };
}

/**
 * Main-thread cost per frame at the OR display's 1280x1024 (a synthetic surgical frame and its label mask):
 * encoding the Foxglove messages once, and handing them to the MCAP recorder (chunking, CRC, zstd, write).
 */
async function encodeCost(dir: string, frames: number): Promise<{ encodeMs: number; recordMs: number; bytes: number }> {
  const w = 1280;
  const h = 1024;
  const f = synthSequence({ seed: 3, seq: 1, width: w, height: h }).render(0);
  const jpeg = await sharp(f.left.data, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 80 })
    .toBuffer();
  const palette: PaletteInfo = {
    classes: Array.from({ length: 12 }, (_, i) => ({
      id: i,
      name: `c${i}`,
      color: [i, i, i] as [number, number, number],
    })),
    scenes: ['s'],
  };
  const labels = {
    frame: 0,
    ptsMs: 0,
    presence: {},
    present: [],
    maskPresent: ['c0', 'c1'],
    sync: 1,
    scene: { label: 's', probs: { s: 1 } },
    sizes: [],
  };
  const pf = { timeNs: 0n, jpeg, width: w, height: h, mask: f.labels, labels };
  for (let i = 0; i < 3; i++) frameMessages(pf, palette, () => true); // warm-up
  const enc: number[] = [];
  const rec: number[] = [];
  const recorder = await McapRecorder.open(join(dir, 'cost.mcap'), { palette });
  let bytes = 0;
  for (let i = 0; i < frames; i++) {
    const t0 = performance.now();
    const m = frameMessages({ ...pf, timeNs: BigInt(i) * 40_000_000n }, palette, () => true);
    const t1 = performance.now();
    await recorder.write({ ...pf, timeNs: BigInt(i) * 40_000_000n }, m);
    enc.push(t1 - t0);
    rec.push(performance.now() - t1);
    bytes = m.reduce((n, x) => n + x.data.length, 0);
  }
  await recorder.close();
  return { encodeMs: median(enc), recordMs: median(rec), bytes };
}

export async function benchFoxglove(o: BenchOptions): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tds-bench-fox-'));
  const model = await benchModel(dir);
  const seconds = o.quick ? 4 : 8;
  const pairs = o.quick ? 2 : 3;
  const r2 = (x: number) => Math.round(x * 100) / 100;
  try {
    const free: Record<'a' | 'b', number[]> = { a: [], b: [] };
    const cpu: Record<'a' | 'b', number[]> = { a: [], b: [] };
    const fps25: Record<'a' | 'b', number[]> = { a: [], b: [] };
    for (let k = 0; k < pairs; k++) {
      free.a.push((await once(model, dir, false, false, seconds, k)).fps);
      free.b.push((await once(model, dir, true, false, seconds, k)).fps);
      const a = await once(model, dir, false, true, seconds, k);
      const b = await once(model, dir, true, true, seconds, k);
      cpu.a.push(a.cpuMsPerFrame);
      cpu.b.push(b.cpuMsPerFrame);
      fps25.a.push(a.fps);
      fps25.b.push(b.fps);
    }
    const spread = (xs: number[]) => `${r2(Math.min(...xs))}-${r2(Math.max(...xs))}`;
    const cost = await encodeCost(dir, o.quick ? 20 : 60);
    return [
      { name: 'foxglove.free.fps.without', value: r2(median(free.a)), unit: `fps (range ${spread(free.a)})` },
      { name: 'foxglove.free.fps.with', value: r2(median(free.b)), unit: `fps (range ${spread(free.b)})` },
      // Each pair's with/without ratio, then its median (a ratio of the two medians mixed pairs from different
      // minutes of the machine).
      spreadOf(
        'foxglove.ratio.throughput',
        free.b.map((b, i) => b / free.a[i]),
        'with / without Foxglove client + recording (>= 0.9 wanted)',
        r2,
      ),
      {
        name: 'foxglove.live25.fps.with',
        value: r2(median(fps25.b)),
        unit: `fps at 25 fps real time (range ${spread(fps25.b)})`,
      },
      {
        name: 'foxglove.live25.cpu.ms.without',
        value: r2(median(cpu.a)),
        unit: `process CPU ms per frame (range ${spread(cpu.a)})`,
      },
      {
        name: 'foxglove.live25.cpu.ms.with',
        value: r2(median(cpu.b)),
        unit: `process CPU ms per frame (range ${spread(cpu.b)})`,
      },
      {
        name: 'foxglove.live25.cpu.overhead',
        value: r2(median(cpu.b) / median(cpu.a) - 1),
        unit: 'extra CPU per frame, fraction',
      },
      {
        name: 'foxglove.encode.1280x1024.ms',
        value: r2(cost.encodeMs),
        unit: `ms per frame, all channels (${Math.round(cost.bytes / 1024)} KiB)`,
      },
      {
        name: 'foxglove.mcap.record.1280x1024.ms',
        value: r2(cost.recordMs),
        unit: 'ms per frame (chunk, CRC, zstd, write)',
      },
      {
        name: 'foxglove.ratio.cost-vs-frame-budget.1280x1024',
        value: r2((cost.encodeMs + cost.recordMs) / 40),
        unit: 'of the 40 ms a frame has at 25 fps',
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
