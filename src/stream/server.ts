// HTTP + WebSocket publishing: the overlay page (static-files.ts), /healthz, /metrics (Prometheus,
// server-metrics.ts) and /ws (client-session.ts), behind one auth rule (auth.ts). Per-client backpressure: a
// client whose send buffer is over a bound skips mask/frame messages (counted) while labels keep flowing; one
// stalled past a timeout is closed; a heartbeat drops dead peers. Nothing a client sends can crash the server
// or affect other clients.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';
import type { Registry } from 'prom-client';
import { log } from '../log.js';
import { TdsError } from '../errors.js';
import {
  MAX_CLIENT_MESSAGE,
  PROTOCOL_VERSION,
  TOPICS,
  encodeBinary,
  type BinaryHeader,
  type HelloMessage,
  type ServerMessage,
  type Topic,
} from './protocol.js';
import { serveStatic } from './static-files.js';
import { tokenOf, upgradeRefusal } from './auth.js';
import { createServerMetrics, type ServerMetrics } from './server-metrics.js';
import { resolveServeDefaults } from './defaults.js';
import { canTakeLarge, handleClientMessage, newClient, type Client } from './client-session.js';

export interface ServerOptions {
  host?: string;
  port?: number;
  /** Required on every WebSocket connection and on /metrics when set. */
  token?: string;
  /** Browser origins allowed to connect (besides the server's own); clients without an Origin header are allowed. */
  allowOrigins?: string[];
  /** Folder of the overlay page (index.html, dist/). */
  webRoot: string;
  hello: Omit<HelloMessage, 'type' | 'protocol' | 'topics'>;
  /** bufferedAmount above which a client skips mask/frame messages. */
  maxBufferedBytes?: number;
  /** A request whose headers have not all arrived after this long is closed (default 10 s). */
  headersTimeoutMs?: number;
  /** A client stalled (over the bound) this long is closed. */
  stallTimeoutMs?: number;
  heartbeatMs?: number;
  health: () => Record<string, unknown>;
  /** More WebSocket endpoints by path (e.g. /foxglove), behind the same token and origin checks as /ws. */
  upgrades?: Record<string, (req: IncomingMessage, socket: Duplex, head: Buffer) => void>;
}

export interface Publisher {
  readonly url: string;
  readonly port: number;
  readonly registry: Registry;
  readonly metrics: ServerMetrics;
  /** Topics at least one client wants (so the caller can skip encoding what nobody reads). */
  wanted(topic: Topic): boolean;
  wantsRle(): boolean;
  send(msg: ServerMessage): void;
  sendBinary(header: BinaryHeader, payload: Uint8Array): void;
  /** Per-client stats messages (they carry the client's own skip count). */
  sendStats(make: (skipped: number) => ServerMessage): void;
  clientCount(): number;
  /** Mask/frame messages skipped per connected client (slow clients). */
  clientSkips(): number[];
  close(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<Publisher> {
  const o = { ...options, ...resolveServeDefaults(options) };
  const { registry, metrics } = createServerMetrics();
  const clients = new Set<Client>();
  const maxBuffered = o.maxBufferedBytes;
  const stallTimeout = o.stallTimeoutMs;
  const webRoot = resolve(o.webRoot);

  // Node checks the header and request timeouts only every connectionsCheckingInterval (30 s by default), so a
  // trickling client would live up to 40 s; checking every second cuts it at the timeout.
  const checkEvery = Math.min(1000, o.headersTimeoutMs);
  const server = createServer(
    { connectionsCheckingInterval: checkEvery },
    async (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://x');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return;
      }
      if (url.pathname === '/healthz') {
        const skipped = [...clients].reduce((n, c) => n + c.skipped, 0);
        res
          .writeHead(200, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ status: 'ok', clients: clients.size, skippedForSlowClients: skipped, ...o.health() }));
        return;
      }
      if (url.pathname === '/metrics') {
        if (o.token && tokenOf(req) !== o.token) {
          res.writeHead(401, { 'WWW-Authenticate': 'Bearer' }).end('token required\n');
          return;
        }
        res.writeHead(200, { 'Content-Type': registry.contentType }).end(await registry.metrics());
        return;
      }
      await serveStatic(webRoot, url.pathname, req, res);
    },
  );

  // A client that trickles its request (slowloris) is cut after 10 s of headers (+ at most 1 s), not Node's 60 s.
  server.headersTimeout = o.headersTimeoutMs;
  server.requestTimeout = 30_000;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_MESSAGE });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const reject = (code: number, why: string) => {
      socket.write(`HTTP/1.1 ${code} ${why}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
    };
    const other = o.upgrades?.[url.pathname];
    if (url.pathname !== '/ws' && !other) return reject(404, 'Not Found');
    const refused = upgradeRefusal(req, o);
    if (refused) return reject(...refused);
    if (other) return other(req, socket, head);
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  const sendTo = (c: Client, data: string | Uint8Array) => {
    if (c.ws.readyState !== WebSocket.OPEN) return;
    c.ws.send(data);
    metrics.bytesSent.inc(typeof data === 'string' ? Buffer.byteLength(data) : data.length);
  };

  wss.on('connection', (ws) => {
    const c = newClient(ws);
    clients.add(c);
    metrics.clients.set(clients.size);
    sendTo(
      c,
      JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, topics: TOPICS, ...o.hello } satisfies HelloMessage),
    );
    ws.on('pong', () => (c.alive = true));
    ws.on('message', (data, isBinary) => {
      const reply = handleClientMessage(c, isBinary ? undefined : data.toString());
      if (reply) sendTo(c, JSON.stringify(reply));
    });
    ws.on('error', (e) => log.debug({ err: e.message }, 'websocket client error'));
    ws.on('close', () => {
      clients.delete(c);
      metrics.clients.set(clients.size);
    });
  });

  const heartbeat = setInterval(() => {
    for (const c of clients) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }, o.heartbeatMs);
  heartbeat.unref();

  await new Promise<void>((r, j) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      clearInterval(heartbeat);
      const where = `${o.host}:${o.port}`;
      if (e.code === 'EADDRINUSE')
        j(
          new TdsError(
            'BAD_OPTION',
            `port ${o.port} is already in use on ${o.host}`,
            'stop the other server, or choose another --port (0 picks a free one)',
          ),
        );
      else if (e.code === 'EACCES')
        j(
          new TdsError(
            'BAD_OPTION',
            `no permission to listen on ${where}`,
            'use a port above 1023, or run with the needed rights',
          ),
        );
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND')
        j(
          new TdsError(
            'BAD_OPTION',
            `cannot listen on ${where}: this machine has no such address`,
            "use --host 127.0.0.1, 0.0.0.0 or one of this machine's addresses",
          ),
        );
      else j(new TdsError('BAD_OPTION', `cannot listen on ${where}: ${e.message}`, 'check --host and --port'));
    });
    server.listen(o.port, o.host, () => r());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;

  return {
    url: `http://${host}:${addr.port}`,
    port: addr.port,
    registry,
    metrics,
    wanted: (t) => [...clients].some((c) => c.topics.has(t)),
    wantsRle: () => [...clients].some((c) => c.topics.has('mask') && c.maskEncoding === 'rle'),
    send(msg) {
      const topic = msg.type as Topic;
      const text = JSON.stringify(msg);
      for (const c of clients) if (c.topics.has(topic)) sendTo(c, text);
    },
    sendBinary(header, payload) {
      const framed = encodeBinary(header, payload);
      for (const c of clients) {
        if (!c.topics.has(header.topic)) continue;
        if (header.topic === 'mask' && header.encoding !== c.maskEncoding) continue;
        if (canTakeLarge(c, maxBuffered, stallTimeout)) sendTo(c, framed);
      }
    },
    sendStats(make) {
      for (const c of clients) if (c.topics.has('stats')) sendTo(c, JSON.stringify(make(c.skipped)));
    },
    clientCount: () => clients.size,
    clientSkips: () => [...clients].map((c) => c.skipped),
    async close() {
      clearInterval(heartbeat);
      // A clean close (1001 going away) so clients know the server stopped on purpose; stragglers are cut
      // after a short grace so shutdown never hangs on a peer that does not answer.
      for (const c of clients) c.ws.close(1001, 'server shutting down');
      const end = Date.now() + 1000;
      while ([...clients].some((c) => c.ws.readyState !== WebSocket.CLOSED) && Date.now() < end)
        await new Promise((r) => setTimeout(r, 20));
      for (const c of clients) c.ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections?.();
    },
  };
}
