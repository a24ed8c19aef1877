// Fundus datasets (optic disc and cup; glaucoma as the scene): Drishti-GS1 and REFUGE. Both become one label
// encoding, REFUGE's own (grey 255 other, 128 disc, 0 cup: shared/DESIGN.md §8), so one palette
// (configs/refuge.yaml) reads both and nothing downstream knows which dataset a mask came from.
// - Drishti-GS1: a case folder per image, `drishtiGS_NNN/drishtiGS_NNN.{png,jpg}` with
//   `drishtiGS_NNN_ODsegSoftmap.png` and `drishtiGS_NNN_cupsegSoftmap.png` (grey 0/64/128/191/255 = how many of the 4
//   experts marked the pixel). The label is the majority (>= 128, i.e. 2 of 4 experts: the dataset's own rule);
//   glaucoma/normal comes from the image-level decisions spreadsheet next to the cases.
// - REFUGE: JPEG images with BMP masks under a `Disc_Cup_Masks` folder, matched by file name; glaucoma/normal from
//   the `Glaucoma` / `Non-Glaucoma` folders of the training release.
// Each image is its own sequence (one eye, one photograph): cross-validation folds group them.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, sep } from 'node:path';
import { decode as decodeBmp } from 'fast-bmp';
import { TdsError } from '../errors.js';
import type { Image } from '../types.js';

/** A sequence as src/ingest/folders.ts lists it (declared here too: folders.ts imports this file). */
interface Sequence {
  name: string;
  id: number;
  frames: Array<{ name: string; image: string; label?: string }>;
}

/** Scene names the fundus datasets give images (configs/refuge.yaml names its scenes the same). */
export type FundusScene = 'normal' | 'glaucoma';

const OD_SUFFIX = '_ODsegSoftmap';
const CUP_SUFFIX = '_cupsegSoftmap';
/** Soft-map value from which a pixel is labelled: 2 of the 4 experts (Drishti-GS1's majority). */
export const SOFTMAP_MAJORITY = 128;
/** REFUGE's mask values. */
export const REFUGE_VALUES = { other: 255, disc: 128, cup: 0 } as const;

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();
const natural = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
const stemOf = (f: string) => basename(f, extname(f));

/** The Drishti-GS1 case folders of `dir` (`NAME/NAME.png|jpg` with `NAME/NAME_ODsegSoftmap.png`), as sequences. */
export function drishtiSequences(dir: string): Sequence[] {
  const out: Sequence[] = [];
  for (const d of readdirSync(dir).sort(natural)) {
    const p = join(dir, d);
    if (!isDir(p) || !existsSync(join(p, `${d}${OD_SUFFIX}.png`))) continue;
    const image = ['.png', '.jpg', '.jpeg'].map((e) => join(p, d + e)).find((f) => existsSync(f));
    if (!image) continue;
    const id = Number(/(\d+)$/.exec(d)?.[1] ?? NaN);
    out.push({
      name: d,
      id: Number.isFinite(id) ? id : out.length + 1,
      frames: [{ name: d, image, label: join(p, `${d}${OD_SUFFIX}.png`) }],
    });
  }
  return out;
}

function walk(dir: string, depth: number, out: string[] = []): string[] {
  if (depth < 0) return out;
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => natural(a.name, b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, depth - 1, out);
    else if (e.isFile() || e.isSymbolicLink()) out.push(p);
  }
  return out;
}

/** The REFUGE images of `dir` that have a mask in a `Disc_Cup_Masks` folder, one sequence each (numbered in
 * name order: REFUGE's g0001 and n0001 share numbers). Undefined when `dir` has no such folder. */
export function refugeSequences(dir: string): Sequence[] | undefined {
  const files = walk(dir, 4);
  const masks = files.filter((f) => extname(f).toLowerCase() === '.bmp' && f.split(sep).includes('Disc_Cup_Masks'));
  if (!masks.length) return undefined;
  const byStem = new Map(masks.map((m) => [stemOf(m), m]));
  const images = files.filter(
    (f) => /\.(jpe?g|png)$/i.test(f) && !f.split(sep).includes('Disc_Cup_Masks') && byStem.has(stemOf(f)),
  );
  return images
    .sort((a, b) => natural(stemOf(a), stemOf(b)))
    .map((image, i) => ({
      name: stemOf(image),
      id: i + 1,
      frames: [{ name: stemOf(image), image, label: byStem.get(stemOf(image)) }],
    }));
}

/** True for a Drishti-GS1 disc soft map, whose cup soft map lies beside it. */
export function isDrishtiLabel(path: string): boolean {
  return stemOf(path).endsWith(OD_SUFFIX);
}

/** A Drishti-GS1 label (its disc soft map and the cup soft map beside it) in REFUGE's encoding, majority vote. */
export function drishtiToRefuge(disc: Image, cup: Image, path: string): Image {
  if (disc.width !== cup.width || disc.height !== cup.height)
    throw new TdsError(
      'BAD_LABEL',
      `${path}: the cup soft map is ${cup.width}x${cup.height} but the disc soft map ${disc.width}x${disc.height}`,
      'give the two soft maps of the same image',
    );
  const n = disc.width * disc.height;
  const data = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    const c = cup.data[i * cup.channels] >= SOFTMAP_MAJORITY;
    const d = disc.data[i * disc.channels] >= SOFTMAP_MAJORITY;
    // The cup lies inside the disc; a cup pixel the disc majority missed still counts as cup (and so as disc).
    data[i] = c ? REFUGE_VALUES.cup : d ? REFUGE_VALUES.disc : REFUGE_VALUES.other;
  }
  return { data, width: disc.width, height: disc.height, channels: 1 };
}

/** The cup soft map that belongs to a Drishti-GS1 disc soft map. */
export function drishtiCupPath(discPath: string): string {
  return join(dirname(discPath), `${stemOf(discPath).slice(0, -OD_SUFFIX.length)}${CUP_SUFFIX}${extname(discPath)}`);
}

/** Reads a BMP (REFUGE's masks) as grey or RGB; 8-bit images are mapped through their colour table. */
export function readBmp(path: string): Image {
  const buf = readFileSync(path);
  let d: ReturnType<typeof decodeBmp>;
  try {
    d = decodeBmp(buf);
  } catch (e) {
    throw new TdsError('BAD_IMAGE', `cannot read BMP ${path}: ${(e as Error).message}`, 'give an uncompressed BMP');
  }
  const n = d.width * d.height;
  const px = d.data as Uint8Array;
  if (d.bitsPerPixel === 8) {
    // The colour table (BGRA entries) follows the header; fast-bmp returns the raw indices.
    const headerSize = buf.readUInt32LE(14);
    const table = 14 + headerSize;
    const entries = Math.max(0, Math.min(256, (buf.readUInt32LE(10) - table) / 4));
    const lut = new Uint8Array(256).map((_, i) => i);
    for (let i = 0; i < entries; i++) lut[i] = buf[table + i * 4 + 2]; // the red of a grey table is its grey
    const data = Buffer.alloc(n);
    for (let i = 0; i < n; i++) data[i] = lut[px[i]];
    return { data, width: d.width, height: d.height, channels: 1 };
  }
  if (d.bitsPerPixel === 1) {
    const data = Buffer.alloc(n);
    for (let i = 0; i < n; i++) data[i] = px[i] ? 255 : 0;
    return { data, width: d.width, height: d.height, channels: 1 };
  }
  const ch = d.channels;
  const data = Buffer.alloc(n * 3);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = px[i * ch + c];
  return { data, width: d.width, height: d.height, channels: 3 };
}

/** Finds the glaucoma decision column and the image-number column of a decisions sheet's header row. */
function decisionColumns(header: unknown[]): { id: number; decision: number } | undefined {
  // exceljs rows are sparse arrays (index 0 is a hole): Array.from fills the holes.
  const text = Array.from(header, (v) => (typeof v === 'string' ? v.toLowerCase() : ''));
  const decision = text.findIndex((t) => t.includes('glauc'));
  const id = text.findIndex((t) => t.includes('image'));
  return decision >= 0 && id >= 0 ? { id, decision } : undefined;
}

/** Per-image scenes of a fundus dataset: REFUGE's Glaucoma/Non-Glaucoma folders, or Drishti-GS1's decisions
 * spreadsheet (any .xlsx in the dataset folder or its parent with an image-number and a Normal/Glaucomatous
 * column; G = glaucoma, N = normal), read with exceljs. Keyed by sequence name; undefined when there are none. */
export async function fundusScenes(dir: string, sequences: Sequence[]): Promise<Map<string, FundusScene> | undefined> {
  const out = new Map<string, FundusScene>();
  for (const s of sequences) {
    const parts = dirname(s.frames[0]?.image ?? '').split(sep);
    if (parts.includes('Non-Glaucoma')) out.set(s.name, 'normal');
    else if (parts.includes('Glaucoma')) out.set(s.name, 'glaucoma');
  }
  if (out.size) return out;
  const sheets = [dir, dirname(dir)].flatMap((d) =>
    isDir(d)
      ? readdirSync(d)
          .filter((f) => f.toLowerCase().endsWith('.xlsx'))
          .map((f) => join(d, f))
      : [],
  );
  if (!sheets.length) return undefined;
  const { default: ExcelJS } = await import('exceljs');
  const byNumber = new Map<number, FundusScene>();
  for (const file of sheets) {
    const wb = new ExcelJS.Workbook();
    try {
      await wb.xlsx.readFile(file);
    } catch (e) {
      throw new TdsError('BAD_DATASET', `cannot read ${file}: ${(e as Error).message}`, 'give a valid .xlsx file');
    }
    for (const ws of wb.worksheets) {
      let cols: { id: number; decision: number } | undefined;
      ws.eachRow((row) => {
        const values = row.values as unknown[];
        if (!cols) {
          cols = decisionColumns(values);
          return;
        }
        const num = Number(values[cols.id]);
        const dec = String(values[cols.decision] ?? '')
          .trim()
          .toUpperCase();
        if (Number.isInteger(num) && (dec === 'G' || dec === 'N'))
          byNumber.set(num, dec === 'G' ? 'glaucoma' : 'normal');
      });
    }
  }
  for (const s of sequences) {
    const sc = byNumber.get(s.id);
    if (sc) out.set(s.name, sc);
  }
  return out.size ? out : undefined;
}
