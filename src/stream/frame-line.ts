// One line of labels.ndjson, the completion record of a frame in `tds process` outputs.
import type { FrameResult } from '../types.js';

/** One line of labels.ndjson: the frame-level labels of a FrameResult plus where and how fast. */
export type FrameLine = Pick<FrameResult, 'presence' | 'present' | 'maskPresent' | 'scene' | 'sync' | 'sizes'> & {
  frame: number;
  name: string;
  ptsMs: number;
  ms: { decode: number; infer: number; post: number; write: number; total: number };
};
