// Resuming a `tds process` run: a folder holding another run's outputs is refused unless --resume, and then
// only with the same settings; temp files of the interruption are removed; a frame counts as done when its
// labels.ndjson line and both its PNGs are whole.
import { existsSync, readFileSync } from 'node:fs';
import { open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { TdsError } from '../errors.js';
import type { FrameLine } from './frame-line.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** The IEND chunk every whole PNG ends with (length 0, type, CRC). */
const PNG_IEND = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);

/** True when `path` is a whole PNG: its signature and its closing IEND chunk are there, so a truncated one is
 * redone on --resume. Reads 20 bytes, not the image: resuming a long recording must not decode every frame. */
async function pngIntact(path: string): Promise<boolean> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    const { size } = await fh.stat();
    if (size < PNG_SIGNATURE.length + PNG_IEND.length) return false;
    const head = Buffer.alloc(8);
    const tail = Buffer.alloc(12);
    await fh.read(head, 0, 8, 0);
    await fh.read(tail, 0, 12, size - 12);
    return head.equals(PNG_SIGNATURE) && tail.equals(PNG_IEND);
  } catch {
    return false;
  } finally {
    await fh?.close();
  }
}

/** Frames an earlier run finished: a labels.ndjson line whose two PNGs are intact. */
async function readDoneLines(out: string): Promise<Map<string, FrameLine>> {
  const p = join(out, 'labels.ndjson');
  const done = new Map<string, FrameLine>();
  if (!existsSync(p)) return done;
  for (const line of readFileSync(p, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let l: FrameLine;
    try {
      l = JSON.parse(line) as FrameLine;
    } catch {
      continue; // a line cut short by an interruption: that frame is redone
    }
    if (
      (await pngIntact(join(out, 'masks', `${l.name}.png`))) &&
      (await pngIntact(join(out, 'color', `${l.name}.png`)))
    )
      done.set(l.name, l);
  }
  return done;
}

/** Temp files an interrupted run left (writes are temp-then-rename): removed before resuming. */
async function removeTempFiles(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.tmp')) await unlink(join(e.parentPath, e.name)).catch(() => {});
  }
}

/** The frames an earlier run in `out` finished (empty for a fresh folder); refuses what must not be resumed. */
export async function resumePoint(
  out: string,
  settings: Record<string, unknown>,
  resume: boolean,
): Promise<Map<string, FrameLine>> {
  const runJson = join(out, 'run.json');
  if (!existsSync(runJson) && !existsSync(join(out, 'labels.ndjson'))) return new Map();
  if (!resume)
    throw new TdsError(
      'BAD_OUTPUT',
      `${out} holds the outputs of another run`,
      'pass --resume to continue it, or choose another --out (results are never overwritten silently)',
    );
  const prev = existsSync(runJson)
    ? (JSON.parse(readFileSync(runJson, 'utf8')) as { settings?: Record<string, unknown> }).settings
    : undefined;
  if (prev && JSON.stringify(prev) !== JSON.stringify(settings)) {
    // Both sides' keys: a setting only one run has (color: false, a range) differs too.
    const keys = [...new Set([...Object.keys(prev), ...Object.keys(settings)])];
    const diff = keys.filter((k) => JSON.stringify(prev[k]) !== JSON.stringify(settings[k]));
    throw new TdsError(
      'BAD_OPTION',
      `cannot resume ${out}: it was made with different ${diff.join(', ')}`,
      'resume with the same input, model and options, or choose another --out',
    );
  }
  await removeTempFiles(out);
  return readDoneLines(out);
}
