// HTTP + WebSocket publishing: the overlay page (static files from web/ only, with a CSP), /healthz, /metrics
// (Prometheus via prom-client) and /ws. Per-client backpressure: a client whose send buffer is over a bound
// skips mask/frame messages (counted) while labels keep flowing; one stalled past a timeout is closed; a
// heartbeat drops dead peers. Nothing a client sends can crash the server or affect other clients.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { log } from '../log.js';
import { TdsError } from '../errors.js';
import { MAX_CLIENT_MESSAGE, PROTOCOL_VERSION, TOPICS, encodeBinary, type BinaryHeader, type HelloMessage, type ServerMessage, type Topic } from './protocol.js';

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

interface Client {
  ws: WebSocket;
  topics: Set<Topic>;
  maskEncoding: 'png' | 'rle';
  skipped: number;
  stalledSince?: number;
  alive: boolean;
}

export interface Publisher {
  readonly url: string;
  readonly port: number;
  readonly registry: Registry;
  readonly metrics: { framesIn: Counter; processed: Counter; dropped: Counter; latency: Histogram; infer: Histogram; clients: Gauge; bytesSent: Counter };
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

const MIME: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png' };
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'";

function tokenOf(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7);
  return new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? undefined;
}

export async function startServer(o: ServerOptions): Promise<Publisher> {
  const registry = new Registry();
  const metrics = {
    framesIn: new Counter({ name: 'tds_frames_in_total', help: 'Frames received from the source', registers: [registry] }),
    processed: new Counter({ name: 'tds_frames_processed_total', help: 'Frames segmented and published', registers: [registry] }),
    dropped: new Counter({ name: 'tds_frames_dropped_total', help: 'Frames skipped because inference was busy', registers: [registry] }),
    latency: new Histogram({ name: 'tds_latency_seconds', help: 'Frame arrival to publish', buckets: [0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2], registers: [registry] }),
    infer: new Histogram({ name: 'tds_inference_seconds', help: 'Ensemble inference time per frame', buckets: [0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28], registers: [registry] }),
    clients: new Gauge({ name: 'tds_clients', help: 'Connected WebSocket clients', registers: [registry] }),
    bytesSent: new Counter({ name: 'tds_bytes_sent_total', help: 'Bytes sent to WebSocket clients', registers: [registry] }),
  };
  const clients = new Set<Client>();
  const maxBuffered = o.maxBufferedBytes ?? 1 << 20;
  const stallTimeout = o.stallTimeoutMs ?? 10_000;
  const webRoot = resolve(o.webRoot);

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (url.pathname === '/healthz') {
      const skipped = [...clients].reduce((n, c) => n + c.skipped, 0);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ status: 'ok', clients: clients.size, skippedForSlowClients: skipped, ...o.health() }));
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
    // Static files from the page's folder only: decode, normalise, and require the result to stay inside it.
    let rel: string;
    try {
      rel = decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const file = normalize(join(webRoot, rel));
    if (!file.startsWith(webRoot + sep) || rel.includes('\0') || !existsSync(file) || !MIME[extname(file)]) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': MIME[extname(file)], 'Content-Security-Policy': CSP, 'Cache-Control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : await readFile(file));
  });

  // A client that trickles its request (slowloris) is cut after 10 s of headers, not Node's default 60 s.
  server.headersTimeout = o.headersTimeoutMs ?? 10_000;
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
    if (o.token && tokenOf(req) !== o.token) return reject(401, 'Unauthorized');
    const origin = req.headers.origin;
    if (origin) {
      const own = [`http://${req.headers.host}`, `https://${req.headers.host}`];
      if (!own.includes(origin) && !(o.allowOrigins ?? []).includes(origin)) return reject(403, 'Forbidden');
    }
    if (other) return other(req, socket, head);
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  const sendTo = (c: Client, data: string | Uint8Array) => {
    if (c.ws.readyState !== WebSocket.OPEN) return;
    c.ws.send(data);
    metrics.bytesSent.inc(typeof data === 'string' ? Buffer.byteLength(data) : data.length);
  };
  const errorTo = (c: Client, error: string) => sendTo(c, JSON.stringify({ type: 'error', error } satisfies ServerMessage));

  wss.on('connection', (ws) => {
    const c: Client = { ws, topics: new Set(), maskEncoding: 'png', skipped: 0, alive: true };
    clients.add(c);
    metrics.clients.set(clients.size);
    sendTo(c, JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, topics: TOPICS, ...o.hello } satisfies HelloMessage));
    ws.on('pong', () => (c.alive = true));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return errorTo(c, 'binary messages are not accepted; send JSON text');
      let msg: { op?: unknown; topics?: unknown; maskEncoding?: unknown };
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return errorTo(c, 'invalid JSON');
      }
      if (!msg || typeof msg !== 'object') return errorTo(c, 'a message must be a JSON object with an op');
      if (msg.op === 'ping') return sendTo(c, JSON.stringify({ type: 'pong' }));
      if (msg.op === 'subscribe' || msg.op === 'unsubscribe') {
        const topics = Array.isArray(msg.topics) ? msg.topics : [];
        const bad = topics.filter((t) => !TOPICS.includes(t as Topic));
        if (!topics.length || bad.length) return errorTo(c, `topics must be a non-empty list of ${TOPICS.join(', ')}${bad.length ? `; unknown: ${bad.map(String).join(', ')}` : ''}`);
        // A subscription is checked whole before any of it applies: a refused one changes nothing.
        if (msg.op === 'subscribe' && msg.maskEncoding !== undefined && msg.maskEncoding !== 'png' && msg.maskEncoding !== 'rle') return errorTo(c, `maskEncoding must be png or rle, got ${JSON.stringify(msg.maskEncoding)}; the subscription was not applied`);
        for (const t of topics as Topic[]) msg.op === 'subscribe' ? c.topics.add(t) : c.topics.delete(t);
        if (msg.op === 'subscribe' && msg.maskEncoding !== undefined) c.maskEncoding = msg.maskEncoding as 'png' | 'rle';
        return;
      }
      errorTo(c, `unknown op ${JSON.stringify(msg.op)}; use subscribe, unsubscribe or ping`);
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
  }, o.heartbeatMs ?? 15_000);
  heartbeat.unref();

  await new Promise<void>((r, j) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      clearInterval(heartbeat);
      const where = `${o.host ?? '127.0.0.1'}:${o.port ?? 8080}`;
      if (e.code === 'EADDRINUSE') j(new TdsError('BAD_OPTION', `port ${o.port ?? 8080} is already in use on ${o.host ?? '127.0.0.1'}`, 'stop the other server, or choose another --port (0 picks a free one)'));
      else if (e.code === 'EACCES') j(new TdsError('BAD_OPTION', `no permission to listen on ${where}`, 'use a port above 1023, or run with the needed rights'));
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') j(new TdsError('BAD_OPTION', `cannot listen on ${where}: this machine has no such address`, 'use --host 127.0.0.1, 0.0.0.0 or one of this machine\'s addresses'));
      else j(new TdsError('BAD_OPTION', `cannot listen on ${where}: ${e.message}`, 'check --host and --port'));
    });
    server.listen(o.port ?? 8080, o.host ?? '127.0.0.1', () => r());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;

  /** Large messages only go to clients that keep up; a client over the bound for too long is closed. */
  const canTakeLarge = (c: Client): boolean => {
    if (c.ws.bufferedAmount <= maxBuffered) {
      c.stalledSince = undefined;
      return true;
    }
    c.stalledSince ??= performance.now();
    c.skipped++;
    if (performance.now() - c.stalledSince > stallTimeout) c.ws.terminate();
    return false;
  };

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
        if (canTakeLarge(c)) sendTo(c, framed);
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
      while ([...clients].some((c) => c.ws.readyState !== WebSocket.CLOSED) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      for (const c of clients) c.ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections?.();
    },
  };
}
