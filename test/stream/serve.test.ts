// tds serve with real parts: a server on port 0, ws clients, the synthetic live source, a real model.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import WebSocket from 'ws';
import sharp from 'sharp';
import { serve, type ServeHandle } from '../../src/stream/serve.js';
import { decodeBinary, rleDecode, rleEncode, type ServerMessage } from '../../src/stream/protocol.js';
import { loadPalette } from '../../src/ingest/palette.js';
import { root, tmp, tinyRobotModel } from '../helpers.js';

const robot = loadPalette(join(root, 'configs', 'robot18.yaml'));
let model: string;

beforeAll(async () => {
  ({ model } = await tinyRobotModel());
});

interface Inbox {
  ws: WebSocket;
  text: ServerMessage[];
  binary: Array<ReturnType<typeof decodeBinary>>;
  closed?: { code: number };
}

function connect(url: string, opts: WebSocket.ClientOptions = {}): Promise<Inbox> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    const box: Inbox = { ws, text: [], binary: [] };
    ws.on('message', (d, isBinary) =>
      isBinary ? box.binary.push(decodeBinary(new Uint8Array(d as Buffer))) : box.text.push(JSON.parse(d.toString())),
    );
    ws.on('close', (code) => (box.closed = { code }));
    ws.on('open', () => resolve(box));
    ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on('error', reject);
  });
}

const until = async (cond: () => boolean, ms = 8000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return cond();
};

describe('tds serve', () => {
  let h: ServeHandle;
  let wsUrl: string;
  beforeAll(async () => {
    h = await serve('synth', {
      model,
      port: 0,
      token: 'sesame',
      allowOrigins: ['http://or-display.local'],
      synth: { width: 96, height: 64 },
      minArea: 4,
      stallTimeoutMs: 60_000,
      maxBufferedBytes: 64 * 1024,
    });
    wsUrl = `${h.url.replace('http', 'ws')}/ws`;
  });
  afterAll(async () => h?.close());

  it('hello, subscribe, then classes/scene/stats messages and mask/frame binaries with valid headers and PNGs', async () => {
    const c = await connect(`${wsUrl}?token=sesame`);
    await until(() => c.text.length > 0);
    const hello = c.text[0];
    expect(hello).toMatchObject({
      type: 'hello',
      protocol: 1,
      topics: ['classes', 'scene', 'stats', 'mask', 'frame'],
      scenes: ['preparing', 'peeling', 'incising'],
    });
    expect(hello.type === 'hello' && hello.classes[1]).toEqual({ id: 1, name: 'instrument-shaft', color: [0, 255, 0] });
    c.ws.send(JSON.stringify({ op: 'subscribe', topics: ['classes', 'scene', 'stats', 'mask', 'frame'] }));
    expect(
      await until(
        () => c.binary.filter((b) => b.header.topic === 'mask').length >= 3 && c.text.some((t) => t.type === 'stats'),
      ),
    ).toBe(true);
    const cls = c.text.find((t) => t.type === 'classes')!;
    expect(cls).toMatchObject({
      type: 'classes',
      frame: expect.any(Number),
      ptsMs: expect.any(Number),
      sync: expect.any(Number),
      latencyMs: expect.any(Number),
      sizes: ['64x96'],
    });
    expect(c.text.find((t) => t.type === 'scene')).toMatchObject({
      label: expect.stringMatching(/preparing|peeling|incising/),
    });
    const mask = c.binary.find((b) => b.header.topic === 'mask')!;
    expect(mask.header).toMatchObject({ topic: 'mask', width: 96, height: 64, encoding: 'png' });
    const { data, info } = await sharp(Buffer.from(mask.payload)).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([96, 64]);
    expect(Math.max(...data)).toBeLessThan(12);
    // the mask's labels agree with the classes message of the same frame
    const sameFrame = c.text.find((t) => t.type === 'classes' && t.frame === mask.header.frame);
    if (sameFrame?.type === 'classes') {
      const present = [...new Set(Array.from(data).filter((_, i) => i % info.channels === 0))]
        .sort((a, b) => a - b)
        .map((k) => robot.classes[k].name);
      expect(present).toEqual(sameFrame.maskPresent);
    }
    const frame = c.binary.find((b) => b.header.topic === 'frame')!;
    expect(frame.header).toMatchObject({ encoding: 'jpeg', width: 96, height: 64 });
    expect((await sharp(Buffer.from(frame.payload)).metadata()).format).toBe('jpeg');
    c.ws.close();
    // Where each frame's time went (the benchmark's tail evidence): the forward pass on ORT's thread is part of
    // inference, inference part of the latency, in arrival order.
    const t = h.frameTimings();
    expect(t.length).toBeGreaterThanOrEqual(3);
    for (const x of t) {
      expect(x.run).toBeGreaterThan(0);
      expect(x.run!).toBeLessThanOrEqual(x.infer);
      expect(x.infer + x.post).toBeLessThanOrEqual(x.latency + 1e-6);
    }
    expect(t.every((x, i) => i === 0 || x.arrivedAt > t[i - 1].arrivedAt)).toBe(true);
  });

  it('RLE masks on request decode to the same labels as the PNG', async () => {
    const c = await connect(wsUrl, { headers: { Authorization: 'Bearer sesame' } });
    c.ws.send(JSON.stringify({ op: 'subscribe', topics: ['mask'], maskEncoding: 'rle' }));
    expect(await until(() => c.binary.length >= 1)).toBe(true);
    const m = c.binary[0];
    expect(m.header.encoding).toBe('rle');
    const labels = rleDecode(m.payload, m.header.width * m.header.height);
    expect(labels.length).toBe(96 * 64);
    expect(rleEncode(labels)).toEqual(m.payload);
    c.ws.close();
  });

  it('requires the token and rejects foreign origins', async () => {
    await expect(connect(wsUrl)).rejects.toThrow('HTTP 401');
    await expect(connect(`${wsUrl}?token=wrong`)).rejects.toThrow('HTTP 401');
    await expect(connect(`${wsUrl}?token=sesame`, { headers: { Origin: 'http://evil.example' } })).rejects.toThrow(
      'HTTP 403',
    );
    const ok = await connect(`${wsUrl}?token=sesame`, { headers: { Origin: 'http://or-display.local' } });
    ok.ws.close();
    expect((await fetch(`${h.url}/metrics`)).status).toBe(401);
    const metrics = await (await fetch(`${h.url}/metrics`, { headers: { Authorization: 'Bearer sesame' } })).text();
    expect(metrics).toMatch(/tds_frames_processed_total \d+/);
    expect(metrics).toMatch(/tds_latency_seconds_bucket/);
    const health = await (await fetch(`${h.url}/healthz`)).json();
    expect(health).toMatchObject({ status: 'ok', engine: 'ort/cpu', sizes: ['64x96'] });
  });

  it('malformed and oversized client messages get an error or a close, and never affect other clients', async () => {
    const good = await connect(`${wsUrl}?token=sesame`);
    good.ws.send(JSON.stringify({ op: 'subscribe', topics: ['classes'] }));
    const bad = await connect(`${wsUrl}?token=sesame`);
    bad.ws.send('{not json');
    bad.ws.send(JSON.stringify({ op: 'dance' }));
    bad.ws.send(JSON.stringify({ op: 'subscribe', topics: ['secrets'] }));
    bad.ws.send(Buffer.from([1, 2, 3]));
    expect(await until(() => bad.text.filter((t) => t.type === 'error').length >= 4)).toBe(true);
    const errors = bad.text.filter((t) => t.type === 'error').map((t) => (t.type === 'error' ? t.error : ''));
    expect(errors).toEqual([
      'invalid JSON',
      'unknown op "dance"; use subscribe, unsubscribe or ping',
      expect.stringContaining('unknown: secrets'),
      'binary messages are not accepted; send JSON text',
    ]);
    bad.ws.send('x'.repeat(70 * 1024));
    expect(await until(() => bad.closed !== undefined)).toBe(true);
    expect(bad.closed!.code).toBe(1009);
    const before = good.text.length;
    expect(await until(() => good.text.length > before + 3)).toBe(true);
    good.ws.close();
  });
});

describe('tds serve: one stalled client', () => {
  it('skips masks and frames for the stalled client while a fast client keeps receiving', async () => {
    // 320x256 frames (JPEG + PNG ~25 kB each) fill a paused socket's buffers within seconds.
    const h = await serve('synth', {
      model,
      port: 0,
      synth: { width: 320, height: 256 },
      maxBufferedBytes: 32 * 1024,
      stallTimeoutMs: 60_000,
    });
    try {
      const url = `${h.url.replace('http', 'ws')}/ws`;
      const fast = await connect(url);
      const slow = await connect(url);
      for (const c of [fast, slow])
        c.ws.send(JSON.stringify({ op: 'subscribe', topics: ['classes', 'mask', 'frame', 'stats'] }));
      await until(() => slow.binary.length > 0);
      // Stop reading: the socket fills and the server's bufferedAmount for this client grows.
      (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      expect(await until(() => h.publisher.clientSkips().some((n) => n > 0), 30_000)).toBe(true);
      const start = fast.binary.length;
      expect(await until(() => fast.binary.length > start + 20)).toBe(true);
      const skips = h.publisher.clientSkips();
      expect(Math.min(...skips)).toBe(0); // the fast client skipped nothing
      const masks = fast.binary.filter((b) => b.header.topic === 'mask').map((b) => b.header.frame);
      const classes = fast.text.filter((t) => t.type === 'classes').map((t) => (t.type === 'classes' ? t.frame : -1));
      for (const f of masks.slice(-10)) expect(classes).toContain(f);
      expect((await (await fetch(`${h.url}/healthz`)).json()).skippedForSlowClients).toBeGreaterThan(0);
      fast.ws.close();
      slow.ws.terminate();
    } finally {
      await h.close();
    }
  });
});

describe('tds serve: sources that end or fail', () => {
  it('reopens a failing live source with backoff and keeps serving', async () => {
    const h = await serve('rtsp://127.0.0.1:9/none', { model, port: 0 });
    try {
      expect(await until(() => h.counters.reopened >= 2, 10_000)).toBe(true);
      const health = await (await fetch(`${h.url}/healthz`)).json();
      expect(health.reopened).toBeGreaterThanOrEqual(2);
      expect(health.status).toBe('ok');
    } finally {
      await h.close();
    }
  });

  it('a file ends the stream, or loops with --loop', async () => {
    const { ffmpeg } = await import('../helpers.js');
    const clip = join(tmp(), 'three.mkv');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=96x64:rate=25:duration=0.12', '-c:v', 'ffv1', clip]);
    const once = await serve(clip, { model, port: 0 });
    await once.done;
    expect(once.counters.framesIn).toBe(3);
    await once.close();
    const looped = await serve(clip, { model, port: 0, loop: true });
    expect(await until(() => looped.counters.framesIn >= 9)).toBe(true);
    await looped.close();
  });
});
