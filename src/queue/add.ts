// `tds queue add`: a recording becomes one row in tds.videos and one job per time chunk. A video is keyed by its
// content (SHA-256), the settings and the output folder, so adding it again is a no-op.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { TdsError } from '../errors.js';
import { readTdsJson } from '../model/model-dir.js';
import { probeVideo } from '../ingest/probe.js';
import { isLiveInput } from '../ingest/options.js';
import type { ProcessOptions } from '../stream/process.js';
import { CHUNK_QUEUE, type Queue } from './connect.js';
import { merged } from './merge.js';
import { DEFAULT_CHUNK_SECONDS, type ChunkJob, type ChunkSettings } from './types.js';

export interface AddOptions extends Omit<ChunkSettings, 'model'> {
  model: string;
  /** Parent folder: each recording's outputs go to OUT/<its file name without extension>. */
  out: string;
  chunkSeconds?: number;
}

export interface Added {
  input: string;
  out: string;
  key: string;
  chunks: number;
  /** False when the same video with the same settings and output was already in the queue. */
  added: boolean;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Where a recording's outputs go: OUT/<name>, the folder `tds process INPUT --out OUT/<name>` would fill. */
export function videoOutDir(out: string, input: string): string {
  const name = basename(input.replace(/[/\\]+$/, ''), extname(input)) || 'video';
  return resolve(out, name);
}

export async function addVideos(q: Queue, inputs: string[], o: AddOptions): Promise<Added[]> {
  const chunkSeconds = o.chunkSeconds ?? DEFAULT_CHUNK_SECONDS;
  if (!(chunkSeconds >= 1))
    throw new TdsError(
      'BAD_OPTION',
      `--chunk-seconds must be at least 1, got ${o.chunkSeconds}`,
      'e.g. --chunk-seconds 60',
    );
  const model = resolve(o.model);
  const meta = readTdsJson(model); // a bad model folder fails before anything is queued
  const modelHash = createHash('sha256').update(JSON.stringify(meta));
  for (const f of ['model.onnx', 'weights.bin'])
    if (existsSync(join(model, f))) modelHash.update(readFileSync(join(model, f)));
  const settings: ChunkSettings = {
    model,
    sizes: o.sizes,
    weights: o.weights,
    flip: o.flip,
    minArea: o.minArea,
    ...(o.detached === null ? { detached: null } : {}),
    overlay: o.overlay,
    ...(o.color === false ? { color: false } : {}),
    engine: o.engine,
    executionProviders: o.executionProviders,
    rate: o.rate,
    stereo: o.stereo,
    right: o.right ? resolve(o.right) : undefined,
  };
  const out: Added[] = [];
  const seen = new Map<string, string>();
  for (const raw of inputs) {
    if (isLiveInput(raw) || raw === 'synth')
      throw new TdsError(
        'BAD_OPTION',
        `${raw} is a live source; the queue takes recorded files and folders`,
        'use tds serve for live sources',
      );
    const input = resolve(raw);
    if (!existsSync(input)) throw new TdsError('ENOENT_INPUT', `input not found: ${raw}`, 'check the path');
    const dir = videoOutDir(o.out, input);
    if (seen.has(dir) && seen.get(dir) !== input)
      throw new TdsError(
        'BAD_OPTION',
        `${raw} and ${seen.get(dir)} would both write to ${dir}`,
        'queue them with different --out folders, or rename one',
      );
    seen.set(dir, input);
    const isFile = statSync(input).isFile();
    // A video at its native rate is cut into chunks; anything else (frame folders, images, a fixed --rate,
    // whose frame selection depends on where decoding starts) is one job.
    let chunks = 1;
    let duration: number | undefined;
    const image = /\.(png|jpe?g|bmp|tiff?)$/i.test(input);
    if (isFile && !image) {
      const p = await probeVideo(input, { stereo: o.stereo, right: o.right });
      duration = p.durationMs / 1000;
      if ((o.rate ?? 'native') === 'native') chunks = Math.max(1, Math.ceil(duration / chunkSeconds - 1e-9));
    }
    const contentHash = isFile ? await sha256File(input) : createHash('sha256').update(input).digest('hex');
    const key = createHash('sha256')
      .update(JSON.stringify({ contentHash, settings, model: modelHash.copy().digest('hex'), out: dir }))
      .digest('hex')
      .slice(0, 32);
    const cs = chunks > 1 ? chunkSeconds : null;
    // Done before, but its outputs are gone (deleted, moved): queue it again rather than report it done.
    await q.sql('delete from tds.videos where key = $1 and merged_on is not null and $2', [key, !merged(dir, key)]);
    const rows = await q.sql<{ key: string }>(
      `insert into tds.videos (key, name, input, out, options, chunks, chunk_seconds) values ($1, $2, $3, $4, $5, $6, $7)
       on conflict do nothing returning key`,
      [key, basename(dir), input, dir, JSON.stringify(settings), chunks, cs],
    );
    if (!rows.length) {
      const other = await q.sql<{ key: string; input: string }>('select key, input from tds.videos where out = $1', [
        dir,
      ]);
      if (other.length && other[0].key !== key)
        throw new TdsError(
          'BAD_OPTION',
          `${dir} is already the output folder of ${other[0].input} (queued with other settings or content)`,
          'give another --out, or remove that video from the queue first',
        );
      out.push({ input, out: dir, key, chunks, added: false });
      continue;
    }
    const jobs: ChunkJob[] = [...Array(chunks).keys()].map((i) => ({
      video: key,
      input,
      out: dir,
      index: i,
      chunks,
      from: chunks > 1 && i > 0 ? i * chunkSeconds : undefined,
      until: chunks > 1 && i < chunks - 1 ? (i + 1) * chunkSeconds : undefined,
      settings,
    }));
    await q.boss.insert(
      CHUNK_QUEUE,
      jobs.map((data) => ({ data: data as unknown as object, singletonKey: `${key}:${data.index}` })),
    );
    out.push({ input, out: dir, key, chunks, added: true });
  }
  return out;
}

/** The ProcessOptions of a chunk. */
export function processOptionsOf(job: ChunkJob, stage: string): ProcessOptions {
  return {
    ...job.settings,
    out: stage,
    from: job.from,
    until: job.until,
    resume: true,
  };
}
