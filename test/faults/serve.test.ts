// The fault tier, live server: `tds serve` (the built CLI) against sources that do not open or die, ports in
// use, hostile or broken WebSocket and HTTP clients, and shutdown with clients connected. Figures a user plans
// around (recovery time after ffmpeg dies, a reader's rate beside a client that never reads, RSS) are printed.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { connect as tcp } from 'node:net';
import { once } from 'node:events';
import { spawn, type ChildProcess } from 'node:child_process';
import { ffmpegPath } from '../../src/ingest/binaries.js';
import WebSocket from 'ws';
import { decodeBinary } from '../../src/stream/protocol.js';
import { ffmpeg, makeClip, root, tmp, waitUntil } from '../helpers.js';
import { expectFault, ffmpegPids, tds, tdsBg } from './helpers.js';

const MODEL = join(root, 'models', 'demo');
let d: string;
let clip: string;

beforeAll(() => {
  d = tmp('tds-serve-faults-');
  clip = makeClip(join(d, 'clip.mp4'), { w: 160, h: 128, fps: 25, seconds: 2 });
  writeFileSync(join(d, 'text.mp4'), 'not a video');
});

interface Server {
  child: ChildProcess;
  url: string;
  ws: string;
  stop(): Promise<number | null>;
}

async function startServe(args: string[]): Promise<Server> {
  const child = tdsBg(['serve', ...args, '--model', MODEL, '--port', '0']);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (err += b));
  const ok = await waitUntil(() => /overlay at (http:\/\/[^ ]+)\//.test(out) || child.exitCode !== null, 60_000);
  if (!ok || child.exitCode !== null) throw new Error(`serve did not start: ${err.slice(-500)}`);
  const url = /overlay at (http:\/\/[^ ]+)\//.exec(out)![1];
  return {
    child,
    url,
    ws: url.replace('http', 'ws') + '/ws',
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      return code as number | null;
    },
  };
}

interface Box {
  ws: WebSocket;
  text: Array<Record<string, unknown>>;
  masks: number;
  closed?: number;
}

function client(url: string, opts: WebSocket.ClientOptions = {}): Promise<Box> {
  return new Promise((res, rej) => {
    const ws = new WebSocket(url, opts);
    const b: Box = { ws, text: [], masks: 0 };
    ws.on('message', (m, bin) => {
      if (bin) {
        if (decodeBinary(new Uint8Array(m as Buffer)).header.topic === 'mask') b.masks++;
      } else b.text.push(JSON.parse(m.toString()));
    });
    ws.on('close', (code) => (b.closed = code));
    ws.on('open', () => res(b));
    ws.on('unexpected-response', (_q, r) => rej(new Error(`HTTP ${r.statusCode}`)));
    ws.on('error', rej);
  });
}

/** A raw HTTP exchange (no client-side normalisation of the path). */
function rawGet(url: string, path: string, extraHeaders = ''): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((res, rej) => {
    const s = tcp(Number(u.port), u.hostname, () =>
      s.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\n${extraHeaders}Connection: close\r\n\r\n`),
    );
    let data = '';
    s.on('data', (b) => (data += b.toString('latin1')));
    s.on('end', () =>
      res({
        status: Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? 0),
        body: data.split('\r\n\r\n').slice(1).join('\r\n\r\n'),
      }),
    );
    s.on('error', rej);
  });
}

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

function ffmpegChildOf(pid: number): number | undefined {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const m = /^\d+ \((.*?)\) \S+ (\d+)/.exec(readFileSync(`/proc/${p}/stat`, 'utf8'));
      if (m && m[1].startsWith('ffmpeg') && Number(m[2]) === pid) return Number(p);
    } catch {
      // gone
    }
  }
  return undefined;
}

describe('fault tier: serve sources and ports', () => {
  it.each([
    ['a missing file', () => join(d, 'nope.mp4'), /nope\.mp4/],
    ['a text file named .mp4', () => join(d, 'text.mp4'), /text\.mp4/],
  ])('%s: exits non-zero with a one-line error', (_n, input, names) => {
    expectFault(tds(['serve', input(), '--model', MODEL, '--port', '0'], { timeoutMs: 60_000 }), names);
  });

  it('a port in use: a typed error naming the port', async () => {
    const s = await startServe(['synth']);
    try {
      const port = new URL(s.url).port;
      expectFault(
        tds(['serve', 'synth', '--model', MODEL, '--port', port]),
        new RegExp(`port ${port} is already in use`),
      );
    } finally {
      await s.stop();
    }
  });

  it('a looping file whose ffmpeg is killed (twice) is reopened within 2 s', async () => {
    const s = await startServe([clip, '--realtime', '--loop']);
    const c = await client(s.ws);
    c.ws.send(JSON.stringify({ op: 'subscribe', topics: ['classes'] }));
    try {
      for (let k = 0; k < 2; k++) {
        expect(await waitUntil(() => c.text.some((m) => m.type === 'classes'), 20_000)).toBe(true);
        // Between two loops there is briefly no ffmpeg: wait for the current one.
        expect(await waitUntil(() => ffmpegChildOf(s.child.pid!) !== undefined, 5000)).toBe(true);
        const ff = ffmpegChildOf(s.child.pid!);
        const t0 = Date.now();
        process.kill(ff!, 'SIGKILL');
        await new Promise((r) => setTimeout(r, 100));
        const seen = c.text.length;
        expect(await waitUntil(() => c.text.slice(seen).some((m) => m.type === 'classes'), 10_000)).toBe(true);
        const ms = Date.now() - t0;
        console.log(`serve --loop: frames again ${ms} ms after its ffmpeg was killed (kill ${k + 1})`);
        expect(ms).toBeLessThan(2000);
        expect(s.child.exitCode).toBeNull();
      }
    } finally {
      c.ws.close();
      await s.stop();
    }
  }, 90_000);

  it('a udp feed whose ffmpeg is killed is reopened at once and delivers frames again within 4 s', async () => {
    const ts = join(d, 'gop1s.mp4');
    ffmpeg([
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=320x256:rate=25:duration=4',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-g',
      '25',
      '-pix_fmt',
      'yuv420p',
      ts,
    ]);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const sender = spawn(
      ffmpegPath(),
      [
        '-loglevel',
        'error',
        '-re',
        '-stream_loop',
        '-1',
        '-i',
        ts,
        '-c',
        'copy',
        '-f',
        'mpegts',
        `udp://127.0.0.1:${port}?pkt_size=1316`,
      ],
      { stdio: 'ignore' },
    );
    const s = await startServe([`udp://127.0.0.1:${port}`]);
    const c = await client(s.ws);
    c.ws.send(JSON.stringify({ op: 'subscribe', topics: ['classes'] }));
    try {
      expect(await waitUntil(() => c.text.filter((m) => m.type === 'classes').length > 5, 30_000)).toBe(true);
      const ff = ffmpegChildOf(s.child.pid!);
      expect(ff).toBeDefined();
      const t0 = Date.now();
      process.kill(ff!, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 300)); // frames already on their way are not the recovery
      const seen = c.text.length;
      expect(await waitUntil(() => c.text.slice(seen).some((m) => m.type === 'classes'), 15_000)).toBe(true);
      const ms = Date.now() - t0;
      console.log(`serve udp: frames again ${ms} ms after its ffmpeg was killed`);
      expect(ms).toBeLessThan(4000);
    } finally {
      c.ws.close();
      await s.stop();
      sender.kill('SIGKILL');
      if (sender.exitCode === null && sender.signalCode === null) await once(sender, 'exit');
    }
  }, 90_000);

  it('SIGTERM with clients connected: clean close code 1001, exit 0, ffmpeg gone', async () => {
    const s = await startServe([clip, '--realtime', '--loop']);
    const a = await client(s.ws);
    const b = await client(s.ws);
    expect(await s.stop()).toBe(0);
    expect(await waitUntil(() => a.closed !== undefined && b.closed !== undefined)).toBe(true);
    expect([a.closed, b.closed]).toEqual([1001, 1001]);
    expect(ffmpegChildOf(s.child.pid!)).toBeUndefined();
  }, 60_000);
});

describe('fault tier: hostile and broken clients', () => {
  let s: Server;
  beforeAll(async () => {
    s = await startServe(['synth', '--token', 'sesame']);
  }, 60_000);
  afterAll(async () => {
    expect(await s.stop()).toBe(0);
  });
  const ws = () => `${s.ws}?token=sesame`;

  it('wrong token in header and in query, and a foreign Origin, are refused', async () => {
    await expect(client(`${s.ws}?token=wrong`)).rejects.toThrow(/401/);
    await expect(client(s.ws, { headers: { Authorization: 'Bearer wrong' } })).rejects.toThrow(/401/);
    await expect(client(s.ws)).rejects.toThrow(/401/);
    await expect(client(ws(), { headers: { Origin: 'http://evil.example' } })).rejects.toThrow(/403/);
    const ok = await client(s.ws, { headers: { Authorization: 'Bearer sesame' } });
    ok.ws.close();
  });

  it('malformed, binary and oversized messages: an error or a close for that client only', async () => {
    const good = await client(ws());
    good.ws.send(JSON.stringify({ op: 'subscribe', topics: ['classes'] }));
    const bad = await client(ws());
    bad.ws.send('{not json');
    bad.ws.send(Buffer.from([1, 2, 3]));
    bad.ws.send(JSON.stringify({ op: 'explode' }));
    bad.ws.send(JSON.stringify({ op: 'subscribe', topics: ['nope'] }));
    expect(await waitUntil(() => bad.text.filter((m) => m.type === 'error').length >= 4)).toBe(true);
    const big = await client(ws());
    big.ws.send('x'.repeat(200_000));
    expect(await waitUntil(() => big.closed !== undefined)).toBe(true);
    expect(big.closed).toBe(1009);
    const n = good.text.length;
    expect(await waitUntil(() => good.text.length > n + 3)).toBe(true);
    good.ws.close();
    bad.ws.close();
  });

  it('maskEncoding "gif" is refused whole: an error, and no masks arrive', async () => {
    const c = await client(ws());
    c.ws.send(JSON.stringify({ op: 'subscribe', topics: ['mask', 'classes'], maskEncoding: 'gif' }));
    expect(await waitUntil(() => c.text.some((m) => m.type === 'error'))).toBe(true);
    expect(String(c.text.find((m) => m.type === 'error')!.error)).toMatch(
      /maskEncoding must be png or rle.*not applied/,
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(c.masks).toBe(0);
    expect(c.text.filter((m) => m.type === 'classes')).toHaveLength(0);
    c.ws.close();
  });

  it('a flood of 2000 subscribe/unsubscribe messages: the server keeps publishing to everyone', async () => {
    const other = await client(ws());
    other.ws.send(JSON.stringify({ op: 'subscribe', topics: ['classes'] }));
    const f = await client(ws());
    for (let i = 0; i < 1000; i++) {
      f.ws.send(JSON.stringify({ op: 'subscribe', topics: ['classes', 'mask', 'frame'] }));
      f.ws.send(JSON.stringify({ op: 'unsubscribe', topics: ['mask', 'frame'] }));
    }
    const n = other.text.length;
    expect(await waitUntil(() => other.text.length > n + 5, 10_000)).toBe(true);
    expect(await waitUntil(() => f.text.some((m) => m.type === 'classes'), 10_000)).toBe(true);
    other.ws.close();
    f.ws.close();
  });

  it('300 connections opened and closed: none left behind, health still answers', async () => {
    for (let round = 0; round < 3; round++) {
      const cs = await Promise.all(Array.from({ length: 100 }, () => client(ws())));
      cs.forEach((c) => c.ws.terminate());
    }
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    let clients = -1;
    for (let i = 0; i < 50 && clients !== 0; i++) {
      clients = ((await (await fetch(`${s.url}/healthz`)).json()) as { clients: number }).clients;
      if (clients) await new Promise((r) => setTimeout(r, 100));
    }
    expect(clients).toBe(0);
  });

  it.each([
    '/../package.json',
    '/%2e%2e/package.json',
    '/%2E%2E/%2E%2E/package.json',
    '/%252e%252e/package.json',
    '/..%2fpackage.json',
    '/..%5cpackage.json',
    '/..\\package.json',
    '//etc/passwd',
    '/dist/../../package.json',
    '/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '/index.html%00.js',
    '/%c0%ae%c0%ae/package.json',
  ])('path traversal %s: refused, nothing outside the page folder served', async (path) => {
    const r = await rawGet(s.url, path);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.body).not.toMatch(/"name": "tds"|root:x:0/);
  });

  it('huge headers are refused (431, or the connection cut before the rest is read), and the server keeps serving', async () => {
    const r = await rawGet(s.url, '/healthz', `X-Big: ${'a'.repeat(100_000)}\r\n`).catch(
      (e: NodeJS.ErrnoException) => ({ status: 0, body: e.code ?? '' }),
    );
    expect([0, 431]).toContain(r.status);
    expect(r.body).not.toMatch(/"status":"ok"/);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
  });
});

describe('fault tier: slow clients', () => {
  it.concurrent(
    'slow partial requests (slowloris) do not stop others, and are cut after the header timeout',
    async () => {
      const s = await startServe(['synth']);
      try {
        const u = new URL(s.url);
        const socks = Array.from({ length: 50 }, () => {
          const k = tcp(Number(u.port), u.hostname, () => k.write(`GET /healthz HTTP/1.1\r\nHost: ${u.host}\r\n`));
          k.on('error', () => {});
          return k;
        });
        const trickle = setInterval(() => socks.forEach((k) => k.writable && k.write('X-a: b\r\n')), 1000);
        const t0 = Date.now();
        expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
        const closed = await waitUntil(() => socks.every((k) => k.destroyed || k.readableEnded), 25_000);
        const cutAfter = Date.now() - t0;
        clearInterval(trickle);
        console.log(`slowloris: 50 trickling requests cut after ${cutAfter} ms; others served meanwhile`);
        expect(closed).toBe(true);
        // The default header timeout is 10 s; Node checks it every second here (not its default 30 s).
        expect(cutAfter).toBeGreaterThan(9_000);
        expect(cutAfter).toBeLessThan(20_000);
        socks.forEach((k) => k.destroy());
      } finally {
        await s.stop();
      }
    },
    60_000,
  );

  it.concurrent(
    'a client that never reads for 60 s beside one that reads: the reader keeps its rate, RSS stays bounded',
    async () => {
      const s = await startServe(['synth', '--rate', '25']);
      try {
        const reader = await client(s.ws);
        reader.ws.send(JSON.stringify({ op: 'subscribe', topics: ['classes', 'mask', 'frame'] }));
        await waitUntil(() => reader.masks > 10, 20_000);
        const rate = async (ms: number) => {
          const n0 = reader.masks;
          await new Promise((r) => setTimeout(r, ms));
          return ((reader.masks - n0) * 1000) / ms;
        };
        const before = await rate(5000);
        const rss0 = rssMiB(s.child.pid!);
        // The stalled client: a raw socket that completes the upgrade, subscribes to everything, then never reads.
        const u = new URL(s.url);
        const stalled = tcp(Number(u.port), u.hostname);
        await once(stalled, 'connect');
        stalled.write(
          `GET /ws HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
        const sub = Buffer.from(JSON.stringify({ op: 'subscribe', topics: ['classes', 'mask', 'frame', 'stats'] }));
        const mask = [1, 2, 3, 4];
        stalled.write(
          Buffer.concat([
            Buffer.from([0x81, 0x80 | sub.length, ...mask]),
            Buffer.from(sub.map((b, i) => b ^ mask[i % 4])),
          ]),
        );
        stalled.pause();
        stalled.on('error', () => {});
        const during = await rate(60_000);
        const rss1 = rssMiB(s.child.pid!);
        console.log(
          `slow client: reader ${before.toFixed(1)} masks/s before, ${during.toFixed(1)} masks/s during 60 s beside a client that never reads; server RSS ${rss0.toFixed(0)} -> ${rss1.toFixed(0)} MiB`,
        );
        expect(during).toBeGreaterThan(before * 0.8);
        expect(rss1 - rss0).toBeLessThan(100);
        stalled.destroy();
        reader.ws.close();
      } finally {
        await s.stop();
      }
    },
    150_000,
  );
});

afterAll(() => {
  // Every server above ended its ffmpeg.
  expect(ffmpegPids().filter((p) => ffmpegChildOf(process.pid) === p)).toEqual([]);
});
