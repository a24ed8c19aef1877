// The `train` section of a volume config (BraTS: `dataset: brats2015` / `brats2018`): which modalities, the 3D
// network's size, patches, augmentation and the staged TDS schedule counted in epochs of `stepsPerEpoch` patches.
import { z } from 'zod';
import { TdsError } from '../errors.js';
import { MODALITIES } from '../ingest/brats.js';
import type { Palette } from '../ingest/palette.js';
import { DEFAULT_TDS3D, TDS3D_MULTIPLE } from '../model/tds3d.js';

const mult8 = z
  .number()
  .int()
  .positive()
  .refine((v) => v % TDS3D_MULTIPLE === 0, `must be a multiple of ${TDS3D_MULTIPLE} (three halvings)`);

export const train3dSchema = z
  .object({
    /** Input channels in order, by modality name (2015: flair, t1c; 2018: t1, t1c, t2, flair). */
    modalities: z.array(z.enum(MODALITIES as [string, ...string[]])).min(1),
    /** 2: the network works at half the input resolution (BraTS 1 mm -> 2 mm): 8x fewer voxels. */
    voxelScale: z.union([z.literal(1), z.literal(2)]).default(2),
    /** Training and sliding-window patch (x, y, z) in model voxels. */
    patch: z.tuple([mult8, mult8, mult8]).default([48, 48, 48]),
    channels: z
      .tuple([
        z.number().int().positive(),
        z.number().int().positive(),
        z.number().int().positive(),
        z.number().int().positive(),
      ])
      .default([...DEFAULT_TDS3D.channels]),
    latent: z.number().int().positive().default(DEFAULT_TDS3D.latent),
    dilations: z
      .array(z.number().int().positive())
      .min(1)
      .default([...DEFAULT_TDS3D.dilations]),
    seed: z.number().int().min(0).default(1),
    /** Patches per epoch (one patch per step). */
    stepsPerEpoch: z.number().int().positive().default(40),
    /** Fraction of patches centred on a tumour voxel (the rest anywhere in the brain): tumours are ~5% of it. */
    foreground: z.number().min(0).max(1).default(0.5),
    augment: z
      .object({
        /** Left-right mirror (x axis) probability: brains are near-symmetric, tumours are on either side. */
        flip: z.number().min(0).max(1).default(0.5),
        /** Per-modality intensity scale 1 ± this and shift ± this (in z-score units), inside the brain. */
        intensity: z.number().min(0).max(1).default(0.1),
      })
      .strict()
      .default({ flip: 0.5, intensity: 0.1 }),
    /** Cases held out of training by folder name (tds cv sets this per fold). */
    holdOut: z.array(z.string()).default([]),
    stages: z
      .array(
        z
          .object({
            name: z.string(),
            a: z.number().min(0),
            b: z.number().min(0),
            lr: z.number().positive(),
            untilEpoch: z.number().int().positive(),
          })
          .strict(),
      )
      .min(1),
    inference: z
      .object({
        /** Sliding-window patch (x, y, z); null: the training patch. The network is convolutional, so a larger
         * window than it trained on runs fewer, larger passes with less of each at a zero-padded edge. */
        patch: z.tuple([mult8, mult8, mult8]).nullable().default(null),
        overlap: z.number().min(0).max(0.9).default(0.5),
        blend: z.enum(['gaussian', 'constant']).default('gaussian'),
        minVoxels: z.number().int().min(0).default(0),
      })
      .strict()
      .default({ patch: null, overlap: 0.5, blend: 'gaussian', minVoxels: 0 }),
  })
  .strict()
  .superRefine((t, ctx) => {
    t.stages.forEach((s, i) => {
      if (i && s.untilEpoch <= t.stages[i - 1].untilEpoch)
        ctx.addIssue({ code: 'custom', path: ['stages', i, 'untilEpoch'], message: 'stage ends must increase' });
    });
  });

export type Train3dConfig = z.infer<typeof train3dSchema>;

/** True for volume datasets (the 3D path of train/process/cv). */
export function isVolumeDataset(p: Palette): boolean {
  return /^brats/i.test(p.dataset);
}

export function parseTrain3d(obj: unknown, source: string): Train3dConfig {
  const r = train3dSchema.safeParse(obj ?? {});
  if (!r.success) {
    const i = r.error.issues[0];
    throw new TdsError(
      'BAD_OPTION',
      `${source}: train.${i.path.join('.')}: ${i.message}`,
      'see configs/brats15.yaml for the train section of a volume dataset',
    );
  }
  return r.data;
}
