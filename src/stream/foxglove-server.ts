// Foxglove WebSocket publishing (the foxglove.websocket.v1 subprotocol, @foxglove/ws-protocol's server) on the
// same HTTP server as the overlay page, at /foxglove, behind the same token and origin checks as /ws. Channels
// and messages come from foxglove.ts; a channel costs nothing until a client subscribes to it. A client whose
// send buffer is over the bound skips image messages (as on /ws) so one slow viewer never holds back the others.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';
import wsProtocol from '@foxglove/ws-protocol';
import { log } from '../log.js';
import { MAX_CLIENT_MESSAGE } from './protocol.js';
import {
  CHANNELS,
  frameMessages,
  type FrameMessages,
  paletteMessage,
  type FoxgloveTopic,
  type PaletteInfo,
  type PublishedFrame,
} from './foxglove.js';

// CommonJS package: its named exports are reached through the default import under Node's ESM.
const { FoxgloveServer } = wsProtocol;
type FoxgloveServer = InstanceType<typeof FoxgloveServer>;

export const FOXGLOVE_PATH = '/foxglove';

export interface FoxglovePublisher {
  /** Hands an authorised upgrade request on FOXGLOVE_PATH to the Foxglove server. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** True when some client is subscribed to the channel. */
  wants(key: FoxgloveTopic): boolean;
  /** True when some client is subscribed to any channel. */
  wantsAny(): boolean;
  /** Sends a frame to subscribers; `encoded` (all or more channels) spares encoding it again. */
  publish(f: PublishedFrame, encoded?: FrameMessages): void;
  clientCount(): number;
  close(): Promise<void>;
}

/** The palette is resent this often, so a panel opened later gets it too (it is a few hundred bytes). */
const PALETTE_EVERY_MS = 1000;

export function createFoxglovePublisher(o: {
  name: string;
  palette: PaletteInfo;
  /** Image messages go to a client only while its buffer holds less than this. */ maxBufferedBytes: number;
}): FoxglovePublisher {
  const fox = new FoxgloveServer({
    name: o.name,
    capabilities: [],
    supportedEncodings: ['json'],
    metadata: { classes: o.palette.classes.map((c) => c.name).join(',') },
  });
  const ids = new Map<FoxgloveTopic, number>();
  const keyOf = new Map<number, FoxgloveTopic>();
  for (const c of CHANNELS) {
    const id = fox.addChannel({
      topic: c.topic,
      encoding: c.encoding,
      schemaName: c.schemaName,
      schema: c.schema,
      schemaEncoding: c.schemaEncoding,
    });
    ids.set(c.key, id);
    keyOf.set(id, c.key);
  }
  const subscribed = new Set<FoxgloveTopic>();
  const palette = paletteMessage(o.palette);
  let paletteAt = 0;
  let lastTimeNs = 0n;
  const sendPalette = (timeNs: bigint) => {
    fox.sendMessage(ids.get('palette')!, timeNs, palette);
    paletteAt = performance.now();
  };
  fox.on('subscribe', (id) => {
    const key = keyOf.get(id);
    if (!key) return;
    subscribed.add(key);
    if (key === 'palette') sendPalette(lastTimeNs);
  });
  fox.on('unsubscribe', (id) => {
    const key = keyOf.get(id);
    if (key) subscribed.delete(key);
  });
  fox.on('error', (e) => log.debug({ err: e.message }, 'foxglove client error'));

  const maxBuffered = o.maxBufferedBytes;
  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_CLIENT_MESSAGE,
    handleProtocols: (protocols) => fox.handleProtocols(protocols),
  });
  wss.on('connection', (ws, req) => {
    sockets.add(ws);
    // Backpressure: binary message data (images) is skipped while this client's buffer is over the bound;
    // control messages (JSON text) always go. The wrapper takes one parameter on purpose: ws-protocol then
    // sends each message in one piece (it fragments only when send takes options), so a skip drops whole
    // messages, never half of one.
    const send = ws.send.bind(ws);
    ws.send = ((data: unknown, ...rest: unknown[]) => {
      if (typeof data !== 'string' && ws.bufferedAmount > maxBuffered) return;
      (send as (...a: unknown[]) => void)(data, ...rest);
    }) as typeof ws.send;
    ws.on('error', (e) => log.debug({ err: e.message }, 'foxglove socket error'));
    ws.on('close', () => sockets.delete(ws));
    fox.handleConnection(
      ws as unknown as Parameters<FoxgloveServer['handleConnection']>[0],
      `${req.socket.remoteAddress}:${req.socket.remotePort}`,
    );
  });

  return {
    handleUpgrade(req, socket, head) {
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    },
    wants: (key) => subscribed.has(key),
    wantsAny: () => subscribed.size > 0,
    publish(f, encoded) {
      lastTimeNs = f.timeNs;
      if (!subscribed.size) return;
      if (subscribed.has('palette') && performance.now() - paletteAt > PALETTE_EVERY_MS) sendPalette(f.timeNs);
      for (const m of (encoded ?? frameMessages(f, o.palette, (k) => subscribed.has(k))).filter((x) =>
        subscribed.has(x.key),
      ))
        fox.sendMessage(ids.get(m.key)!, f.timeNs, m.data);
    },
    clientCount: () => sockets.size,
    async close() {
      for (const ws of sockets) ws.close(1001, 'server shutting down');
      const end = Date.now() + 1000;
      while ([...sockets].some((ws) => ws.readyState !== WebSocket.CLOSED) && Date.now() < end)
        await new Promise((r) => setTimeout(r, 20));
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}
