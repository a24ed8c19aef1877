// What the queue's jobs carry (stored as JSON in pg-boss's job table, so plain data only).
import type { EngineName, ExecutionProvider } from '../model/segmenter.js';
import type { Rate, StereoPacking } from '../ingest/options.js';
import type { Size } from '../types.js';

/** Default chunk length: a minute of video is 1-3 minutes of work for one CPU worker, so a killed worker
 * costs little and many workers share even one recording. */
export const DEFAULT_CHUNK_SECONDS = 60;

/** The tds process settings of a queued video (every path absolute: workers run anywhere). */
export interface ChunkSettings {
  model: string;
  sizes?: Size[];
  weights?: number[];
  flip?: boolean;
  minArea?: number;
  /** null: detached regions kept (--keep-detached); absent: the model's default. */
  detached?: null;
  overlay?: boolean;
  /** false: index masks only (tds process --masks-only). */
  color?: boolean;
  engine?: EngineName;
  executionProviders?: ExecutionProvider[];
  rate?: Rate;
  stereo?: StereoPacking;
  right?: string;
}

/** One time chunk of one video: frames with from <= pts < until (open ends at the file's ends). */
export interface ChunkJob {
  video: string;
  input: string;
  out: string;
  index: number;
  chunks: number;
  from?: number;
  until?: number;
  settings: ChunkSettings;
}

/** What a finished chunk job stores as its output. */
export interface ChunkResult {
  frames: number;
  wallMs: number;
  fps: number;
}

export interface MergeJob {
  video: string;
}
