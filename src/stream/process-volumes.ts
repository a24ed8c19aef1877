// `tds process` on MRI volumes with a 3D model: a case folder (one NIfTI file per modality) or a folder of them;
// each case's labels go to OUT/<case>/seg.nii.gz in the geometry of its input volumes (what `tds eval` reads), and
// OUT/run.json lists the cases with their times. A case is written whole or not at all (temp name, rename);
// an interrupt stops between cases and --resume skips the cases already written.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TdsError } from '../errors.js';
import { writeAtomic } from '../fs-safe.js';
import { findCases, loadCase, scanCase, type Modality } from '../ingest/brats.js';
import { writeNiftiLabels } from '../ingest/nifti.js';
import { createVolumeSegmenter } from '../model/segment-volume.js';

export interface VolumeRunOptions {
  model: string;
  out: string;
  resume?: boolean;
  signal?: AbortSignal;
  threads?: number;
  onCase?: (done: number, total: number, name: string) => void;
}

export interface VolumeCaseRecord {
  case: string;
  file: string;
  dims: [number, number, number];
  patches: number;
  inferMs: number;
  totalMs: number;
  removedVoxels: number;
  resumed?: boolean;
}

export interface VolumeRunSummary {
  cases: VolumeCaseRecord[];
  interrupted: boolean;
  seconds: number;
}

export async function processVolumes(input: string, o: VolumeRunOptions): Promise<VolumeRunSummary> {
  const t0 = performance.now();
  const cases = findCases(input);
  if (!cases.length)
    throw new TdsError(
      'BAD_DATASET',
      `${input} holds no case folder with NIfTI volumes`,
      'give a case folder (one .nii.gz per modality) or a folder of them',
    );
  const seg = await createVolumeSegmenter(o.model, { threads: o.threads });
  const records: VolumeCaseRecord[] = [];
  let interrupted = false;
  try {
    for (const [i, c] of cases.entries()) {
      const file = join(o.out, c.name, 'seg.nii.gz');
      if (existsSync(file)) {
        if (!o.resume)
          throw new TdsError(
            'BAD_OUTPUT',
            `${file} already exists`,
            'pass --resume to keep it, or choose another --out',
          );
        records.push({
          case: c.name,
          file,
          dims: [0, 0, 0],
          patches: 0,
          inferMs: 0,
          totalMs: 0,
          removedVoxels: 0,
          resumed: true,
        });
        continue;
      }
      if (o.signal?.aborted) {
        interrupted = true;
        break;
      }
      const loaded = await loadCase(scanCase(c.dir, seg.meta.modalities as Modality[]));
      const r = await seg.segment(loaded);
      await writeNiftiLabels(file, r.labels, loaded.reference);
      records.push({
        case: c.name,
        file,
        dims: loaded.reference.dims,
        patches: r.patches,
        inferMs: Math.round(r.inferMs),
        totalMs: Math.round(r.totalMs),
        removedVoxels: r.removedVoxels,
      });
      o.onCase?.(i + 1, cases.length, c.name);
    }
  } finally {
    await seg.dispose();
  }
  const summary = { cases: records, interrupted, seconds: (performance.now() - t0) / 1000 };
  await writeAtomic(join(o.out, 'run.json'), JSON.stringify({ model: o.model, input, ...summary }, null, 2) + '\n');
  return summary;
}
