// NIfTI-1 volumes in and out (.nii and .nii.gz): read with nifti-reader-js, intensities scaled by the header's
// scl_slope/scl_inter; label volumes written as uint8 in the geometry of the volume they came from (dims,
// voxel sizes, qform and sform kept), gzip-compressed for .nii.gz, through a temp name and a rename.
import { readFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { endianness } from 'node:os';
import * as nifti from 'nifti-reader-js';
import { TdsError } from '../errors.js';
import { makeDirs, writeAtomic } from '../fs-safe.js';
import { dirname } from 'node:path';

export interface Volume {
  /** Voxels along x, y, z (x fastest in `data`). */
  dims: [number, number, number];
  /** Voxel size in the header's units (mm for BraTS). */
  spacing: [number, number, number];
  /** Voxel -> world (4x4, row-major): the sform when set, else the qform's. */
  affine: number[][];
  /** Intensities (scaled by scl_slope/scl_inter) or labels, x fastest. */
  data: Float32Array;
  /** The parsed header, kept so that outputs written from this volume share its geometry. */
  header: nifti.NIFTI1;
}

/** Typed arrays that read a little-endian file's voxels in place (this platform is little-endian too). */
const views: Record<number, new (b: ArrayBuffer, offset: number, length: number) => ArrayLike<number>> = {
  [nifti.NIFTI1.TYPE_UINT8]: Uint8Array,
  [nifti.NIFTI1.TYPE_INT8]: Int8Array,
  [nifti.NIFTI1.TYPE_INT16]: Int16Array,
  [nifti.NIFTI1.TYPE_UINT16]: Uint16Array,
  [nifti.NIFTI1.TYPE_INT32]: Int32Array,
  [nifti.NIFTI1.TYPE_UINT32]: Uint32Array,
  [nifti.NIFTI1.TYPE_FLOAT32]: Float32Array,
  [nifti.NIFTI1.TYPE_FLOAT64]: Float64Array,
};
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/** Voxel by voxel for the other byte order. */
const readers: Record<number, (v: DataView, i: number, le: boolean) => number> = {
  [nifti.NIFTI1.TYPE_UINT8]: (v, i) => v.getUint8(i),
  [nifti.NIFTI1.TYPE_INT8]: (v, i) => v.getInt8(i),
  [nifti.NIFTI1.TYPE_INT16]: (v, i, le) => v.getInt16(i * 2, le),
  [nifti.NIFTI1.TYPE_UINT16]: (v, i, le) => v.getUint16(i * 2, le),
  [nifti.NIFTI1.TYPE_INT32]: (v, i, le) => v.getInt32(i * 4, le),
  [nifti.NIFTI1.TYPE_UINT32]: (v, i, le) => v.getUint32(i * 4, le),
  [nifti.NIFTI1.TYPE_FLOAT32]: (v, i, le) => v.getFloat32(i * 4, le),
  [nifti.NIFTI1.TYPE_FLOAT64]: (v, i, le) => v.getFloat64(i * 8, le),
};

/** Reads a 3D NIfTI-1 volume (2D files read as one slice); refuses 4D series and other formats by name. */
export async function readNifti(path: string): Promise<Volume> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (e) {
    throw new TdsError('ENOENT_INPUT', `cannot read ${path}: ${(e as Error).message}`, 'check the path');
  }
  let buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer;
  try {
    if (nifti.isCompressed(buf)) {
      const u = gunzipSync(raw);
      buf = u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
    }
  } catch (e) {
    throw new TdsError(
      'BAD_IMAGE',
      `${path} is not a readable gzip file: ${(e as Error).message}`,
      'give a .nii or .nii.gz volume',
    );
  }
  if (!nifti.isNIFTI1(buf))
    throw new TdsError(
      'BAD_IMAGE',
      `${path} is not a NIfTI-1 volume${nifti.isNIFTI2(buf) ? ' (it is NIfTI-2)' : ''}`,
      'convert it to NIfTI-1 (.nii/.nii.gz), e.g. with nibabel or c3d',
    );
  const header = nifti.readHeader(buf) as nifti.NIFTI1;
  const d = header.dims;
  const extra = d.slice(4, 1 + d[0]).filter((n) => n > 1);
  if (extra.length)
    throw new TdsError(
      'BAD_IMAGE',
      `${path} holds a ${d[0]}D series (dims ${d.slice(1, 1 + d[0]).join('x')}); tds reads one 3D volume per file`,
      'split the series into one file per volume',
    );
  const dims: [number, number, number] = [d[1] || 1, d[0] >= 2 ? d[2] || 1 : 1, d[0] >= 3 ? d[3] || 1 : 1];
  const n = dims[0] * dims[1] * dims[2];
  const read = readers[header.datatypeCode];
  if (!read)
    throw new TdsError(
      'BAD_IMAGE',
      `${path}: NIfTI datatype ${header.datatypeCode} is not supported`,
      'store it as (u)int8/16/32 or float32/64',
    );
  const img = nifti.readImage(header, buf);
  if (img.byteLength < (n * header.numBitsPerVoxel) / 8)
    throw new TdsError(
      'BAD_IMAGE',
      `${path} is truncated: ${img.byteLength} bytes of voxels for ${dims.join('x')}`,
      'the file is incomplete; copy or export it again',
    );
  // NIfTI: a slope of 0 means "no scaling".
  const slope = header.scl_slope || 1;
  const inter = header.scl_slope ? header.scl_inter || 0 : 0;
  const data = new Float32Array(n);
  if (header.littleEndian === LITTLE_ENDIAN_HOST) {
    // readImage returns a fresh buffer starting at the voxels: aligned for any element size.
    const src = new views[header.datatypeCode](img, 0, n);
    for (let i = 0; i < n; i++) data[i] = src[i] * slope + inter;
  } else {
    const view = new DataView(img);
    for (let i = 0; i < n; i++) data[i] = read(view, i, header.littleEndian) * slope + inter;
  }
  const p = header.pixDims;
  const spacing: [number, number, number] = [Math.abs(p[1]) || 1, Math.abs(p[2]) || 1, Math.abs(p[3]) || 1];
  return { dims, spacing, affine: header.affine.map((r) => [...r]), data, header };
}

/** A header for a new volume with these dims and voxel sizes (identity orientation, scanner space). */
export function niftiHeader(
  dims: [number, number, number],
  spacing: [number, number, number] = [1, 1, 1],
): nifti.NIFTI1 {
  const h = new nifti.NIFTI1();
  h.littleEndian = true;
  h.dims = [3, ...dims, 1, 1, 1, 1];
  h.pixDims = [1, ...spacing, 1, 1, 1, 1];
  h.xyzt_units = 2; // mm
  h.qform_code = 0;
  h.sform_code = 1;
  h.affine = [
    [spacing[0], 0, 0, 0],
    [0, spacing[1], 0, 0],
    [0, 0, spacing[2], 0],
    [0, 0, 0, 1],
  ];
  h.magic = 'n+1';
  return h;
}

/**
 * Writes a uint8 label volume (x fastest) with the geometry of `like` (dims must match): its voxel sizes, qform
 * and sform are kept, the data type becomes uint8 without scaling. `.gz` paths are gzip-compressed.
 */
export async function writeNiftiLabels(path: string, labels: Uint8Array, like: Volume | nifti.NIFTI1): Promise<void> {
  const src = 'header' in like ? like.header : like;
  const n = src.dims[1] * (src.dims[2] || 1) * (src.dims[3] || 1);
  if (labels.length !== n)
    throw new TdsError(
      'BAD_OUTPUT',
      `cannot write ${path}: ${labels.length} labels for a ${src.dims.slice(1, 4).join('x')} volume`,
      'write labels of the volume they were predicted for',
    );
  const h = Object.assign(new nifti.NIFTI1(), src, {
    datatypeCode: nifti.NIFTI1.TYPE_UINT8,
    numBitsPerVoxel: 8,
    scl_slope: 1,
    scl_inter: 0,
    cal_min: 0,
    cal_max: 0,
    vox_offset: 352,
    magic: 'n+1',
    isHDR: false,
    extensions: [],
    extensionFlag: [0, 0, 0, 0],
    littleEndian: true,
    description: 'tds segmentation',
  });
  const head = Buffer.from(h.toArrayBuffer(false));
  const file = Buffer.concat([head, Buffer.from(labels.buffer, labels.byteOffset, labels.length)]);
  makeDirs(dirname(path));
  await writeAtomic(path, /\.gz$/i.test(path) ? gzipSync(file, { level: 6 }) : file);
}
