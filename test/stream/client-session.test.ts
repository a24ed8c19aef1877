// A /ws client's messages, without a server: what each does to the session and what it is answered.
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { canTakeLarge, handleClientMessage, newClient } from '../../src/stream/client-session.js';

const client = (buffered = 0) => {
  let terminated = false;
  const ws = { bufferedAmount: buffered, terminate: () => (terminated = true) } as unknown as WebSocket;
  return { c: newClient(ws), terminated: () => terminated };
};

describe('handleClientMessage', () => {
  it('subscribes, unsubscribes, pongs; a refused subscription changes nothing', () => {
    const { c } = client();
    expect(
      handleClientMessage(c, JSON.stringify({ op: 'subscribe', topics: ['mask', 'classes'], maskEncoding: 'rle' })),
    ).toBeUndefined();
    expect([...c.topics].sort()).toEqual(['classes', 'mask']);
    expect(c.maskEncoding).toBe('rle');
    expect(handleClientMessage(c, JSON.stringify({ op: 'unsubscribe', topics: ['mask'] }))).toBeUndefined();
    expect([...c.topics]).toEqual(['classes']);
    expect(handleClientMessage(c, '{"op":"ping"}')).toEqual({ type: 'pong' });
    expect(handleClientMessage(c, JSON.stringify({ op: 'subscribe', topics: ['frame'], maskEncoding: 'gif' }))).toEqual(
      { type: 'error', error: 'maskEncoding must be png or rle, got "gif"; the subscription was not applied' },
    );
    expect([...c.topics]).toEqual(['classes']);
    expect(c.maskEncoding).toBe('rle');
  });

  it.each([
    [undefined, 'binary messages are not accepted; send JSON text'],
    ['{not json', 'invalid JSON'],
    ['42', 'a message must be a JSON object with an op'],
    ['{"op":"subscribe","topics":[]}', 'topics must be a non-empty list of classes, scene, stats, mask, frame'],
    [
      '{"op":"subscribe","topics":["mask","video"]}',
      'topics must be a non-empty list of classes, scene, stats, mask, frame; unknown: video',
    ],
    ['{"op":"reboot"}', 'unknown op "reboot"; use subscribe, unsubscribe or ping'],
  ])('%s is answered with an error and changes nothing', (text, error) => {
    const { c } = client();
    expect(handleClientMessage(c, text)).toEqual({ type: 'error', error });
    expect(c.topics.size).toBe(0);
  });
});

describe('canTakeLarge', () => {
  it('skips (and counts) large messages over the bound; closes a client stalled past the timeout', () => {
    const fast = client(10);
    expect(canTakeLarge(fast.c, 100, 1000, 0)).toBe(true);
    const slow = client(500);
    expect(canTakeLarge(slow.c, 100, 1000, 0)).toBe(false);
    expect(canTakeLarge(slow.c, 100, 1000, 900)).toBe(false);
    expect(slow.terminated()).toBe(false);
    expect(canTakeLarge(slow.c, 100, 1000, 1001)).toBe(false);
    expect(slow.terminated()).toBe(true);
    expect(slow.c.skipped).toBe(3);
  });
});
