// Seeded, deterministic synthetic surgical scenes in the ROBOT18 class set: textured tissue, kidney and
// intestine regions, robotic instruments (shaft, wrist, clasper), thread, needle, clamps, suction and
// ultrasound probe, moving from frame to frame, with a right view rendered at a depth-dependent disparity.
// It is the project's own labelled data: every pixel's class is known exactly.
import { rng } from '../rng.js';
import type { Image } from '../types.js';

/** Scene ids follow configs/robot18.yaml: 0 preparing, 1 peeling, 2 incising. */
export const SYNTH_SCENES = ['preparing', 'peeling', 'incising'] as const;

export interface SynthFrame {
  left: Image;
  /** Absent when rendered with stereo = false. */
  right?: Image;
  /** ROBOT18 class index per left-view pixel. */
  labels: Uint8Array;
}

export interface SynthSequence {
  scene: number;
  /** Frame at scene time t; `stereo` false skips the right view (half the work). */
  render(t: number, stereo?: boolean): SynthFrame;
}

export interface SynthSequenceOptions {
  seed: number;
  /** Sequence number; mixes into the seed so sequences differ. */
  seq: number;
  width: number;
  height: number;
  /** Force a scene; default derived from seed and seq so that every scene occurs. */
  scene?: number;
}

function hash2(x: number, y: number, s: number): number {
  let h = Math.imul(x, 374761393) ^ Math.imul(y, 668265263) ^ Math.imul(s, 2246822519);
  h = Math.imul(h ^ (h >>> 13), 1274126177);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/** Value noise in [0,1], bilinear between lattice points `cell` pixels apart. */
function noise(x: number, y: number, cell: number, s: number): number {
  const fx = x / cell;
  const fy = y / cell;
  const x0 = Math.floor(fx);
  const y0 = Math.floor(fy);
  const tx = fx - x0;
  const ty = fy - y0;
  const sx = tx * tx * (3 - 2 * tx);
  const sy = ty * ty * (3 - 2 * ty);
  const a = hash2(x0, y0, s);
  const b = hash2(x0 + 1, y0, s);
  const c = hash2(x0, y0 + 1, s);
  const d = hash2(x0 + 1, y0 + 1, s);
  return a + (b - a) * sx + (c - a) * sy + (a - b - c + d) * sx * sy;
}

type RGB = [number, number, number];

interface Canvas {
  w: number;
  h: number;
  rgb: Float32Array;
  labels: Uint8Array;
  /** Horizontal shift of this view relative to the left one, per unit depth (0 for left). */
  disparity: number;
}

/** One painted object: a class, a depth (larger = nearer = more disparity), a test and a colour. */
interface Shape {
  cls: number;
  depth: number;
  bbox: [number, number, number, number];
  inside(x: number, y: number): boolean;
  color(x: number, y: number): RGB;
}

function paint(cv: Canvas, s: Shape): void {
  const dx = cv.disparity * s.depth;
  const x0 = Math.max(0, Math.floor(s.bbox[0] - dx));
  const x1 = Math.min(cv.w - 1, Math.ceil(s.bbox[2] - dx));
  const y0 = Math.max(0, Math.floor(s.bbox[1]));
  const y1 = Math.min(cv.h - 1, Math.ceil(s.bbox[3]));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const sx = x + dx + 0.5;
      const sy = y + 0.5;
      if (!s.inside(sx, sy)) continue;
      const i = y * cv.w + x;
      const c = s.color(sx, sy);
      cv.rgb[i * 3] = c[0];
      cv.rgb[i * 3 + 1] = c[1];
      cv.rgb[i * 3 + 2] = c[2];
      cv.labels[i] = s.cls;
    }
  }
}

function segDist(px: number, py: number, ax: number, ay: number, bx: number, by: number): { d: number; u: number } {
  const vx = bx - ax;
  const vy = by - ay;
  const len2 = vx * vx + vy * vy || 1;
  const u = Math.max(0, Math.min(1, ((px - ax) * vx + (py - ay) * vy) / len2));
  const qx = ax + u * vx - px;
  const qy = ay + u * vy - py;
  return { d: Math.sqrt(qx * qx + qy * qy), u };
}

function capsule(
  cls: number,
  depth: number,
  ax: number,
  ay: number,
  bx: number,
  by: number,
  r: number,
  base: RGB,
  tex: number,
  shine = true,
): Shape {
  return {
    cls,
    depth,
    bbox: [Math.min(ax, bx) - r, Math.min(ay, by) - r, Math.max(ax, bx) + r, Math.max(ay, by) + r],
    inside: (x, y) => segDist(x, y, ax, ay, bx, by).d <= r,
    color: (x, y) => {
      const { d } = segDist(x, y, ax, ay, bx, by);
      // Cylinder shading: bright along the axis, dark at the silhouette, plus fine texture.
      const k = shine ? 0.45 + 0.65 * Math.sqrt(Math.max(0, 1 - (d / r) ** 2)) : 1;
      const n = 0.9 + 0.2 * noise(x, y, 3, tex);
      return [base[0] * k * n, base[1] * k * n, base[2] * k * n];
    },
  };
}

function triangle(cls: number, depth: number, p: number[], base: RGB, tex: number): Shape {
  const [ax, ay, bx, by, cx, cy] = p;
  const sign = (x1: number, y1: number, x2: number, y2: number, x3: number, y3: number) =>
    (x1 - x3) * (y2 - y3) - (x2 - x3) * (y1 - y3);
  return {
    cls,
    depth,
    bbox: [Math.min(ax, bx, cx), Math.min(ay, by, cy), Math.max(ax, bx, cx), Math.max(ay, by, cy)],
    inside: (x, y) => {
      const d1 = sign(x, y, ax, ay, bx, by);
      const d2 = sign(x, y, bx, by, cx, cy);
      const d3 = sign(x, y, cx, cy, ax, ay);
      return !((d1 < 0 || d2 < 0 || d3 < 0) && (d1 > 0 || d2 > 0 || d3 > 0));
    },
    color: (x, y) => {
      const n = 0.85 + 0.3 * noise(x, y, 2, tex);
      return [base[0] * n, base[1] * n, base[2] * n];
    },
  };
}

function blob(
  cls: number,
  depth: number,
  cx: number,
  cy: number,
  rx: number,
  ry: number,
  rot: number,
  harm: number[],
  base: RGB,
  tex: number,
  stripes = 0,
): Shape {
  const c = Math.cos(rot);
  const s = Math.sin(rot);
  const rmax = Math.max(rx, ry) * 1.35;
  return {
    cls,
    depth,
    bbox: [cx - rmax, cy - rmax, cx + rmax, cy + rmax],
    inside: (x, y) => {
      const u = ((x - cx) * c + (y - cy) * s) / rx;
      const v = (-(x - cx) * s + (y - cy) * c) / ry;
      const th = Math.atan2(v, u);
      let edge = 1;
      for (let k = 0; k < harm.length; k += 2) edge += harm[k] * Math.sin((k / 2 + 2) * th + harm[k + 1]);
      return u * u + v * v <= edge * edge;
    },
    color: (x, y) => {
      let n = 0.7 + 0.45 * noise(x, y, 9, tex) + 0.15 * noise(x, y, 3, tex + 1);
      if (stripes) n *= 0.85 + 0.15 * Math.sin((x * c + y * s) / stripes);
      return [base[0] * n, base[1] * n, base[2] * n];
    },
  };
}

/** Stamped discs along a path: thread and needle, a few pixels wide. */
function path(cls: number, depth: number, pts: Array<[number, number]>, r: number, base: RGB): Shape {
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  return {
    cls,
    depth,
    bbox: [Math.min(...xs) - r, Math.min(...ys) - r, Math.max(...xs) + r, Math.max(...ys) + r],
    inside: (x, y) => {
      for (let i = 1; i < pts.length; i++)
        if (segDist(x, y, pts[i - 1][0], pts[i - 1][1], pts[i][0], pts[i][1]).d <= r) return true;
      return false;
    },
    color: () => base,
  };
}

interface Instrument {
  ex: number;
  ey: number;
  ang: number;
  len: number;
  w: number;
  phase: number;
  speed: number;
  open: number;
}

/** Creates one synthetic sequence; rendering frame t is a pure function of (options, t). */
export function synthSequence(o: SynthSequenceOptions): SynthSequence {
  const r = rng((o.seed * 1000003 + o.seq * 7919) >>> 0);
  const W = o.width;
  const H = o.height;
  const S = Math.min(W, H);
  const scene = o.scene ?? (o.seq + (o.seed % 3)) % 3;
  const tex = Math.floor(r() * 1e6);
  const pick = (p: number) => r() < p;
  const between = (a: number, b: number) => a + (b - a) * r();

  // Scene cues: tissue tint and which structures appear (preparing: fat-covered kidney and bowel;
  // peeling: partly exposed parenchyma, clamps, ultrasound; incising: exposed kidney, thread and needle).
  const tint: RGB = scene === 0 ? [200, 120, 90] : scene === 1 ? [185, 75, 65] : [150, 50, 50];
  const organs: Array<{
    cls: number;
    cx: number;
    cy: number;
    rx: number;
    ry: number;
    rot: number;
    harm: number[];
    base: RGB;
    stripes: number;
    drift: number;
  }> = [];
  const addOrgan = (cls: number, size: number, base: RGB, stripes = 0) =>
    organs.push({
      cls,
      cx: between(0.15, 0.85) * W,
      cy: between(0.2, 0.8) * H,
      rx: size * S * between(0.7, 1.3),
      ry: size * S * between(0.6, 1.1),
      rot: between(0, Math.PI),
      harm: [between(0.04, 0.14), between(0, 6), between(0.02, 0.08), between(0, 6), between(0, 0.05), between(0, 6)],
      base,
      stripes,
      drift: between(0.5, 1.5),
    });
  if (scene === 0) {
    addOrgan(5, between(0.28, 0.42), [220, 185, 110]);
    if (pick(0.6)) addOrgan(10, between(0.12, 0.22), [225, 150, 140], 3);
  } else if (scene === 1) {
    addOrgan(5, between(0.25, 0.35), [215, 180, 105]);
    addOrgan(4, between(0.14, 0.24), [105, 30, 62]);
    if (pick(0.3)) addOrgan(10, between(0.1, 0.18), [225, 150, 140], 3);
  } else {
    addOrgan(4, between(0.25, 0.38), [105, 30, 62]);
    if (pick(0.4)) addOrgan(5, between(0.1, 0.18), [215, 180, 105]);
  }
  const hasThread = scene === 2 ? pick(0.85) : pick(0.15);
  const hasNeedle = scene === 2 ? pick(0.7) : pick(0.05);
  const nClamps = scene === 1 ? Math.floor(between(0, 3.99)) : scene === 2 ? Math.floor(between(0, 2.5)) : 0;
  const hasSuction = scene === 0 ? pick(0.6) : pick(0.2);
  const hasProbe = scene === 1 ? pick(0.45) : pick(0.1);
  const threadPts = [
    between(0.1, 0.9),
    between(0.1, 0.9),
    between(0.1, 0.9),
    between(0.1, 0.9),
    between(0.1, 0.9),
    between(0.1, 0.9),
  ];
  const needle = {
    cx: between(0.25, 0.75) * W,
    cy: between(0.25, 0.75) * H,
    rad: between(0.04, 0.08) * S,
    a0: between(0, 6.28),
  };
  const clamps = Array.from({ length: nClamps }, () => ({
    x: between(0.2, 0.8) * W,
    y: between(0.2, 0.8) * H,
    ang: between(0, 3.14),
    l: between(0.04, 0.07) * S,
  }));

  const fromBorder = (): Instrument => {
    const side = Math.floor(r() * 3); // left, right, bottom: where ports usually enter the view
    const ex = side === 0 ? -0.05 * W : side === 1 ? 1.05 * W : between(0.2, 0.8) * W;
    const ey = side === 2 ? 1.05 * H : between(0.3, 1.0) * H;
    const tx = between(0.3, 0.7) * W;
    const ty = between(0.25, 0.65) * H;
    return {
      ex,
      ey,
      ang: Math.atan2(ty - ey, tx - ex),
      len: Math.hypot(tx - ex, ty - ey),
      w: between(0.035, 0.06) * S,
      phase: between(0, 6.28),
      speed: between(0.15, 0.4),
      open: between(0.15, 0.5),
    };
  };
  const instruments = Array.from({ length: pick(0.7) ? 2 : 1 }, fromBorder);
  const suction = hasSuction ? fromBorder() : undefined;
  const probe = hasProbe ? fromBorder() : undefined;

  function shapes(t: number): Shape[] {
    const out: Shape[] = [];
    for (const g of organs) {
      const dx = Math.sin(0.11 * t * g.drift + g.rot) * 0.02 * W;
      const dy = Math.cos(0.09 * t * g.drift) * 0.02 * H;
      out.push(
        blob(
          g.cls,
          1.2,
          g.cx + dx,
          g.cy + dy,
          g.rx,
          g.ry,
          g.rot + 0.02 * Math.sin(0.1 * t),
          g.harm,
          g.base,
          tex + g.cls,
          g.stripes,
        ),
      );
    }
    if (hasThread) {
      const tp = threadPts.map((v, i) => v + 0.03 * Math.sin(0.2 * t + i));
      const pts: Array<[number, number]> = [];
      for (let k = 0; k <= 24; k++) {
        const u = k / 24;
        const a = (1 - u) * (1 - u);
        const b = 2 * u * (1 - u);
        const c = u * u;
        pts.push([(a * tp[0] + b * tp[2] + c * tp[4]) * W, (a * tp[1] + b * tp[3] + c * tp[5]) * H]);
      }
      out.push(path(6, 1.6, pts, Math.max(1.5, 0.01 * S), [150, 95, 170]));
    }
    if (hasNeedle) {
      const pts: Array<[number, number]> = [];
      const a0 = needle.a0 + 0.15 * Math.sin(0.3 * t);
      for (let k = 0; k <= 12; k++) {
        const a = a0 + (k / 12) * Math.PI;
        pts.push([needle.cx + needle.rad * Math.cos(a), needle.cy + needle.rad * Math.sin(a)]);
      }
      out.push(path(8, 1.7, pts, Math.max(1.5, 0.012 * S), [230, 230, 235]));
    }
    for (const c of clamps) {
      const dx = Math.cos(c.ang) * c.l;
      const dy = Math.sin(c.ang) * c.l;
      out.push(capsule(7, 1.5, c.x - dx, c.y - dy, c.x + dx, c.y + dy, 0.02 * S, [90, 200, 150], tex + 7));
    }
    const tool = (ins: Instrument, cls: number, base: RGB, head?: { cls: number; base: RGB }) => {
      const ang = ins.ang + 0.12 * Math.sin(ins.speed * t + ins.phase);
      const len = ins.len * (0.92 + 0.08 * Math.sin(0.7 * ins.speed * t + ins.phase));
      const bx = ins.ex + Math.cos(ang) * len;
      const by = ins.ey + Math.sin(ang) * len;
      out.push(capsule(cls, 2.5, ins.ex, ins.ey, bx, by, ins.w, base, tex + cls));
      if (head)
        out.push(
          capsule(
            head.cls,
            2.5,
            bx,
            by,
            bx + Math.cos(ang) * ins.w * 2.2,
            by + Math.sin(ang) * ins.w * 2.2,
            ins.w * 1.25,
            head.base,
            tex + head.cls,
          ),
        );
    };
    if (suction) tool(suction, 9, [205, 210, 225]);
    if (probe) tool(probe, 11, [70, 70, 80], { cls: 11, base: [170, 170, 160] });
    for (const ins of instruments) {
      const ang = ins.ang + 0.15 * Math.sin(ins.speed * t + ins.phase);
      const len = ins.len * (0.9 + 0.1 * Math.sin(0.8 * ins.speed * t + ins.phase));
      const jx = ins.ex + Math.cos(ang) * len;
      const jy = ins.ey + Math.sin(ang) * len;
      out.push(capsule(1, 3, ins.ex, ins.ey, jx, jy, ins.w, [55, 55, 62], tex + 1));
      // Wrist: a short articulated segment, bent a little off the shaft axis.
      const wa = ang + 0.35 * Math.sin(0.5 * t + ins.phase);
      const wl = ins.w * 2.2;
      const wx = jx + Math.cos(wa) * wl;
      const wy = jy + Math.sin(wa) * wl;
      out.push(capsule(3, 3, jx, jy, wx, wy, ins.w * 0.8, [150, 150, 158], tex + 3));
      // Clasper: two jaws opening and closing.
      const open = ins.open * (0.5 + 0.5 * Math.sin(0.9 * t + ins.phase));
      const jl = ins.w * 3;
      for (const sgn of [-1, 1]) {
        const ja = wa + sgn * open;
        const tx = wx + Math.cos(ja) * jl;
        const ty = wy + Math.sin(ja) * jl;
        const nx = -Math.sin(ja) * ins.w * 0.6;
        const ny = Math.cos(ja) * ins.w * 0.6;
        out.push(triangle(2, 3, [wx + nx, wy + ny, wx - nx, wy - ny, tx, ty], [200, 200, 205], tex + 2));
      }
    }
    return out;
  }

  function renderView(t: number, disparity: number): { img: Image; labels: Uint8Array } {
    const cv: Canvas = { w: W, h: H, rgb: new Float32Array(W * H * 3), labels: new Uint8Array(W * H), disparity };
    const bgShift = disparity * 0.8;
    const vx = 0.015 * W * Math.sin(0.05 * t); // slow camera drift over the tissue
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const sx = x + bgShift + vx;
        const n = 0.65 + 0.35 * noise(sx, y, 0.12 * S, tex + 11) + 0.15 * noise(sx, y, 0.03 * S, tex + 12);
        const vessel = Math.abs(noise(sx, y, 0.08 * S, tex + 13) - 0.5) < 0.02 ? 0.7 : 1;
        const i = (y * W + x) * 3;
        cv.rgb[i] = tint[0] * n * vessel;
        cv.rgb[i + 1] = tint[1] * n * vessel;
        cv.rgb[i + 2] = tint[2] * n * vessel;
      }
    }
    for (const s of shapes(t)) paint(cv, s);
    // Endoscope light: bright centre, dark corners; a small deterministic sensor noise.
    const data = Buffer.alloc(W * H * 3);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const dx = (x - W / 2) / (W / 2);
        const dy = (y - H / 2) / (H / 2);
        const v = 1.1 - 0.45 * (dx * dx + dy * dy);
        const i = y * W + x;
        const e = (hash2(x, y, tex + t * 31 + (disparity ? 5 : 0)) - 0.5) * 8;
        for (let c = 0; c < 3; c++) data[i * 3 + c] = Math.max(0, Math.min(255, Math.round(cv.rgb[i * 3 + c] * v + e)));
      }
    }
    return { img: { data, width: W, height: H, channels: 3 }, labels: cv.labels };
  }

  // Right camera sits to the right: scene content shifts left by depth x baseline (about 1% of width per depth unit).
  const baseline = 0.01 * W;
  return {
    scene,
    render(t: number, stereo = true): SynthFrame {
      const left = renderView(t, 0);
      const right = stereo ? renderView(t, baseline).img : undefined;
      return { left: left.img, right, labels: left.labels };
    },
  };
}
