// MCAP recording and reading of what tds publishes (the channels of foxglove.ts). A recording is written as
// NAME.mcap.part and renamed to NAME.mcap when it is closed, so a finished name always holds a whole, indexed
// file. Chunks are zstd-compressed and written to disk as each fills, so a recording cut by a crash or SIGKILL
// (the .part file) still reads up to its last completed chunk with any streaming MCAP reader, tds serve included;
// `mcap recover` (the MCAP CLI) rebuilds its index. A size bound starts a new file (NAME-001.mcap, ...) so long
// sessions stay manageable. Writer calls are strictly sequential (@mcap/core requires each to finish first).
import { createReadStream, existsSync, statSync } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { McapStreamReader, McapWriter, type IWritable } from '@mcap/core';
import zstd from '@foxglove/wasm-zstd';
import { TdsError } from '../errors.js';
import { log } from '../log.js';
import {
  CHANNELS,
  FOXGLOVE_TOPICS,
  frameMessages,
  type FrameMessages,
  paletteMessage,
  type FoxgloveTopic,
  type FrameLabels,
  type PaletteInfo,
  type PublishedFrame,
} from './foxglove.js';

export interface RecordOptions {
  /** Start a new file when the current one reaches this many bytes (0 = one file). */
  maxBytes?: number;
  /** Uncompressed chunk size: what a crash can lose at most (default 1 MiB, ~1 s of 720p). */
  chunkBytes?: number;
  /** Frames waiting for the disk before new ones are dropped (and counted) instead of queued without bound. */
  maxPending?: number;
}

/** What a recording says about itself (an MCAP metadata record named `tds`). */
export interface RecordingInfo {
  palette: PaletteInfo;
  model?: { profile: string; inputSize: { height: number; width: number }; engine: string; backend: string };
  source?: string;
}

const META_NAME = 'tds';

class FileWritable implements IWritable {
  #pos = 0n;
  constructor(readonly fh: FileHandle) {}
  async write(buffer: Uint8Array): Promise<unknown> {
    await this.fh.write(buffer);
    this.#pos += BigInt(buffer.byteLength);
    return undefined;
  }
  position(): bigint {
    return this.#pos;
  }
}

/** The file names of a recording: NAME.mcap, then NAME-001.mcap, NAME-002.mcap when a size bound rotates. */
export function segmentName(file: string, k: number): string {
  if (k === 0) return file;
  const ext = extname(file) || '.mcap';
  return join(dirname(file), `${basename(file, extname(file))}-${String(k).padStart(3, '0')}${ext}`);
}

export class McapRecorder {
  #writer?: McapWriter;
  #out?: FileWritable;
  #channelIds = new Map<FoxgloveTopic, number>();
  #segment = 0;
  #queue: Promise<void> = Promise.resolve();
  #pending = 0;
  #failed?: Error;
  #paletteWritten = false;
  #sequence = 0;
  readonly files: string[] = [];
  dropped = 0;
  frames = 0;

  private constructor(
    readonly file: string,
    readonly info: RecordingInfo,
    readonly o: RecordOptions,
  ) {}

  /** Opens FILE for recording (refusing to replace an existing recording: nothing a user made is lost). */
  static async open(file: string, info: RecordingInfo, o: RecordOptions = {}): Promise<McapRecorder> {
    if (extname(file).toLowerCase() !== '.mcap')
      throw new TdsError('BAD_OPTION', `a recording must be named *.mcap, got ${file}`, 'e.g. --record session.mcap');
    if (!existsSync(dirname(file) || '.') || !statSync(dirname(file) || '.').isDirectory())
      throw new TdsError(
        'BAD_OUTPUT',
        `cannot record to ${file}: the folder ${dirname(file)} does not exist`,
        'create the folder first, or record elsewhere',
      );
    const r = new McapRecorder(file, info, o);
    await zstd.isLoaded;
    await r.#startSegment();
    return r;
  }

  async #startSegment(): Promise<void> {
    const name = segmentName(this.file, this.#segment);
    for (const p of [name, `${name}.part`])
      if (existsSync(p))
        throw new TdsError(
          'BAD_OUTPUT',
          `${p} already exists`,
          'choose another recording name, or move the old recording away (it is never overwritten)',
        );
    const fh = await open(`${name}.part`, 'wx').catch((e: NodeJS.ErrnoException) => {
      throw new TdsError(
        'BAD_OUTPUT',
        `cannot record to ${name}: ${e.message}`,
        'record into a writable folder with free space',
      );
    });
    this.#out = new FileWritable(fh);
    this.#writer = new McapWriter({
      writable: this.#out,
      useChunks: true,
      chunkSize: this.o.chunkBytes ?? 1 << 20,
      compressChunk: (data) => ({ compression: 'zstd', compressedData: zstd.compress(data, 3) }),
    });
    await this.#writer.start({ profile: '', library: 'tds' });
    await this.#writer.addMetadata({ name: META_NAME, metadata: new Map([['info', JSON.stringify(this.info)]]) });
    this.#channelIds.clear();
    for (const c of CHANNELS) {
      const schemaId = await this.#writer.registerSchema({
        name: c.schemaName,
        encoding: c.schemaEncoding,
        data: new TextEncoder().encode(c.schema),
      });
      this.#channelIds.set(
        c.key,
        await this.#writer.registerChannel({
          topic: c.topic,
          messageEncoding: c.encoding,
          schemaId,
          metadata: new Map(),
        }),
      );
    }
    this.#paletteWritten = false;
  }

  async #endSegment(): Promise<void> {
    const name = segmentName(this.file, this.#segment);
    await this.#writer!.end();
    await this.#out!.fh.close();
    await rename(`${name}.part`, name);
    this.files.push(name);
  }

  async #writeFrame(f: PublishedFrame, encoded?: FrameMessages): Promise<void> {
    const w = this.#writer!;
    const add = async (key: FoxgloveTopic, data: Uint8Array) =>
      w.addMessage({
        channelId: this.#channelIds.get(key)!,
        sequence: this.#sequence++,
        logTime: f.timeNs,
        publishTime: f.timeNs,
        data,
      });
    if (!this.#paletteWritten) {
      await add('palette', paletteMessage(this.info.palette));
      this.#paletteWritten = true;
    }
    for (const m of encoded ?? frameMessages(f, this.info.palette, () => true)) await add(m.key, m.data);
    this.frames++;
    if (this.o.maxBytes && this.#out!.position() >= this.o.maxBytes) {
      await this.#endSegment();
      this.#segment++;
      await this.#startSegment();
    }
  }

  /**
   * Queues one frame (with its messages of every channel when already encoded); resolves when it is handed to
   * the writer. Frames beyond maxPending are dropped.
   */
  write(f: PublishedFrame, encoded?: FrameMessages): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#pending >= (this.o.maxPending ?? 50)) {
      this.dropped++;
      if (this.dropped === 1 || this.dropped % 100 === 0)
        log.warn({ dropped: this.dropped }, 'recording falls behind the disk; frames dropped from the recording');
      return Promise.resolve();
    }
    this.#pending++;
    this.#queue = this.#queue.then(async () => {
      try {
        if (!this.#failed) await this.#writeFrame(f, encoded);
      } catch (e) {
        this.#failed = new TdsError(
          'BAD_OUTPUT',
          `recording ${this.file} failed: ${(e as Error).message}`,
          'record to a disk with free space; what was recorded up to the last chunk is readable',
        );
      } finally {
        this.#pending--;
      }
    });
    return this.#queue.then(() => {
      if (this.#failed) throw this.#failed;
    });
  }

  /** Abandons a recording that never started (the server could not listen): its empty file is removed. */
  async discard(): Promise<void> {
    await this.#queue;
    if (!this.#writer) return;
    this.#writer = undefined;
    await this.#out!.fh.close();
    await unlink(`${segmentName(this.file, this.#segment)}.part`).catch(() => {});
  }

  /** Writes the index and renames the file(s) to their final names. */
  async close(): Promise<string[]> {
    await this.#queue;
    if (this.#writer) {
      try {
        await this.#endSegment();
      } finally {
        this.#writer = undefined;
      }
    }
    if (this.#failed) throw this.#failed;
    return this.files;
  }
}

export interface RecordedFrame extends PublishedFrame {
  /** The message payloads as recorded, by channel. */
  recorded: Partial<Record<FoxgloveTopic, Uint8Array>>;
}

const decoder = new TextDecoder();
const parse = (b: Uint8Array) => JSON.parse(decoder.decode(b)) as Record<string, unknown>;
const fromBase64 = (s: unknown) => new Uint8Array(Buffer.from(String(s), 'base64'));

/**
 * Reads a tds recording (a whole .mcap or a .part cut by a crash: streaming, so everything up to the last
 * complete chunk) as its info and its frames in recorded order. A frame is complete at its labels message.
 */
export async function openRecording(
  file: string,
): Promise<{ info: RecordingInfo; frames: AsyncGenerator<RecordedFrame> }> {
  if (!existsSync(file))
    throw new TdsError(
      'ENOENT_INPUT',
      `recording not found: ${file}`,
      'check the path (an interrupted recording is NAME.mcap.part)',
    );
  const records = readRecords(file);
  const topics = new Map<number, FoxgloveTopic>();
  const byTopic = Object.fromEntries(Object.entries(FOXGLOVE_TOPICS).map(([k, t]) => [t, k as FoxgloveTopic]));
  let info: RecordingInfo | undefined;
  const first: Array<{ key: FoxgloveTopic; logTime: bigint; data: Uint8Array }> = [];
  // Everything before the first message: header, metadata, schemas, channels.
  for (;;) {
    const { value, done } = await records.next();
    if (done) break;
    if (value.type === 'Metadata' && value.name === META_NAME)
      info = JSON.parse(value.metadata.get('info') ?? '{}') as RecordingInfo;
    else if (value.type === 'Channel' && byTopic[value.topic]) topics.set(value.id, byTopic[value.topic]);
    else if (value.type === 'Message' && topics.has(value.channelId)) {
      first.push({ key: topics.get(value.channelId)!, logTime: value.logTime, data: value.data });
      break;
    }
  }
  if (!info?.palette)
    throw new TdsError(
      'BAD_RECORDING',
      `${file} is not a tds recording (no tds metadata)`,
      'replay a file written by tds serve --record or tds process --mcap',
    );
  async function* frames(): AsyncGenerator<RecordedFrame> {
    let parts: Partial<Record<FoxgloveTopic, Uint8Array>> = {};
    const take = (key: FoxgloveTopic, logTime: bigint, data: Uint8Array): RecordedFrame | undefined => {
      parts[key] = data;
      if (key !== 'labels') return undefined;
      const labels = parse(data) as unknown as FrameLabels & { timestamp?: unknown };
      delete labels.timestamp;
      const mask = parts.mask ? parse(parts.mask) : undefined;
      const frame = parts.frame ? parse(parts.frame) : undefined;
      const rec: RecordedFrame = {
        timeNs: logTime,
        jpeg: frame ? fromBase64(frame.data) : undefined,
        width: Number(mask?.width ?? 0),
        height: Number(mask?.height ?? 0),
        mask: mask ? fromBase64(mask.data) : new Uint8Array(0),
        labels,
        recorded: parts,
      };
      parts = {};
      return rec;
    };
    for (const m of first) {
      const r = take(m.key, m.logTime, m.data);
      if (r) yield r;
    }
    for await (const value of records) {
      if (value.type === 'Channel' && byTopic[value.topic]) topics.set(value.id, byTopic[value.topic]);
      if (value.type !== 'Message' || !topics.has(value.channelId)) continue;
      const r = take(topics.get(value.channelId)!, value.logTime, value.data);
      if (r) yield r;
    }
  }
  return { info, frames: frames() };
}

type StreamRecord = NonNullable<ReturnType<McapStreamReader['nextRecord']>>;

/** All records of an MCAP file in order, read in pieces; stops quietly at a cut-off end (a crashed recording). */
async function* readRecords(file: string): AsyncGenerator<StreamRecord> {
  await zstd.isLoaded;
  const reader = new McapStreamReader({
    decompressHandlers: { zstd: (buf, size) => zstd.decompress(buf, Number(size)) },
  });
  try {
    for await (const piece of createReadStream(file, { highWaterMark: 1 << 20 })) {
      reader.append(piece as Buffer);
      for (let r = reader.nextRecord(); r; r = reader.nextRecord()) yield r;
    }
  } catch (e) {
    if (e instanceof TdsError) throw e;
    throw new TdsError(
      'BAD_RECORDING',
      `${file} is not a readable MCAP file: ${(e as Error).message}`,
      'replay a file written by tds serve --record or tds process --mcap',
    );
  }
  if (!reader.done())
    log.warn(
      { file, bytesLeft: reader.bytesRemaining() },
      'recording ends mid-chunk (cut short by a crash?): read up to its last complete chunk',
    );
}
