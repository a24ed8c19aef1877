// Live figures: `serve synth` at 25 fps real time with the demo model. The latency run (src/bench/live-latency.ts)
// runs in a process of its own; here, WebSocket fan-out to 50 clients (in their own process) with one stalled.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { serve } from '../stream/serve.js';
import { benchModel } from './pipeline.js';
import { packageRoot } from '../package-paths.js';
import { spread, type BenchOptions, type BenchResult } from './types.js';

/** The latency run in a process of its own (src/bench/live-latency.ts): what `tds serve` loads, nothing more. */
async function latencyInChild(model: string, seconds: number): Promise<BenchResult[]> {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('./live-latency.js', import.meta.url)), model, String(seconds)],
    { cwd: packageRoot, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (code !== 0 || !line) throw new Error(`the live latency run failed (exit ${code})`);
  return JSON.parse(line.slice('RESULT '.length)) as BenchResult[];
}

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
        const frame = bin ? decodeBinary(d).header.frame : JSON.parse(d.toString()).frame;
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
  const model = await benchModel(dir);
  try {
    const seconds = o.soakSeconds ?? (o.quick ? 8 : 20);
    const latency = await latencyInChild(model, seconds);

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
      ...latency,
      spread(
        'ws.fanout.50clients.delivered.fraction',
        fractions,
        'fraction (worst fast client)',
        (v) => Math.round(v * 1000) / 1000,
      ),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
