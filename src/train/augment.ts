// Augmentation for real endoscopy: one affine resample (zoom in or out, rotation, shift, flips) of image and
// labels from the source frame, then photometric changes on the resampled pixels (brightness, contrast,
// saturation, hue, blur, sensor noise) and the artefacts real laparoscopic frames show: specular highlights,
// surgical smoke, and the dark border outside the scope's field of view (labelled background, so a model learns
// that a black border is never instrument). Everything is driven by the caller's seeded RNG.
import type { Image } from '../types.js';
import { normalizer, type Normalization } from '../model/preprocess.js';

export interface RealAugment {
  /** Zoom factor range; < 1 zooms out (the frame shrinks inside a black surround), > 1 crops in. */
  zoom: { min: number; max: number } | null;
  /** Rotation in degrees, uniform in [-rotate, rotate]. */
  rotate: number;
  /** Colour jitter: brightness and contrast as +/- fractions, saturation as +/- fraction, hue in degrees. */
  jitter: { brightness: number; contrast: number; saturation: number; hue: number } | null;
  /** Gaussian blur with probability p and sigma up to maxSigma output pixels (defocus, motion). */
  blur: { p: number; maxSigma: number } | null;
  /** Gaussian sensor noise with probability p and standard deviation up to sigma (0..255 scale). */
  noise: { p: number; sigma: number } | null;
  /** Up to `max` saturated specular highlights (soft white ellipses) with probability p. */
  specular: { p: number; max: number } | null;
  /** A smoke haze with probability p and opacity up to `max`. */
  smoke: { p: number; max: number } | null;
  /** With probability p, a black border outside a circle or octagon (the scope's field of view). */
  border: { p: number } | null;
  /** With probability p, the window is a crop around the labelled region of `classes` (its bounding box), `scale`
   * times the box's larger side, centre shifted by up to `shift` of that side: the second stage of a two-stage
   * model (fundus: the optic disc located at low resolution, then segmented in a crop around it). */
  roi?: { p: number; classes: number[]; scale: { min: number; max: number }; shift: number } | null;
  /** With probability p, the pixels of `classes` (the instruments) get another grey level and colour: their mean
   * luminance moved to a uniform draw in [min, max] (0..255), their contrast and saturation rescaled. Tools differ
   * between operations far more than tissue does (black, silver, bright plastic): 80 frames show only a few. */
  tool?: { p: number; classes: number[]; min: number; max: number } | null;
  /** With probability p, the pixels of `classes` from another training frame (resampled with its own geometry)
   * are pasted over this one, labels included: instrument/tissue pairs the data never showed (copy-paste). */
  paste?: { p: number; classes: number[] } | null;
}

/** Bounding box (inclusive pixel bounds) of the pixels whose label is in `classes`; undefined when none. */
export function labelBox(
  labels: Uint8Array,
  width: number,
  classes: number[],
): { x0: number; y0: number; x1: number; y1: number } | undefined {
  const want = new Uint8Array(256);
  for (const c of classes) want[c] = 1;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -1;
  let y1 = -1;
  for (let i = 0; i < labels.length; i++) {
    if (!want[labels[i]]) continue;
    const x = i % width;
    const y = (i - x) / width;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    y1 = y;
  }
  return x1 < 0 ? undefined : { x0, y0, x1, y1 };
}

export interface Flips {
  h: boolean;
  v: boolean;
}

/** Resamples `img`/`labels` into H x W under a random zoom, rotation and shift (bilinear image, nearest labels). */
function resample(
  img: Image,
  labels: Uint8Array,
  H: number,
  W: number,
  aug: RealAugment,
  flips: Flips,
  r: () => number,
): { rgb: Float32Array; labels: Uint8Array } {
  const sw = img.width;
  const sh = img.height;
  const z = aug.zoom ? aug.zoom.min + (aug.zoom.max - aug.zoom.min) * r() : 1;
  const th = ((r() * 2 - 1) * aug.rotate * Math.PI) / 180;
  const cos = Math.cos(th);
  const sin = Math.sin(th);
  // The visible window is 1/z of the frame: its centre moves anywhere that keeps it inside the frame when
  // zooming in, and up to the slack around the shrunken frame when zooming out.
  let cx = sw / 2 + (r() * 2 - 1) * Math.abs(sw / 2 - sw / (2 * z));
  let cy = sh / 2 + (r() * 2 - 1) * Math.abs(sh / 2 - sh / (2 * z));
  let kx = sw / W / z;
  let ky = sh / H / z;
  const box = aug.roi && r() < aug.roi.p ? labelBox(labels, sw, aug.roi.classes) : undefined;
  if (box && aug.roi) {
    // A square window (source pixels keep their aspect) around the region, as the two-stage inference crops it.
    const side = Math.max(box.x1 - box.x0 + 1, box.y1 - box.y0 + 1);
    const win = side * (aug.roi.scale.min + (aug.roi.scale.max - aug.roi.scale.min) * r());
    cx = (box.x0 + box.x1 + 1) / 2 + (r() * 2 - 1) * aug.roi.shift * side;
    cy = (box.y0 + box.y1 + 1) / 2 + (r() * 2 - 1) * aug.roi.shift * side;
    kx = ky = win / Math.min(H, W);
  }
  const rgb = new Float32Array(H * W * 3);
  const out = new Uint8Array(H * W);
  const src = img.data;
  const ch = img.channels;
  for (let y = 0; y < H; y++) {
    const oy = flips.v ? H - 1 - y : y;
    const dy = (oy + 0.5 - H / 2) * ky;
    for (let x = 0; x < W; x++) {
      const ox = flips.h ? W - 1 - x : x;
      const dx = (ox + 0.5 - W / 2) * kx;
      const u = cx + cos * dx - sin * dy;
      const v = cy + sin * dx + cos * dy;
      const o = y * W + x;
      if (u < 0 || v < 0 || u >= sw || v >= sh) continue; // outside the frame: black, background
      out[o] = labels[Math.floor(v) * sw + Math.floor(u)];
      // Half-pixel centres, edge-clamped (as preprocessInto / cv2.INTER_LINEAR).
      const fu = Math.min(Math.max(u - 0.5, 0), sw - 1);
      const fv = Math.min(Math.max(v - 0.5, 0), sh - 1);
      const x0 = Math.floor(fu);
      const y0 = Math.floor(fv);
      const x1 = Math.min(x0 + 1, sw - 1);
      const y1 = Math.min(y0 + 1, sh - 1);
      const ax = fu - x0;
      const ay = fv - y0;
      const i00 = (y0 * sw + x0) * ch;
      const i01 = (y0 * sw + x1) * ch;
      const i10 = (y1 * sw + x0) * ch;
      const i11 = (y1 * sw + x1) * ch;
      for (let c = 0; c < 3; c++) {
        const top = src[i00 + c] + (src[i01 + c] - src[i00 + c]) * ax;
        const bot = src[i10 + c] + (src[i11 + c] - src[i10 + c]) * ax;
        rgb[o * 3 + c] = top + (bot - top) * ay;
      }
    }
  }
  return { rgb, labels: out };
}

/** A lookup of the label values in `classes`. */
function classSet(classes: number[]): Uint8Array {
  const want = new Uint8Array(256);
  for (const c of classes) want[c] = 1;
  return want;
}

/** Another grey level, contrast and saturation for the pixels of the tool classes (see RealAugment.tool). */
function recolourTools(
  rgb: Float32Array,
  labels: Uint8Array,
  t: NonNullable<RealAugment['tool']>,
  r: () => number,
): void {
  const want = classSet(t.classes);
  let n = 0;
  let sum = 0;
  for (let o = 0; o < labels.length; o++) {
    if (!want[labels[o]]) continue;
    sum += 0.299 * rgb[o * 3] + 0.587 * rgb[o * 3 + 1] + 0.114 * rgb[o * 3 + 2];
    n++;
  }
  const target = t.min + (t.max - t.min) * r();
  const contrast = 0.7 + 0.6 * r();
  const saturation = 0.3 + 0.9 * r();
  if (!n) return;
  const mean = sum / n;
  for (let o = 0; o < labels.length; o++) {
    if (!want[labels[o]]) continue;
    const i = o * 3;
    const grey = 0.299 * rgb[i] + 0.587 * rgb[i + 1] + 0.114 * rgb[i + 2];
    const level = target + (grey - mean) * contrast;
    for (let c = 0; c < 3; c++) rgb[i + c] = level + (rgb[i + c] - grey) * saturation;
  }
}

/** Pastes the tool-class pixels (and labels) of `from` over `to` (see RealAugment.paste). */
function pasteTools(
  to: { rgb: Float32Array; labels: Uint8Array },
  from: { rgb: Float32Array; labels: Uint8Array },
  classes: number[],
): void {
  const want = classSet(classes);
  for (let o = 0; o < to.labels.length; o++) {
    if (!want[from.labels[o]]) continue;
    to.labels[o] = from.labels[o];
    for (let c = 0; c < 3; c++) to.rgb[o * 3 + c] = from.rgb[o * 3 + c];
  }
}

/** Brightness, contrast, saturation and hue (a rotation about the grey axis), on 0..255 RGB in place. */
function jitter(rgb: Float32Array, j: NonNullable<RealAugment['jitter']>, r: () => number): void {
  const b = (r() * 2 - 1) * j.brightness * 255;
  const c = 1 + (r() * 2 - 1) * j.contrast;
  const s = 1 + (r() * 2 - 1) * j.saturation;
  const h = ((r() * 2 - 1) * j.hue * Math.PI) / 180;
  // Hue rotation matrix about (1,1,1)/sqrt(3) (Rodrigues), combined with saturation around the pixel's grey.
  const cosH = Math.cos(h);
  const sinH = Math.sin(h);
  const t = (1 - cosH) / 3;
  const q = Math.sqrt(1 / 3) * sinH;
  const m = [cosH + t, t - q, t + q, t + q, cosH + t, t - q, t - q, t + q, cosH + t];
  let mean = 0;
  for (let i = 0; i < rgb.length; i++) mean += rgb[i];
  mean /= rgb.length;
  for (let i = 0; i < rgb.length; i += 3) {
    const R = rgb[i];
    const G = rgb[i + 1];
    const B = rgb[i + 2];
    let r2 = m[0] * R + m[1] * G + m[2] * B;
    let g2 = m[3] * R + m[4] * G + m[5] * B;
    let b2 = m[6] * R + m[7] * G + m[8] * B;
    const grey = 0.299 * r2 + 0.587 * g2 + 0.114 * b2;
    r2 = grey + (r2 - grey) * s;
    g2 = grey + (g2 - grey) * s;
    b2 = grey + (b2 - grey) * s;
    rgb[i] = (r2 - mean) * c + mean + b;
    rgb[i + 1] = (g2 - mean) * c + mean + b;
    rgb[i + 2] = (b2 - mean) * c + mean + b;
  }
}

/** Separable Gaussian blur in place. */
function blur(rgb: Float32Array, H: number, W: number, sigma: number): void {
  const rad = Math.max(1, Math.ceil(sigma * 2.5));
  const k = new Float32Array(2 * rad + 1);
  let sum = 0;
  for (let i = -rad; i <= rad; i++) sum += k[i + rad] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  const tmp = new Float32Array(rgb.length);
  const pass = (from: Float32Array, to: Float32Array, horizontal: boolean) => {
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        for (let c = 0; c < 3; c++) {
          let acc = 0;
          for (let i = -rad; i <= rad; i++) {
            const xx = horizontal ? Math.min(Math.max(x + i, 0), W - 1) : x;
            const yy = horizontal ? y : Math.min(Math.max(y + i, 0), H - 1);
            acc += from[(yy * W + xx) * 3 + c] * k[i + rad];
          }
          to[(y * W + x) * 3 + c] = acc;
        }
  };
  pass(rgb, tmp, true);
  pass(tmp, rgb, false);
}

/** Standard normal from two uniforms (Box-Muller). */
function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** Soft saturated ellipses: the specular reflections of wet tissue and metal under the scope's light. */
function specular(rgb: Float32Array, H: number, W: number, n: number, r: () => number): void {
  for (let k = 0; k < n; k++) {
    const cx = r() * W;
    const cy = r() * H;
    const ax = 2 + r() * W * 0.04;
    const ay = 2 + r() * H * 0.04;
    const x0 = Math.max(0, Math.floor(cx - 2 * ax));
    const x1 = Math.min(W, Math.ceil(cx + 2 * ax));
    const y0 = Math.max(0, Math.floor(cy - 2 * ay));
    const y1 = Math.min(H, Math.ceil(cy + 2 * ay));
    for (let y = y0; y < y1; y++)
      for (let x = x0; x < x1; x++) {
        const d = ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2;
        const a = Math.min(1, Math.max(0, 1.5 - d)); // flat core, soft edge
        if (a <= 0) continue;
        const o = (y * W + x) * 3;
        for (let c = 0; c < 3; c++) rgb[o + c] += (250 - rgb[o + c]) * a;
      }
  }
}

/** A low-frequency whitish haze: bilinear interpolation of a coarse random opacity grid. */
function smoke(rgb: Float32Array, H: number, W: number, max: number, r: () => number): void {
  const G = 4;
  const grid = Array.from({ length: (G + 1) * (G + 1) }, () => r() * max);
  const tone = 200 + r() * 40;
  for (let y = 0; y < H; y++) {
    const gy = (y / H) * G;
    const iy = Math.min(Math.floor(gy), G - 1);
    const fy = gy - iy;
    for (let x = 0; x < W; x++) {
      const gx = (x / W) * G;
      const ix = Math.min(Math.floor(gx), G - 1);
      const fx = gx - ix;
      const a00 = grid[iy * (G + 1) + ix];
      const a01 = grid[iy * (G + 1) + ix + 1];
      const a10 = grid[(iy + 1) * (G + 1) + ix];
      const a11 = grid[(iy + 1) * (G + 1) + ix + 1];
      const a = (a00 + (a01 - a00) * fx) * (1 - fy) + (a10 + (a11 - a10) * fx) * fy;
      const o = (y * W + x) * 3;
      for (let c = 0; c < 3; c++) rgb[o + c] += (tone - rgb[o + c]) * a;
    }
  }
}

/** Blacks out everything outside a circle or an octagon (the scope's field of view) and labels it background. */
function border(rgb: Float32Array, labels: Uint8Array, H: number, W: number, r: () => number): void {
  const cx = W / 2 + (r() * 2 - 1) * W * 0.08;
  const cy = H / 2 + (r() * 2 - 1) * H * 0.08;
  // Radius from 0.9x to 1.7x half the short side: from a circle that cuts the sides to clipped corners only
  // (EndoVis 2015 frames show the latter, the fixtures' cholecystectomy clip the former).
  const rad = (0.9 + r() * 0.8) * Math.min(W, H) * 0.5;
  const octagon = r() < 0.4;
  const level = r() * 12;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const dx = Math.abs(x + 0.5 - cx);
      const dy = Math.abs(y + 0.5 - cy);
      const inside = octagon ? Math.max(dx, dy, (dx + dy) / Math.SQRT2) <= rad : dx * dx + dy * dy <= rad * rad;
      if (inside) continue;
      const o = y * W + x;
      labels[o] = 0;
      rgb[o * 3] = rgb[o * 3 + 1] = rgb[o * 3 + 2] = level;
    }
}

/** One augmented training sample: normalised NHWC pixels and class labels at H x W. */
export function augmentReal(
  img: Image,
  labels: Uint8Array,
  H: number,
  W: number,
  norm: Normalization,
  aug: RealAugment,
  flips: Flips,
  r: () => number,
  other?: { image: Image; labels: Uint8Array },
): { image: Float32Array; labels: Uint8Array } {
  const s = resample(img, labels, H, W, aug, flips, r);
  const rgb = s.rgb;
  // The pasted frame gets its own geometry (never the ROI crop: that window belongs to this frame's region).
  if (aug.paste && other && r() < aug.paste.p) {
    const otherFlips = { h: r() < 0.5, v: r() < 0.5 };
    pasteTools(s, resample(other.image, other.labels, H, W, { ...aug, roi: null }, otherFlips, r), aug.paste.classes);
  }
  if (aug.tool && r() < aug.tool.p) recolourTools(rgb, s.labels, aug.tool, r);
  if (aug.jitter) jitter(rgb, aug.jitter, r);
  if (aug.smoke && r() < aug.smoke.p) smoke(rgb, H, W, aug.smoke.max * r(), r);
  if (aug.specular && r() < aug.specular.p) specular(rgb, H, W, 1 + Math.floor(r() * aug.specular.max), r);
  if (aug.blur && r() < aug.blur.p) blur(rgb, H, W, 0.3 + r() * (aug.blur.maxSigma - 0.3));
  if (aug.noise && r() < aug.noise.p) {
    const sd = r() * aug.noise.sigma;
    for (let i = 0; i < rgb.length; i++) rgb[i] += gauss(r) * sd;
  }
  if (aug.border && r() < aug.border.p) border(rgb, s.labels, H, W, r);
  // The same normalisation as inference (src/model/preprocess.ts): identical pixels give identical floats.
  const { scale, shift } = normalizer(norm);
  const image = new Float32Array(H * W * 3);
  for (let i = 0; i < rgb.length; i++) {
    const c = i % 3;
    image[i] = Math.min(255, Math.max(0, rgb[i])) * scale[c] - shift[c];
  }
  return { image, labels: s.labels };
}
