// The bounded channel that streams overlay frames to the encoder: the producer waits while the queue is full
// (memory bounded by its capacity, not the video's length), values arrive in order, failures end the consumer.
import { describe, expect, it } from 'vitest';
import { channel } from '../../src/stream/channel.js';

describe('channel', () => {
  it('holds at most `capacity` items: the producer waits for the consumer', async () => {
    const ch = channel<number>(3);
    let pushed = 0;
    const producer = (async () => {
      for (let i = 0; i < 10; i++) {
        await ch.push(i);
        pushed++;
      }
      ch.end();
    })();
    await new Promise((r) => setTimeout(r, 20));
    expect(pushed).toBe(3);
    const got: number[] = [];
    for await (const v of ch) {
      got.push(v);
      expect(pushed - got.length).toBeLessThanOrEqual(3);
    }
    await producer;
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('fail() makes the consumer throw; a consumer that stops makes pushes no-ops', async () => {
    const a = channel<number>(2);
    await a.push(1);
    a.fail(new Error('boom'));
    await expect(
      (async () => {
        for await (const _ of a) void _;
      })(),
    ).rejects.toThrow('boom');
    const b = channel<number>(1);
    const it = b[Symbol.asyncIterator]();
    await b.push(1);
    expect((await it.next()).value).toBe(1);
    await it.return!();
    await b.push(2);
    await b.push(3); // would wait forever on a full queue if the consumer's exit were ignored
  });
});
