// BraTS metrics: Dice and the 95th-percentile Hausdorff distance of the three nested tumour regions, whole tumour
// (WT), tumour core (TC) and enhancing tumour (ET), read from a label volume in the 2015 or 2018 convention.
// HD95 follows the challenge's tooling (medpy.metric.binary.hd95): surface voxels are the mask minus its
// erosion by the 6-neighbourhood (voxels on the volume's edge count as surface), the distances from each
// surface to the other (in mm, voxel spacing applied) are pooled, and their 95th percentile is taken with
// linear interpolation (numpy's default). Empty masks: both empty scores Dice 1 and HD95 0; one empty scores
// Dice 0 and HD95 373.13 mm, the diagonal of a 240x240x155 BraTS volume (the value the BraTS evaluation uses).

export type BratsConvention = '2015' | '2018';
export type BratsRegion = 'WT' | 'TC' | 'ET';
export const BRATS_REGIONS: readonly BratsRegion[] = ['WT', 'TC', 'ET'];

/**
 * Labels of each region. 2015: 1 necrosis, 2 edema, 3 non-enhancing, 4 enhancing tumour; 2018: 1 necrotic and
 * non-enhancing core, 2 edema, 4 enhancing tumour. WT is every tumour label, TC drops the edema, ET is 4.
 */
export const REGION_LABELS: Record<BratsConvention, Record<BratsRegion, number[]>> = {
  '2015': { WT: [1, 2, 3, 4], TC: [1, 3, 4], ET: [4] },
  '2018': { WT: [1, 2, 4], TC: [1, 4], ET: [4] },
};

/** The HD95 given when exactly one of the masks is empty (mm). */
export const HD95_EMPTY = 373.13;

export interface RegionScore {
  dice: number;
  hd95: number;
  /** Voxels in the prediction and the ground truth. */
  predVoxels: number;
  truthVoxels: number;
}

/** Binary mask of a region from a label volume. */
export function regionMask(labels: ArrayLike<number>, region: BratsRegion, convention: BratsConvention): Uint8Array {
  const want = new Uint8Array(256);
  for (const l of REGION_LABELS[convention][region]) want[l] = 1;
  const m = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    m[i] = l >= 0 && l < 256 && want[l] ? 1 : 0;
  }
  return m;
}

/** Voxels in a, in b, and in both. */
function overlap(a: Uint8Array, b: Uint8Array): { na: number; nb: number; inter: number } {
  let inter = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    na += a[i];
    nb += b[i];
    inter += a[i] & b[i];
  }
  return { na, nb, inter };
}

const diceOf = ({ na, nb, inter }: ReturnType<typeof overlap>) => (na + nb === 0 ? 1 : (2 * inter) / (na + nb));

export function dice(a: Uint8Array, b: Uint8Array): number {
  return diceOf(overlap(a, b));
}

/** Surface voxels: in the mask with a 6-neighbour outside it or outside the volume. */
function surface(m: Uint8Array, [nx, ny, nz]: readonly number[]): Uint8Array {
  const s = new Uint8Array(m.length);
  const sxy = nx * ny;
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        const i = z * sxy + y * nx + x;
        if (!m[i]) continue;
        s[i] =
          x === 0 ||
          y === 0 ||
          z === 0 ||
          x === nx - 1 ||
          y === ny - 1 ||
          z === nz - 1 ||
          !m[i - 1] ||
          !m[i + 1] ||
          !m[i - nx] ||
          !m[i + nx] ||
          !m[i - sxy] ||
          !m[i + sxy]
            ? 1
            : 0;
      }
  return s;
}

/**
 * Squared Euclidean distance (in spacing units) of every voxel to the nearest feature voxel: the separable
 * lower-envelope transform of Felzenszwalb and Huttenlocher (2012), one 1D pass per axis.
 */
export function squaredDistanceTransform(
  feature: Uint8Array,
  dims: readonly number[],
  spacing: readonly number[],
): Float64Array {
  const [nx, ny, nz] = dims;
  const INF = 1e20;
  const d = new Float64Array(feature.length);
  for (let i = 0; i < d.length; i++) d[i] = feature[i] ? 0 : INF;
  const maxN = Math.max(nx, ny, nz);
  const f = new Float64Array(maxN);
  const out = new Float64Array(maxN);
  const v = new Int32Array(maxN);
  const zb = new Float64Array(maxN + 1);
  const pass = (n: number, stride: number, base: number, h: number) => {
    for (let q = 0; q < n; q++) f[q] = d[base + q * stride];
    const h2 = h * h;
    let k = 0;
    v[0] = 0;
    zb[0] = -Infinity;
    zb[1] = Infinity;
    for (let q = 1; q < n; q++) {
      if (f[q] >= INF) continue;
      // Skip leading infinite parabolas: the envelope starts at the first finite one.
      if (f[v[0]] >= INF) {
        v[0] = q;
        continue;
      }
      let s = (f[q] + h2 * q * q - (f[v[k]] + h2 * v[k] * v[k])) / (2 * h2 * (q - v[k]));
      while (s <= zb[k]) {
        k--;
        s = (f[q] + h2 * q * q - (f[v[k]] + h2 * v[k] * v[k])) / (2 * h2 * (q - v[k]));
      }
      k++;
      v[k] = q;
      zb[k] = s;
      zb[k + 1] = Infinity;
    }
    if (f[v[0]] >= INF) return; // no feature on this line: it stays infinite
    k = 0;
    for (let q = 0; q < n; q++) {
      while (zb[k + 1] < q) k++;
      const dq = q - v[k];
      out[q] = h2 * dq * dq + f[v[k]];
    }
    for (let q = 0; q < n; q++) d[base + q * stride] = out[q];
  };
  for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) pass(nx, 1, (z * ny + y) * nx, spacing[0]);
  for (let z = 0; z < nz; z++) for (let x = 0; x < nx; x++) pass(ny, nx, z * ny * nx + x, spacing[1]);
  for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) pass(nz, nx * ny, y * nx + x, spacing[2]);
  return d;
}

/** numpy.percentile with linear interpolation. */
function percentile(values: Float64Array, p: number): number {
  const s = values.slice().sort();
  const pos = (p / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** The bounding box [lo, hi) of the voxels set in either mask, or undefined when both are empty. */
function unionBox(
  a: Uint8Array,
  b: Uint8Array,
  [nx, ny]: readonly number[],
): { lo: number[]; hi: number[] } | undefined {
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-1, -1, -1];
  for (let i = 0; i < a.length; i++) {
    if (!a[i] && !b[i]) continue;
    const x = i % nx;
    const y = Math.floor(i / nx) % ny;
    const z = Math.floor(i / (nx * ny));
    const p = [x, y, z];
    for (let k = 0; k < 3; k++) {
      if (p[k] < lo[k]) lo[k] = p[k];
      if (p[k] + 1 > hi[k]) hi[k] = p[k] + 1;
    }
  }
  return hi[0] < 0 ? undefined : { lo, hi };
}

/** The 95th-percentile symmetric surface distance between two binary masks, in the units of `spacing`. */
export function hd95(a: Uint8Array, b: Uint8Array, dims: readonly number[], spacing: readonly number[]): number {
  const sa = surface(a, dims);
  const sb = surface(b, dims);
  const box = unionBox(sa, sb, dims);
  if (!box) return 0;
  let anyA = false;
  let anyB = false;
  for (let i = 0; i < sa.length && !(anyA && anyB); i++) {
    anyA ||= sa[i] === 1;
    anyB ||= sb[i] === 1;
  }
  if (!anyA || !anyB) return HD95_EMPTY;
  // Every surface voxel lies in the union's box, so distances computed inside it are exact: crop to it.
  const [nx, ny] = dims;
  const bd = box.hi.map((h, k) => h - box.lo[k]);
  const crop = (m: Uint8Array) => {
    const c = new Uint8Array(bd[0] * bd[1] * bd[2]);
    for (let z = 0; z < bd[2]; z++)
      for (let y = 0; y < bd[1]; y++) {
        const src = ((z + box.lo[2]) * ny + y + box.lo[1]) * nx + box.lo[0];
        c.set(m.subarray(src, src + bd[0]), (z * bd[1] + y) * bd[0]);
      }
    return c;
  };
  const ca = crop(sa);
  const cb = crop(sb);
  const toB = squaredDistanceTransform(cb, bd, spacing);
  const toA = squaredDistanceTransform(ca, bd, spacing);
  const dists: number[] = [];
  for (let i = 0; i < ca.length; i++) if (ca[i]) dists.push(Math.sqrt(toB[i]));
  for (let i = 0; i < cb.length; i++) if (cb[i]) dists.push(Math.sqrt(toA[i]));
  return percentile(Float64Array.from(dists), 95);
}

/** Dice and HD95 of WT, TC and ET for one case. */
export function bratsScores(
  pred: ArrayLike<number>,
  truth: ArrayLike<number>,
  dims: readonly number[],
  spacing: readonly number[],
  convention: BratsConvention,
): Record<BratsRegion, RegionScore> {
  const out = {} as Record<BratsRegion, RegionScore>;
  for (const r of BRATS_REGIONS) {
    const p = regionMask(pred, r, convention);
    const t = regionMask(truth, r, convention);
    const o = overlap(p, t);
    out[r] = { dice: diceOf(o), hd95: hd95(p, t, dims, spacing), predVoxels: o.na, truthVoxels: o.nb };
  }
  return out;
}
