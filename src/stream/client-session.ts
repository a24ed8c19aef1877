// One WebSocket client of /ws: its subscriptions and mask encoding, the messages it may send (subscribe,
// unsubscribe, ping; anything else is answered with an error and changes nothing), and its backpressure state.
import { WebSocket } from 'ws';
import { TOPICS, type ServerMessage, type Topic } from './protocol.js';

export interface Client {
  ws: WebSocket;
  topics: Set<Topic>;
  maskEncoding: 'png' | 'rle';
  /** Mask/frame messages skipped because the client was slow. */
  skipped: number;
  stalledSince?: number;
  /** Answered the last heartbeat ping. */
  alive: boolean;
}

export function newClient(ws: WebSocket): Client {
  return { ws, topics: new Set(), maskEncoding: 'png', skipped: 0, alive: true };
}

/** Applies one message from the client; returns the reply to send it, if any. */
export function handleClientMessage(c: Client, text: string | undefined): ServerMessage | { type: 'pong' } | undefined {
  const error = (e: string): ServerMessage => ({ type: 'error', error: e });
  if (text === undefined) return error('binary messages are not accepted; send JSON text');
  let msg: { op?: unknown; topics?: unknown; maskEncoding?: unknown };
  try {
    msg = JSON.parse(text);
  } catch {
    return error('invalid JSON');
  }
  if (!msg || typeof msg !== 'object') return error('a message must be a JSON object with an op');
  if (msg.op === 'ping') return { type: 'pong' };
  if (msg.op === 'subscribe' || msg.op === 'unsubscribe') {
    const topics = Array.isArray(msg.topics) ? msg.topics : [];
    const bad = topics.filter((t) => !TOPICS.includes(t as Topic));
    if (!topics.length || bad.length)
      return error(
        `topics must be a non-empty list of ${TOPICS.join(', ')}${bad.length ? `; unknown: ${bad.map(String).join(', ')}` : ''}`,
      );
    // A subscription is checked whole before any of it applies: a refused one changes nothing.
    if (
      msg.op === 'subscribe' &&
      msg.maskEncoding !== undefined &&
      msg.maskEncoding !== 'png' &&
      msg.maskEncoding !== 'rle'
    )
      return error(
        `maskEncoding must be png or rle, got ${JSON.stringify(msg.maskEncoding)}; the subscription was not applied`,
      );
    for (const t of topics as Topic[]) msg.op === 'subscribe' ? c.topics.add(t) : c.topics.delete(t);
    if (msg.op === 'subscribe' && msg.maskEncoding !== undefined) c.maskEncoding = msg.maskEncoding as 'png' | 'rle';
    return undefined;
  }
  return error(`unknown op ${JSON.stringify(msg.op)}; use subscribe, unsubscribe or ping`);
}

/**
 * Large messages only go to clients that keep up: over `maxBuffered` bytes waiting, the message is skipped
 * (counted); a client over the bound for longer than `stallTimeoutMs` is closed.
 */
export function canTakeLarge(c: Client, maxBuffered: number, stallTimeoutMs: number, now = performance.now()): boolean {
  if (c.ws.bufferedAmount <= maxBuffered) {
    c.stalledSince = undefined;
    return true;
  }
  c.stalledSince ??= now;
  c.skipped++;
  if (now - c.stalledSince > stallTimeoutMs) c.ws.terminate();
  return false;
}
