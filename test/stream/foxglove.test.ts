// Foxglove and MCAP with real parts: tds serve on port 0, @foxglove/ws-protocol's own client, @mcap/core's
// readers on recordings written by tds (and on one cut short by SIGKILL), replay back over /ws.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import WebSocket from 'ws';
import sharp from 'sharp';
import wsProtocol from '@foxglove/ws-protocol';
import { McapIndexedReader, McapStreamReader } from '@mcap/core';
import zstd from '@foxglove/wasm-zstd';
import { serve, type ServeHandle } from '../../src/stream/serve.js';
import { processInput } from '../../src/stream/process.js';
import { McapRecorder, openRecording, segmentName } from '../../src/stream/mcap.js';
import { type ServerMessage } from '../../src/stream/protocol.js';
import { loadPalette } from '../../src/ingest/palette.js';
import { readRaw } from '../../src/ingest/image-io.js';
import { cli, makeClip, root, tmp, waitUntil, tinyRobotModel } from '../helpers.js';

const { FoxgloveClient } = wsProtocol;
const robot = loadPalette(join(root, 'configs', 'robot18.yaml'));
let model: string;

beforeAll(async () => {
  ({ model } = await tinyRobotModel());
  await zstd.isLoaded;
});

const decompressHandlers = { zstd: (b: Uint8Array, size: bigint) => zstd.decompress(b, Number(size)) };

/** @mcap/core's random-access reader over a file on disk. */
async function indexed(file: string) {
  const fh = await open(file, 'r');
  const size = BigInt((await fh.stat()).size);
  const reader = await McapIndexedReader.Initialize({
    readable: {
      size: async () => size,
      read: async (offset: bigint, length: bigint) => {
        const b = new Uint8Array(Number(length));
        await fh.read(b, 0, Number(length), Number(offset));
        return b;
      },
    },
    decompressHandlers,
  });
  return { reader, close: () => fh.close() };
}

interface FoxMessage {
  topic: string;
  timestamp: bigint;
  json: Record<string, unknown>;
}

/** Connects Foxglove's own client, subscribes to every advertised channel, collects decoded messages. */
async function foxClient(url: string, protocols = [FoxgloveClient.SUPPORTED_SUBPROTOCOL]) {
  const ws = new WebSocket(url, protocols);
  const client = new FoxgloveClient({ ws: ws as never });
  const channels = new Map<number, { topic: string; schemaName: string; encoding: string; schema: string }>();
  const subs = new Map<number, string>();
  const messages: FoxMessage[] = [];
  client.on('advertise', (chs) => {
    for (const c of chs) {
      channels.set(c.id, c);
      subs.set(client.subscribe(c.id), c.topic);
    }
  });
  client.on('message', (m) => {
    const bytes = new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength);
    messages.push({
      topic: subs.get(m.subscriptionId)!,
      timestamp: m.timestamp,
      json: JSON.parse(new TextDecoder().decode(bytes)),
    });
  });
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
    ws.once('unexpected-response', (_q, r) => rej(new Error(`HTTP ${r.statusCode}`)));
  });
  return { ws, client, channels, messages, close: () => client.close() };
}

const nsOf = (t: { sec: number; nsec: number }) => BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);

describe('Foxglove WebSocket on tds serve', () => {
  let h: ServeHandle;
  beforeAll(async () => {
    h = await serve('synth', { model, port: 0, token: 'sesame', synth: { width: 96, height: 64 } });
  });
  afterAll(async () => h?.close());

  it('advertises frame, mask, labels, annotations and palette with Foxglove schemas; messages decode and share timestamps', async () => {
    const fox = await foxClient(`${h.url.replace('http', 'ws')}/foxglove?token=sesame`);
    expect(fox.ws.protocol).toBe('foxglove.websocket.v1');
    expect(await waitUntil(() => fox.messages.filter((m) => m.topic === '/tds/labels').length >= 10, 15_000)).toBe(
      true,
    );
    fox.close();
    const byTopic = Object.fromEntries([...fox.channels.values()].map((c) => [c.topic, c]));
    expect(Object.keys(byTopic).sort()).toEqual([
      '/tds/annotations',
      '/tds/frame',
      '/tds/labels',
      '/tds/mask',
      '/tds/palette',
    ]);
    expect(byTopic['/tds/frame']).toMatchObject({ schemaName: 'foxglove.CompressedImage', encoding: 'json' });
    expect(byTopic['/tds/mask']).toMatchObject({ schemaName: 'foxglove.RawImage', encoding: 'json' });
    expect(byTopic['/tds/annotations']).toMatchObject({ schemaName: 'foxglove.ImageAnnotations' });
    expect(JSON.parse(byTopic['/tds/mask'].schema).properties.data).toMatchObject({ contentEncoding: 'base64' });

    const palette = fox.messages.find((m) => m.topic === '/tds/palette')!.json;
    expect((palette.classes as Array<{ name: string }>).map((c) => c.name)).toEqual(robot.classes.map((c) => c.name));
    const labels = fox.messages.filter((m) => m.topic === '/tds/labels');
    for (const l of labels.slice(0, 5)) {
      // The message timestamp, the schema timestamp and the frame/mask of the same frame all agree.
      expect(nsOf(l.json.timestamp as { sec: number; nsec: number })).toBe(l.timestamp);
      const frame = fox.messages.find((m) => m.topic === '/tds/frame' && m.timestamp === l.timestamp)!;
      const mask = fox.messages.find((m) => m.topic === '/tds/mask' && m.timestamp === l.timestamp)!;
      expect(frame.json).toMatchObject({ format: 'jpeg', frame_id: 'endoscope' });
      const jpeg = await sharp(Buffer.from(frame.json.data as string, 'base64')).metadata();
      expect([jpeg.format, jpeg.width, jpeg.height]).toEqual(['jpeg', 96, 64]);
      expect(mask.json).toMatchObject({ encoding: 'mono8', width: 96, height: 64, step: 96, frame_id: 'endoscope' });
      const ids = Buffer.from(mask.json.data as string, 'base64');
      expect(ids.length).toBe(96 * 64);
      expect(Math.max(...ids)).toBeLessThan(robot.classes.length);
      expect(Object.keys(l.json.presence as object).sort()).toEqual(robot.classes.map((c) => c.name).sort());
      expect(typeof l.json.sync).toBe('number');
    }
    // Capture time: within the last minute of the wall clock.
    expect(Number(labels[0].timestamp / 1_000_000n)).toBeGreaterThan(Date.now() - 60_000);
    const notes = fox.messages.find((m) => m.topic === '/tds/annotations')!.json;
    expect((notes.texts as Array<{ text: string }>)[0].text).toMatch(/sync \d\.\d\d/);
  });

  it('the same token and origin rules as /ws', async () => {
    const base = `${h.url.replace('http', 'ws')}/foxglove`;
    await expect(foxClient(base)).rejects.toThrow(/HTTP 401/);
    await expect(foxClient(`${base}?token=wrong`)).rejects.toThrow(/HTTP 401/);
    const ws = new WebSocket(`${base}?token=sesame`, [FoxgloveClient.SUPPORTED_SUBPROTOCOL], {
      origin: 'http://evil.example',
    });
    const code = await new Promise<number>((r) => ws.on('unexpected-response', (_q, res) => r(res.statusCode!)));
    expect(code).toBe(403);
    expect(h.foxglove!.clientCount()).toBe(0);
  });
});

describe('MCAP recording and replay', () => {
  it('records 5 s of tds serve synth; @mcap/core reads channels, schemas, counts, monotonic times; replay sends the same labels over /ws', async () => {
    const file = join(tmp(), 'session.mcap');
    const h = await serve('synth', { model, port: 0, synth: { width: 96, height: 64 }, record: file });
    await new Promise((r) => setTimeout(r, 5000));
    expect(existsSync(`${file}.part`)).toBe(true);
    await h.close();
    expect(existsSync(file) && !existsSync(`${file}.part`)).toBe(true);
    const { reader, close } = await indexed(file);
    try {
      const topics = [...reader.channelsById.values()].map((c) => [
        c.topic,
        reader.schemasById.get(c.schemaId)!.name,
        c.messageEncoding,
      ]);
      expect(topics).toEqual([
        ['/tds/frame', 'foxglove.CompressedImage', 'json'],
        ['/tds/mask', 'foxglove.RawImage', 'json'],
        ['/tds/annotations', 'foxglove.ImageAnnotations', 'json'],
        ['/tds/labels', 'tds.Labels', 'json'],
        ['/tds/palette', 'tds.Palette', 'json'],
      ]);
      expect(reader.chunkIndexes.every((c) => c.compression === 'zstd')).toBe(true);
      const counts = new Map<string, number>();
      const times = new Map<string, bigint[]>();
      const labels: Array<Record<string, unknown>> = [];
      for await (const m of reader.readMessages()) {
        const t = reader.channelsById.get(m.channelId)!.topic;
        counts.set(t, (counts.get(t) ?? 0) + 1);
        times.set(t, [...(times.get(t) ?? []), m.logTime]);
        if (t === '/tds/labels') labels.push(JSON.parse(new TextDecoder().decode(m.data)));
      }
      const n = counts.get('/tds/labels')!;
      expect(n).toBeGreaterThan(60); // 5 s at 25 fps, less what a busy machine dropped
      expect(n).toBe(h.counters.processed);
      for (const t of ['/tds/frame', '/tds/mask', '/tds/annotations']) expect(counts.get(t)).toBe(n);
      expect(counts.get('/tds/palette')).toBe(1);
      expect(reader.statistics!.messageCount).toBe(BigInt(4 * n + 1));
      for (const ts of times.values()) for (let i = 1; i < ts.length; i++) expect(ts[i] >= ts[i - 1]).toBe(true);
      expect(times.get('/tds/frame')).toEqual(times.get('/tds/labels'));

      // Replay to /ws at the recorded pace: the same labels, frame by frame, without the model.
      const r = await serve(file, { port: 0 });
      const ws = new WebSocket(`${r.url.replace('http', 'ws')}/ws`);
      const got: ServerMessage[] = [];
      ws.on('message', (d, bin) => !bin && got.push(JSON.parse(d.toString())));
      await new Promise((res) => ws.on('open', res));
      ws.send(JSON.stringify({ op: 'subscribe', topics: ['classes', 'scene'] }));
      // ... and to Foxglove, with the recorded timestamps.
      const fox = await foxClient(`${r.url.replace('http', 'ws')}/foxglove`);
      await r.done;
      ws.close();
      fox.close();
      await r.close();
      const replayed = fox.messages.filter((m) => m.topic === '/tds/labels');
      expect(replayed.length).toBeGreaterThan(n - 15);
      for (const m of replayed) expect(times.get('/tds/labels')).toContain(m.timestamp);
      const hello = got.find((m) => m.type === 'hello')!;
      expect(hello).toMatchObject({ classes: robot.classes.map((c) => ({ id: c.id, name: c.name })) });
      const classes = got.filter((m) => m.type === 'classes') as Array<Extract<ServerMessage, { type: 'classes' }>>;
      // A client subscribes a moment after the replay starts: every message it got matches the recording.
      expect(classes.length).toBeGreaterThan(n - 15);
      for (const c of classes) {
        const l = labels.find((x) => x.frame === c.frame)!;
        expect({ presence: c.presence, maskPresent: c.maskPresent, sync: c.sync }).toEqual({
          presence: l.presence,
          maskPresent: l.maskPresent,
          sync: l.sync,
        });
      }
    } finally {
      await close();
    }
  }, 60_000);

  it('SIGKILL mid-recording: every completed chunk of the .part file reads back', async () => {
    const dir = tmp();
    const file = join(dir, 'crash.mcap');
    const child = spawn(
      process.execPath,
      [join(root, 'dist', 'cli', 'index.js'), 'serve', 'synth', '--model', model, '--port', '0', '--record', file],
      { stdio: 'ignore' },
    );
    // Default synth frames (320x256): ~0.2 MB of messages per frame, so a 1 MiB chunk completes every few frames.
    expect(await waitUntil(() => existsSync(`${file}.part`) && statSync(`${file}.part`).size > 600_000, 60_000)).toBe(
      true,
    );
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    expect(existsSync(file)).toBe(false);
    const bytes = readFileSync(`${file}.part`);
    // Count the chunk records wholly on disk by walking the record framing (opcode, uint64 length, body).
    let complete = 0;
    for (let p = 8; p + 9 <= bytes.length;) {
      const len = Number(bytes.readBigUInt64LE(p + 1));
      if (p + 9 + len > bytes.length) break;
      if (bytes[p] === 0x06) complete++;
      p += 9 + len;
    }
    expect(complete).toBeGreaterThanOrEqual(1);
    const stream = new McapStreamReader({ includeChunks: true, decompressHandlers });
    stream.append(bytes);
    let chunks = 0;
    for (let r = stream.nextRecord(); r; r = stream.nextRecord()) if (r.type === 'Chunk') chunks++;
    expect(chunks).toBe(complete);
    // tds reads it too (up to the last complete chunk) and every frame in it is whole.
    const rec = await openRecording(`${file}.part`);
    let frames = 0;
    for await (const f of rec.frames) {
      expect(f.mask.length).toBe(320 * 256);
      expect(f.jpeg!.length).toBeGreaterThan(100);
      frames++;
    }
    expect(frames).toBeGreaterThan(0);
  }, 90_000);

  it('a size bound rotates files, each whole and indexed; an existing recording is never overwritten', async () => {
    const dir = tmp();
    const file = join(dir, 'rot.mcap');
    const info = {
      palette: {
        classes: robot.classes.map((c) => ({ id: c.id, name: c.name, color: c.color as [number, number, number] })),
        scenes: ['a'],
      },
    };
    const rec = await McapRecorder.open(file, info, { maxBytes: 100_000, chunkBytes: 64 * 1024 });
    // Noise ids, so zstd cannot shrink the frames to nothing and the bound is reached.
    const noise = () => new Uint8Array(256 * 256).map(() => Math.floor(Math.random() * 5));
    for (let i = 0; i < 30; i++)
      await rec.write({
        timeNs: BigInt(i) * 40_000_000n,
        width: 256,
        height: 256,
        mask: noise(),
        labels: {
          frame: i,
          ptsMs: i * 40,
          presence: {},
          present: [],
          maskPresent: [],
          sync: 1,
          scene: { label: 'a', probs: { a: 1 } },
          sizes: [],
        },
      });
    const files = await rec.close();
    expect(files.length).toBeGreaterThan(1);
    expect(files.slice(0, 3)).toEqual(
      [file, segmentName(file, 1), segmentName(file, 2)].slice(0, Math.min(3, files.length)),
    );
    expect(readdirSync(dir).sort()).toEqual(files.map((f) => f.slice(dir.length + 1)).sort());
    let total = 0;
    for (const f of files) {
      const { reader, close } = await indexed(f);
      const c = [...reader.channelsById.values()].find((x) => x.topic === '/tds/labels')!;
      for await (const m of reader.readMessages({ topics: ['/tds/labels'] })) {
        expect(m.channelId).toBe(c.id);
        total++;
      }
      await close();
    }
    expect(total).toBe(30);
    await expect(McapRecorder.open(file, info)).rejects.toThrow(/rot\.mcap already exists .*never overwritten/);
    await expect(McapRecorder.open(join(dir, 'x.txt'), info)).rejects.toThrow(/must be named \*\.mcap/);
    const junk = join(dir, 'junk.mcap');
    writeFileSync(junk, 'not an mcap file at all');
    await expect(openRecording(junk)).rejects.toThrow(/junk\.mcap is not a readable MCAP file/);
  });

  it('tds process --mcap records every frame at its media time; a failed run leaves no recording', async () => {
    const dir = tmp();
    const clip = makeClip(join(dir, 'clip.mp4'), { w: 96, h: 64, fps: 10, seconds: 1 });
    const file = join(dir, 'run.mcap');
    const s = await processInput(clip, { model, out: join(dir, 'out'), mcap: file });
    expect(s.frames).toBe(10);
    const rec = await openRecording(file);
    const times: bigint[] = [];
    const lines = readFileSync(join(dir, 'out', 'labels.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    for await (const f of rec.frames) {
      times.push(f.timeNs);
      expect(f.labels.maskPresent).toEqual(lines[f.labels.frame].maskPresent);
      const png = await readRaw(join(dir, 'out', 'masks', `${lines[f.labels.frame].name}.png`));
      expect(Buffer.from(f.mask).equals(png.data)).toBe(true);
    }
    expect(times).toEqual(lines.map((l) => BigInt(Math.round(l.ptsMs * 1000)) * 1000n));
    // The recording exists already: refused before anything is processed.
    await expect(processInput(clip, { model, out: join(dir, 'out2'), mcap: file })).rejects.toThrow(
      /run\.mcap already exists/,
    );
    expect(existsSync(join(dir, 'out2', 'labels.ndjson'))).toBe(false);
    // Interrupted: no .mcap and no .part left.
    const ac = new AbortController();
    await processInput(clip, {
      model,
      out: join(dir, 'out3'),
      mcap: join(dir, 'cut.mcap'),
      signal: ac.signal,
      onFrame: (n) => n === 3 && ac.abort(),
    });
    expect(readdirSync(dir).filter((f) => f.startsWith('cut'))).toEqual([]);
  });

  it('the CLI: a recording that exists, a live source without --model, a non-recording replayed: one-line errors, nothing listens', () => {
    const dir = tmp();
    const existing = join(dir, 'old.mcap');
    writeFileSync(existing, 'a user recording');
    const a = cli(['serve', 'synth', '--model', model, '--port', '0', '--record', existing]);
    expect(a.code).not.toBe(0);
    expect(a.stderr).toMatch(/^tds: .*old\.mcap already exists .*never overwritten/m);
    expect(readFileSync(existing, 'utf8')).toBe('a user recording');
    const b = cli(['serve', 'synth', '--port', '0']);
    expect(b.code).not.toBe(0);
    expect(b.stderr).toMatch(/^tds: serving a live source needs --model/m);
    const c = cli(['serve', existing, '--port', '0']);
    expect(c.code).not.toBe(0);
    expect(c.stderr).toMatch(/^tds: .*old\.mcap is not a readable MCAP file/m);
  });
});
