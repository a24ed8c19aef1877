// The WebSocket protocol (docs/protocol.md), shared by the server and the overlay page: no Node imports.
// Text frames carry JSON messages; binary frames carry [uint32 BE header length][UTF-8 JSON header][payload].

export const PROTOCOL_VERSION = 1;
export const TOPICS = ['classes', 'scene', 'stats', 'mask', 'frame'] as const;
export type Topic = (typeof TOPICS)[number];
/** Largest client message accepted, in bytes. */
export const MAX_CLIENT_MESSAGE = 64 * 1024;

export interface ClassInfo {
  id: number;
  name: string;
  color: [number, number, number];
}

export interface HelloMessage {
  type: 'hello';
  protocol: number;
  model: { profile: string; inputSize: { height: number; width: number }; engine: string; backend: string };
  classes: ClassInfo[];
  scenes: string[];
  topics: readonly Topic[];
}

export interface ClassesMessage {
  type: 'classes';
  frame: number;
  ptsMs: number;
  presence: Record<string, number>;
  present: string[];
  maskPresent: string[];
  sync: number;
  sizes: string[];
  /** Frame arrival to publish, measured on the server. */
  latencyMs: number;
}

export interface SceneMessage {
  type: 'scene';
  frame: number;
  ptsMs: number;
  label: string;
  probs: Record<string, number>;
}

export interface StatsMessage {
  type: 'stats';
  fps: number;
  framesIn: number;
  processed: number;
  dropped: number;
  clients: number;
  sizes: string[];
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Mask/frame messages this client skipped because it was slow. */
  skippedForYou: number;
}

export interface ErrorMessage {
  type: 'error';
  error: string;
}

export type ServerMessage = HelloMessage | ClassesMessage | SceneMessage | StatsMessage | ErrorMessage;

export type ClientMessage =
  | { op: 'subscribe'; topics: Topic[]; maskEncoding?: 'png' | 'rle' }
  | { op: 'unsubscribe'; topics: Topic[] }
  | { op: 'ping' };

export interface BinaryHeader {
  topic: 'mask' | 'frame';
  frame: number;
  ptsMs: number;
  width: number;
  height: number;
  /** mask: png (8-bit class index) or rle; frame: jpeg. */
  encoding: 'png' | 'rle' | 'jpeg';
}

export function encodeBinary(header: BinaryHeader, payload: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + h.length + payload.length);
  new DataView(out.buffer).setUint32(0, h.length, false);
  out.set(h, 4);
  out.set(payload, 4 + h.length);
  return out;
}

export function decodeBinary(data: ArrayBuffer | Uint8Array): { header: BinaryHeader; payload: Uint8Array } {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, false);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n))) as BinaryHeader;
  return { header, payload: bytes.subarray(4 + n) };
}

/** Run-length encoding of a label map: repeated [uint8 class][uint32 LE run length]. */
export function rleEncode(labels: Uint8Array): Uint8Array {
  const runs: number[] = [];
  for (let i = 0; i < labels.length;) {
    let j = i + 1;
    while (j < labels.length && labels[j] === labels[i]) j++;
    runs.push(labels[i], j - i);
    i = j;
  }
  const out = new Uint8Array((runs.length / 2) * 5);
  const dv = new DataView(out.buffer);
  for (let r = 0; r < runs.length / 2; r++) {
    out[r * 5] = runs[r * 2];
    dv.setUint32(r * 5 + 1, runs[r * 2 + 1], true);
  }
  return out;
}

export function rleDecode(payload: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let o = 0;
  for (let p = 0; p + 5 <= payload.length; p += 5) {
    const n = dv.getUint32(p + 1, true);
    out.fill(payload[p], o, o + n);
    o += n;
  }
  return out;
}
