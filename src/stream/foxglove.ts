// What tds publishes, in Foxglove's terms: the channels (topics and JSON schemas) shared by the Foxglove
// WebSocket server and the MCAP recorder, and one frame's messages on them. Conventions follow Foxglove's
// well-known schemas (@foxglove/schemas) as HoloHub's Foxglove operator uses them: the endoscope frame as a JPEG
// foxglove.CompressedImage (a raw 1080p frame is ~8 MB), the mask as a foxglove.RawImage of `mono8` class ids
// (the palette on its own channel), texts as foxglove.ImageAnnotations over the frame, and tds's per-frame labels
// as a JSON-schema channel. Every message of a frame carries the same timestamp: the frame's capture time (live)
// or media time (files), so a panel overlays a mask on the frame it came from.
//
// Encoding: JSON (bytes as base64, as Foxglove's JSON schemas define them). Any MCAP or Foxglove reader decodes
// it without generated code; the chunks are zstd-compressed in recordings.
import type { ClassesMessage, SceneMessage } from './protocol.js';
import schemas from '@foxglove/schemas/jsonschema.js';

export const FOXGLOVE_TOPICS = {
  frame: '/tds/frame',
  mask: '/tds/mask',
  labels: '/tds/labels',
  annotations: '/tds/annotations',
  palette: '/tds/palette',
} as const;
export type FoxgloveTopic = keyof typeof FOXGLOVE_TOPICS;

/** The image frame id every image and annotation names (one camera). */
export const FRAME_ID = 'endoscope';

export interface ChannelSpec {
  key: FoxgloveTopic;
  topic: string;
  encoding: 'json';
  schemaName: string;
  schemaEncoding: 'jsonschema';
  schema: string;
}

const LABELS_SCHEMA = {
  title: 'tds.Labels',
  description: 'Per-frame labels of tds (TDSNet): class presence, present classes, scene, sync score, latency',
  type: 'object',
  properties: {
    timestamp: schemas.Timestamp ?? schemas.Time,
    frame: { type: 'integer', description: 'Frame index in the source' },
    ptsMs: { type: 'number', description: 'Media time of the frame (ms)' },
    presence: {
      type: 'object',
      additionalProperties: { type: 'number' },
      description: 'Class-head presence probability per class',
    },
    present: {
      type: 'array',
      items: { type: 'string' },
      description: 'Classes the class head calls present (p > 0.5)',
    },
    maskPresent: { type: 'array', items: { type: 'string' }, description: 'Classes present in the mask' },
    sync: { type: 'number', description: 'Agreement of mask and class head, 0..1' },
    scene: {
      type: 'object',
      properties: { label: { type: 'string' }, probs: { type: 'object', additionalProperties: { type: 'number' } } },
    },
    sizes: { type: 'array', items: { type: 'string' }, description: 'Ensemble input sizes used (HxW)' },
    latencyMs: { type: 'number', description: 'Frame arrival to publish (live only)' },
  },
};

const PALETTE_SCHEMA = {
  title: 'tds.Palette',
  description: 'Class ids of the /tds/mask mono8 image: names and display colours',
  type: 'object',
  properties: {
    classes: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'integer' },
          name: { type: 'string' },
          color: { type: 'array', items: { type: 'integer' } },
        },
      },
    },
    scenes: { type: 'array', items: { type: 'string' } },
  },
};

const schemaOf = (s: unknown) => JSON.stringify(s);

export const CHANNELS: ChannelSpec[] = [
  {
    key: 'frame',
    topic: FOXGLOVE_TOPICS.frame,
    encoding: 'json',
    schemaName: 'foxglove.CompressedImage',
    schemaEncoding: 'jsonschema',
    schema: schemaOf(schemas.CompressedImage),
  },
  {
    key: 'mask',
    topic: FOXGLOVE_TOPICS.mask,
    encoding: 'json',
    schemaName: 'foxglove.RawImage',
    schemaEncoding: 'jsonschema',
    schema: schemaOf(schemas.RawImage),
  },
  {
    key: 'annotations',
    topic: FOXGLOVE_TOPICS.annotations,
    encoding: 'json',
    schemaName: 'foxglove.ImageAnnotations',
    schemaEncoding: 'jsonschema',
    schema: schemaOf(schemas.ImageAnnotations),
  },
  {
    key: 'labels',
    topic: FOXGLOVE_TOPICS.labels,
    encoding: 'json',
    schemaName: 'tds.Labels',
    schemaEncoding: 'jsonschema',
    schema: schemaOf(LABELS_SCHEMA),
  },
  {
    key: 'palette',
    topic: FOXGLOVE_TOPICS.palette,
    encoding: 'json',
    schemaName: 'tds.Palette',
    schemaEncoding: 'jsonschema',
    schema: schemaOf(PALETTE_SCHEMA),
  },
];

export interface PaletteInfo {
  classes: Array<{ id: number; name: string; color: [number, number, number] }>;
  scenes: string[];
}

/** The labels of one frame: what the tds protocol's classes and scene messages carry (latency: live only). */
export type FrameLabels = Omit<ClassesMessage, 'type' | 'latencyMs'> & {
  scene: Pick<SceneMessage, 'label' | 'probs'>;
  latencyMs?: number;
};

/** One published frame: everything every sink (tds /ws, Foxglove, MCAP) needs, at one timestamp. */
export interface PublishedFrame {
  /** Capture or media time, ns since the epoch (or since the media start for files). */
  timeNs: bigint;
  /** The source frame as JPEG, when some sink wants it. */
  jpeg?: Uint8Array;
  width: number;
  height: number;
  /** Class id per pixel (width x height). */
  mask: Uint8Array;
  labels: FrameLabels;
}

export function timeOf(ns: bigint): { sec: number; nsec: number } {
  return { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) };
}

const enc = new TextEncoder();
/** Message bytes (an ArrayBuffer-backed view, as WebSocket and MCAP writers take). */
export type Bytes = Uint8Array<ArrayBuffer>;
const json = (o: unknown): Bytes => enc.encode(JSON.stringify(o)) as Bytes;

/**
 * `{...head, "data": "<base64 of bytes>"}` as UTF-8, built without putting megabytes of base64 through
 * JSON.stringify and a text encoder: the small head is serialised, the base64 is written straight into the
 * output buffer (base64 needs no JSON escaping). A 1280x1024 mask message costs a third of the plain way.
 */
function jsonWithBytes(head: Record<string, unknown>, bytes: Uint8Array): Bytes {
  const pre = Buffer.from(
    JSON.stringify(head).slice(0, -1) + (Object.keys(head).length ? ',' : '') + '"data":"',
    'utf8',
  );
  const src = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const b64Len = 4 * Math.ceil(src.length / 3);
  const out = Buffer.allocUnsafe(pre.length + b64Len + 2);
  pre.copy(out, 0);
  out.write(src.toString('base64'), pre.length, b64Len, 'latin1');
  out[out.length - 2] = 0x22; // "
  out[out.length - 1] = 0x7d; // }
  return new Uint8Array(out.buffer, out.byteOffset, out.length) as Bytes;
}

/** The palette message (sent once per subscriber and at the start of a recording). */
export function paletteMessage(p: PaletteInfo): Bytes {
  return json(p);
}

/** The messages of one frame, for the channels in `want` (encoding costs only for channels someone reads). */
/** One frame's encoded messages on its channels. */
export type FrameMessages = Array<{ key: FoxgloveTopic; data: Bytes }>;

export function frameMessages(
  f: PublishedFrame,
  palette: PaletteInfo,
  want: (k: FoxgloveTopic) => boolean,
): Array<{ key: FoxgloveTopic; data: Bytes }> {
  const timestamp = timeOf(f.timeNs);
  const out: Array<{ key: FoxgloveTopic; data: Bytes }> = [];
  if (f.jpeg && want('frame'))
    out.push({ key: 'frame', data: jsonWithBytes({ timestamp, frame_id: FRAME_ID, format: 'jpeg' }, f.jpeg) });
  if (want('mask'))
    out.push({
      key: 'mask',
      data: jsonWithBytes(
        { timestamp, frame_id: FRAME_ID, width: f.width, height: f.height, encoding: 'mono8', step: f.width },
        f.mask,
      ),
    });
  if (want('annotations')) out.push({ key: 'annotations', data: json(annotations(f, palette, timestamp)) });
  if (want('labels')) out.push({ key: 'labels', data: json({ timestamp, ...f.labels }) });
  return out;
}

/** Texts over the frame: the present classes in their colours, then scene and sync (top-left, one per line). */
function annotations(f: PublishedFrame, palette: PaletteInfo, timestamp: { sec: number; nsec: number }) {
  const size = Math.max(12, Math.round(f.height / 32));
  const colorOf = (name: string) => {
    const c = palette.classes.find((k) => k.name === name)?.color ?? [255, 255, 255];
    return { r: c[0] / 255, g: c[1] / 255, b: c[2] / 255, a: 1 };
  };
  const text = (i: number, s: string, color = { r: 1, g: 1, b: 1, a: 1 }) => ({
    timestamp,
    position: { x: size / 2, y: size * (1.2 + 1.3 * i) },
    text: s,
    font_size: size,
    text_color: color,
    background_color: { r: 0, g: 0, b: 0, a: 0.5 },
  });
  const lines = [
    text(0, `${f.labels.scene.label}  sync ${f.labels.sync.toFixed(2)}`),
    ...f.labels.maskPresent.map((n, i) => text(i + 1, n, colorOf(n))),
  ];
  return { circles: [], points: [], texts: lines };
}
