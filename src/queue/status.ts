// `tds queue status` / `wait`: per video, its chunks by state, frames done, speed and errors, from tds.videos
// and pg-boss's jobs.
import { CHUNK_QUEUE, MERGE_QUEUE, type Queue } from './connect.js';
import type { ChunkJob, ChunkResult } from './types.js';

export type VideoState = 'queued' | 'running' | 'merging' | 'done' | 'failed';

export interface VideoStatus {
  key: string;
  name: string;
  input: string;
  out: string;
  state: VideoState;
  chunks: { total: number; done: number; running: number; queued: number; failed: number };
  /** Frames in finished chunks (of the merged video once done). */
  frames: number;
  /** Frames per second of work (summed over chunks: one worker's speed, not the queue's). */
  fps: number | null;
  errors: string[];
}

interface JobRow {
  data: ChunkJob | { video: string };
  state: string;
  output: (Partial<ChunkResult> & { message?: string }) | null;
  name: string;
}

export async function queueStatus(q: Queue): Promise<VideoStatus[]> {
  const videos = await q.sql<{
    key: string;
    name: string;
    input: string;
    out: string;
    chunks: number;
    merged_on: Date | null;
    frames: number | null;
    created_on: Date;
  }>('select key, name, input, out, chunks, merged_on, frames, created_on from tds.videos order by created_on, name');
  // One row per job (retries update it in place); jobs of an earlier queuing of the same video (re-added after
  // its outputs were removed) are older than its row.
  const jobs = await q.sql<JobRow & { created_on: Date }>(
    `select name, data, state, output, created_on from pgboss.job where name = any($1) order by created_on`,
    [[CHUNK_QUEUE, MERGE_QUEUE]],
  );
  const since = new Map(videos.map((v) => [v.key, v.created_on.getTime()]));
  const byVideo = new Map<string, JobRow[]>();
  for (const j of jobs) {
    const k = j.data.video;
    if (j.created_on.getTime() < (since.get(k) ?? Infinity)) continue;
    if (!byVideo.has(k)) byVideo.set(k, []);
    byVideo.get(k)!.push(j);
  }
  return videos.map((v) => {
    const js = byVideo.get(v.key) ?? [];
    const chunkJobs = js.filter((j) => j.name === CHUNK_QUEUE);
    const merges = js.filter((j) => j.name === MERGE_QUEUE);
    const c = { total: v.chunks, done: 0, running: 0, queued: 0, failed: 0 };
    let frames = 0;
    let ms = 0;
    const errors: string[] = [];
    for (const j of chunkJobs) {
      if (j.state === 'completed') {
        c.done++;
        frames += j.output?.frames ?? 0;
        ms += j.output?.wallMs ?? 0;
      } else if (j.state === 'active') c.running++;
      else if (j.state === 'failed' || j.state === 'cancelled') {
        c.failed++;
        errors.push(`chunk ${(j.data as ChunkJob).index + 1}: ${j.output?.message ?? j.state}`);
      } else c.queued++;
    }
    const mergeFailed = merges.find((m) => m.state === 'failed');
    if (mergeFailed) errors.push(`merge: ${mergeFailed.output?.message ?? 'failed'}`);
    const state: VideoState = v.merged_on
      ? 'done'
      : c.failed || mergeFailed
        ? 'failed'
        : c.done === c.total
          ? 'merging'
          : c.running || c.done
            ? 'running'
            : 'queued';
    return {
      key: v.key,
      name: v.name,
      input: v.input,
      out: v.out,
      state,
      chunks: c,
      frames: v.frames ?? frames,
      fps: ms ? Math.round((frames / (ms / 1000)) * 10) / 10 : null,
      errors,
    };
  });
}

/** True when every video is done or failed. */
export const settled = (s: VideoStatus[]) => s.every((v) => v.state === 'done' || v.state === 'failed');
