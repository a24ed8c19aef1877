// The live server's defaults: one object, applied over the caller's values, bad values named.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SERVE, resolveServeDefaults } from '../../src/stream/defaults.js';

describe('resolveServeDefaults', () => {
  it('fills what the caller left unset and keeps what it set, in a new object', () => {
    const asked = { port: 0, jpegQuality: 60, host: undefined };
    const r = resolveServeDefaults(asked);
    expect(r).toEqual({ ...DEFAULT_SERVE, port: 0, jpegQuality: 60 });
    expect(asked).toEqual({ port: 0, jpegQuality: 60, host: undefined });
    expect(DEFAULT_SERVE).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      maxBufferedBytes: 1 << 20,
      stallTimeoutMs: 10_000,
      heartbeatMs: 15_000,
      headersTimeoutMs: 10_000,
      deadlineMs: 0,
    });
  });

  it.each([
    [{ port: 70000 }, /serve option port: /],
    [{ jpegQuality: 0 }, /serve option jpegQuality: /],
    [{ heartbeatMs: -5 }, /serve option heartbeatMs: /],
    [{ host: '' }, /serve option host: /],
  ])('%o is refused, naming the option', (o, msg) => {
    expect(() => resolveServeDefaults(o)).toThrow(msg);
  });
});
