// One home for the live server's defaults: every option of `tds serve` / serve() / startServer with its default,
// the schema that checks a caller's values, and resolveServeDefaults() that the library calls (a new object;
// the caller's is never changed). The CLI shows these same values as its defaults.
import { z } from 'zod';
import { TdsError } from '../errors.js';

export const DEFAULT_SERVE = {
  /** Loopback: the OR display runs on the same machine unless told otherwise. */
  host: '127.0.0.1',
  port: 8080,
  /** JPEG quality of the source frame sent to overlays and Foxglove. */
  jpegQuality: 80,
  /** A /ws client with more than this many bytes waiting skips mask/frame messages. */
  maxBufferedBytes: 1 << 20,
  /** A client over that bound for this long is closed. */
  stallTimeoutMs: 10_000,
  /** Ping interval; a client that misses one is dropped. */
  heartbeatMs: 15_000,
  /** A request whose headers have not all arrived after this long is closed (slowloris). */
  headersTimeoutMs: 10_000,
  /** Adaptive ensemble deadline per frame; 0 = off. */
  deadlineMs: 0,
} as const;

export type ServeDefaults = {
  -readonly [K in keyof typeof DEFAULT_SERVE]: (typeof DEFAULT_SERVE)[K] extends string ? string : number;
};

const schema = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(0).max(65535),
    jpegQuality: z.number().int().min(1).max(100),
    maxBufferedBytes: z.number().int().positive(),
    stallTimeoutMs: z.number().int().positive(),
    heartbeatMs: z.number().int().positive(),
    headersTimeoutMs: z.number().int().positive(),
    deadlineMs: z.number().min(0),
  })
  .partial();

/** The caller's values over the defaults, checked; a bad one is a BAD_OPTION naming the field. */
export function resolveServeDefaults(o: Partial<Record<keyof ServeDefaults, unknown>>): ServeDefaults {
  const given = Object.fromEntries(
    Object.keys(DEFAULT_SERVE)
      .filter((k) => o[k as keyof ServeDefaults] !== undefined)
      .map((k) => [k, o[k as keyof ServeDefaults]]),
  );
  const r = schema.safeParse(given);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new TdsError(
      'BAD_OPTION',
      `serve option ${i.path.join('.')}: ${i.message}`,
      `see DEFAULT_SERVE (src/stream/defaults.ts) for the defaults`,
    );
  }
  return { ...DEFAULT_SERVE, ...r.data };
}
