// The OR overlay page: draws the latest frame with its mask blended on a canvas, lists the classes present,
// the scene, sync consistency, fps and latency, and reconnects with backoff. Query parameters:
// ?token=T (auth), ?opacity=0..1, ?native=1 (canvas at the frame's own size), ?freeze=N (stop after N drawn
// frames; for checks), and window.tdsDebug exposes the last drawn mask.
import { decodeBinary, type ClassInfo, type ServerMessage, type BinaryHeader } from '../src/stream/protocol.js';

const params = new URLSearchParams(location.search);
const canvas = document.getElementById('view') as HTMLCanvasElement;
const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
const $ = (id: string) => document.getElementById(id)!;
const opacityInput = $('opacity') as HTMLInputElement;
if (params.has('opacity')) opacityInput.value = String(Math.round(Number(params.get('opacity')) * 100));
if (params.get('native') === '1') {
  canvas.classList.add('native');
  $('stage').classList.add('native');
}
const freezeAfter = Number(params.get('freeze') ?? 0);

let classes: ClassInfo[] = [];
const hidden = new Set<number>();
let pendingFrame: { header: BinaryHeader; bitmap: ImageBitmap } | undefined;
let drawn = 0;
const debug = { frame: -1, width: 0, height: 0, labels: new Uint8Array(0), drawn: 0, frozen: false };
(window as unknown as { tdsDebug: typeof debug }).tdsDebug = debug;

function renderLegend(present: string[]): void {
  const ul = $('classes');
  ul.replaceChildren(
    ...classes
      .filter((c) => c.id !== 0 && present.includes(c.name))
      .map((c) => {
        const li = document.createElement('li');
        if (hidden.has(c.id)) li.classList.add('off');
        const sw = document.createElement('span');
        sw.className = 'swatch';
        sw.style.background = `rgb(${c.color.join(',')})`;
        li.append(sw, document.createTextNode(c.name));
        li.onclick = () => {
          hidden.has(c.id) ? hidden.delete(c.id) : hidden.add(c.id);
          li.classList.toggle('off');
        };
        return li;
      }),
  );
}

// The latest frame and its mask as drawn: kept so that a resize redraws at once at the new size.
let shown: { frame?: ImageBitmap; mask: OffscreenCanvas; width: number; height: number } | undefined;

/** Fits the canvas to the stage (aspect kept) with a backing store at device pixels, so the video is scaled
 * smoothly and the mask's edges stay crisp at any display size; ?native=1 keeps the frame's own size. */
function layout(width: number, height: number): void {
  if (canvas.classList.contains('native')) {
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    return;
  }
  const stage = $('stage').getBoundingClientRect();
  const scale = Math.min(stage.width / width, stage.height / height);
  const cssW = Math.max(1, Math.floor(width * scale));
  const cssH = Math.max(1, Math.floor(height * scale));
  canvas.style.width = `${cssW}px`;
  canvas.style.height = `${cssH}px`;
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(cssW * dpr);
  const h = Math.round(cssH * dpr);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
}

function render(): void {
  if (!shown) return;
  layout(shown.width, shown.height);
  const { width: w, height: h } = canvas;
  // The video underneath (smooth), or black without a frame of the same index.
  if (shown.frame) {
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(shown.frame, 0, 0, w, h);
  } else {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, w, h);
  }
  // The mask on top, nearest-neighbour: class boundaries stay sharp however far the frame is scaled up.
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(shown.mask, 0, 0, w, h);
}

async function drawMask(header: BinaryHeader, payload: Uint8Array): Promise<void> {
  if (debug.frozen) return;
  const bitmap = await createImageBitmap(new Blob([payload as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
  const { width, height } = header;
  const tmp = new OffscreenCanvas(width, height);
  const tctx = tmp.getContext('2d', { willReadFrequently: true })!;
  tctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const mask = tctx.getImageData(0, 0, width, height);
  const a = Math.round((Number(opacityInput.value) / 100) * 255);
  const labels = new Uint8Array(width * height);
  for (let i = 0; i < labels.length; i++) {
    const k = mask.data[i * 4];
    labels[i] = k;
    const c = classes[k];
    const visible = k !== 0 && c && !hidden.has(k);
    mask.data[i * 4] = visible ? c.color[0] : 0;
    mask.data[i * 4 + 1] = visible ? c.color[1] : 0;
    mask.data[i * 4 + 2] = visible ? c.color[2] : 0;
    mask.data[i * 4 + 3] = visible ? a : 0;
  }
  tctx.putImageData(mask, 0, 0);
  const frame = pendingFrame && pendingFrame.header.frame === header.frame ? pendingFrame.bitmap : undefined;
  if (shown?.frame && shown.frame !== frame && shown.frame !== pendingFrame?.bitmap) shown.frame.close();
  shown = { frame, mask: tmp, width, height };
  render();
  drawn++;
  Object.assign(debug, { frame: header.frame, width, height, labels, drawn });
  if (freezeAfter && drawn >= freezeAfter) debug.frozen = true;
}

window.addEventListener('resize', render);

function onText(msg: ServerMessage): void {
  if (msg.type === 'hello') {
    classes = msg.classes;
    return;
  }
  if (debug.frozen) return;
  if (msg.type === 'classes') {
    renderLegend(msg.maskPresent);
    $('sync').textContent = `sync ${(msg.sync * 100).toFixed(0)}%`;
    $('latency').textContent = `${msg.latencyMs.toFixed(0)} ms`;
  } else if (msg.type === 'scene') {
    $('scene').textContent = `scene: ${msg.label}`;
  } else if (msg.type === 'stats') {
    $('fps').textContent = `${msg.fps.toFixed(1)} fps`;
  }
}

let backoff = 500;
function connect(): void {
  const conn = $('conn');
  conn.className = 'conn connecting';
  conn.textContent = 'connecting…';
  const token = params.get('token');
  const ws = new WebSocket(
    `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws${token ? `?token=${encodeURIComponent(token)}` : ''}`,
  );
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => {
    backoff = 500;
    conn.className = 'conn open';
    conn.textContent = 'live';
    ws.send(JSON.stringify({ op: 'subscribe', topics: ['classes', 'scene', 'stats', 'mask', 'frame'] }));
  };
  ws.onmessage = async (ev) => {
    if (typeof ev.data === 'string') return onText(JSON.parse(ev.data) as ServerMessage);
    const { header, payload } = decodeBinary(ev.data as ArrayBuffer);
    if (header.topic === 'frame') {
      const bitmap = await createImageBitmap(new Blob([payload as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }));
      // The bitmap on screen stays open until a newer frame replaces it there.
      if (pendingFrame && pendingFrame.bitmap !== shown?.frame) pendingFrame.bitmap.close();
      pendingFrame = { header, bitmap };
    } else if (header.topic === 'mask' && header.encoding === 'png') await drawMask(header, payload);
  };
  ws.onclose = () => {
    conn.className = 'conn closed';
    conn.textContent = `disconnected — retrying in ${(backoff / 1000).toFixed(1)} s`;
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 10_000);
  };
}
connect();
