// Parses frame sizes given on the command line.
import { TdsError } from '../errors.js';

/** Parses "AxB". order says which number comes first: WxH (frames) or HxW (model inputs). */
export function parseSize(s: string, order: 'WxH' | 'HxW'): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/.exec(s.trim());
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1)
    throw new TdsError(
      'BAD_OPTION',
      `size must be ${order} with positive integers, got ${JSON.stringify(s)}`,
      order === 'WxH' ? 'e.g. 320x256' : 'e.g. 256x320',
    );
  const a = Number(m[1]);
  const b = Number(m[2]);
  return order === 'WxH' ? { width: a, height: b } : { width: b, height: a };
}
