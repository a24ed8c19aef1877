// The training section of a config YAML: the staged schedule (official defaults, shared/DESIGN.md §3),
// validation split by sequence, augmentation, batch size, sync mode. Validated at start-up.
import { readConfigFile } from '../ingest/config-file.js';
import { z } from 'zod';
import { TdsError } from '../errors.js';
import { parsePalette, type Palette } from '../ingest/palette.js';

const stageSchema = z
  .object({
    name: z.string().min(1),
    /** alpha: class loss weight. */
    a: z.number().min(0),
    /** beta: sync loss weight. */
    b: z.number().min(0),
    /** gamma: scene loss weight. */
    g: z.number().min(0),
    lr: z.number().positive(),
    /** Cumulative: the stage runs until this epoch (official: 10, 30, 50, 70). */
    untilEpoch: z.number().int().positive(),
  })
  .strict();

/** Official schedule (xuhuaren/TDSNet train.sh): seg; +class; +sync; +scene. */
export const OFFICIAL_STAGES: z.infer<typeof stageSchema>[] = [
  { name: 'seg', a: 0, b: 0, g: 0, lr: 1e-4, untilEpoch: 10 },
  { name: 'class', a: 0.2, b: 0, g: 0, lr: 1e-4, untilEpoch: 30 },
  { name: 'sync', a: 0.2, b: 0.6, g: 0, lr: 5e-5, untilEpoch: 50 },
  { name: 'scene', a: 0.2, b: 0.6, g: 0.2, lr: 5e-5, untilEpoch: 70 },
];

export const trainSchema = z
  .object({
    profile: z.enum(['fast', 'paper']).default('fast'),
    /** Instance-normalise the convs of the first N encoder blocks (src/model/instance-norm-layer.ts); null = none. */
    instanceNormBlocks: z.number().int().min(0).max(5).nullable().default(null),
    /** Encoder channels scaled by this factor (src/model/profiles.ts encoderWidth); null = the profile's own. */
    encoderWidth: z.number().positive().max(4).nullable().default(null),
    /** Input height and width (multiples of 32). */
    size: z.tuple([z.number().int(), z.number().int()]).default([256, 320]),
    /** Official code: 1. */
    batchSize: z.number().int().positive().default(1),
    syncMode: z.enum(['hard', 'soft']).default('hard'),
    /** Per-class weights of the seg loss's NLL term, in class-id order (null: all 1, the official loss). */
    segClassWeights: z.array(z.number().positive()).nullable().default(null),
    seed: z.number().int().min(0).default(1),
    /** Validation sequences by number (ROBOT18 fold 0 = 1..4). Never a split by frame. */
    validation: z
      .object({ sequences: z.array(z.number().int()) })
      .strict()
      .default({ sequences: [1, 2, 3, 4] }),
    augment: z
      .object({
        hflip: z.number().min(0).max(1).default(0.5),
        vflip: z.number().min(0).max(1).default(0.5),
        /** Random zoom: crop a window 1/s of the frame (s in [min,max], s >= 1) and resize it to the training size. */
        scaleCrop: z
          .object({ min: z.number().min(1), max: z.number().min(1) })
          .strict()
          .nullable()
          .default(null),
        // Real-endoscopy augmentation (src/train/augment.ts). Any of these set replaces scaleCrop's resize with
        // one affine resample; all null/0 keeps the synthetic recipe's path.
        /** Zoom range; < 1 zooms out into a black surround, > 1 crops in. */
        zoom: z.object({ min: z.number().positive(), max: z.number().positive() }).strict().nullable().default(null),
        /** Rotation, uniform in [-rotate, rotate] degrees. */
        rotate: z.number().min(0).max(180).default(0),
        /** Brightness/contrast/saturation as +/- fractions, hue in degrees. */
        jitter: z
          .object({
            brightness: z.number().min(0),
            contrast: z.number().min(0),
            saturation: z.number().min(0),
            hue: z.number().min(0),
          })
          .strict()
          .nullable()
          .default(null),
        /** Gaussian blur with probability p, sigma up to maxSigma pixels. */
        blur: z
          .object({ p: z.number().min(0).max(1), maxSigma: z.number().min(0.3) })
          .strict()
          .nullable()
          .default(null),
        /** Gaussian noise with probability p, standard deviation up to sigma (0..255). */
        noise: z
          .object({ p: z.number().min(0).max(1), sigma: z.number().min(0) })
          .strict()
          .nullable()
          .default(null),
        /** Specular highlights with probability p, up to max of them. */
        specular: z
          .object({ p: z.number().min(0).max(1), max: z.number().int().min(1) })
          .strict()
          .nullable()
          .default(null),
        /** Smoke haze with probability p, opacity up to max. */
        smoke: z
          .object({ p: z.number().min(0).max(1), max: z.number().min(0).max(1) })
          .strict()
          .nullable()
          .default(null),
        /** Black border outside a circle/octagon (the scope's field of view), labelled background, with probability p. */
        border: z
          .object({ p: z.number().min(0).max(1) })
          .strict()
          .nullable()
          .default(null),
        /** Crop around the region of these classes with probability p (two-stage models, e.g. the optic disc):
         * window = scale x the region's larger side, centre shifted by up to shift x that side. */
        roi: z
          .object({
            p: z.number().min(0).max(1),
            classes: z.array(z.number().int().min(0)).min(1),
            scale: z.object({ min: z.number().positive(), max: z.number().positive() }).strict(),
            shift: z.number().min(0).default(0),
          })
          .strict()
          .nullable()
          .default(null),
        /** Recolour the pixels of these classes (the instruments) with probability p: mean grey level drawn in
         * [min, max] (0..255), contrast and saturation rescaled. */
        tool: z
          .object({
            p: z.number().min(0).max(1),
            classes: z.array(z.number().int().min(0)).min(1),
            min: z.number().min(0).max(255),
            max: z.number().min(0).max(255),
          })
          .strict()
          .nullable()
          .default(null),
        /** Paste the pixels of these classes from another training frame with probability p (copy-paste). */
        paste: z
          .object({ p: z.number().min(0).max(1), classes: z.array(z.number().int().min(0)).min(1) })
          .strict()
          .nullable()
          .default(null),
      })
      .strict()
      .default({
        hflip: 0.5,
        vflip: 0.5,
        scaleCrop: null,
        zoom: null,
        rotate: 0,
        jitter: null,
        blur: null,
        noise: null,
        specular: null,
        smoke: null,
        border: null,
        roi: null,
        tool: null,
        paste: null,
      }),
    /** Which epoch of each stage is kept: `best` on the validation sequences, or `last` (for cross-validation,
     * where the held-out sequence must not choose the model). */
    select: z.enum(['best', 'last']).default('best'),
    stages: z.array(stageSchema).min(1).default(OFFICIAL_STAGES),
    /** Stochastic weight averaging (Izmailov et al. 2018, arXiv 1803.05407): the final model's weights are the
     * mean of the end-of-epoch weights of epochs fromEpoch..last (every one of them kept in checkpoints/, so a
     * resumed run still averages them all); null = the last stage's kept epoch alone. */
    swa: z.object({ fromEpoch: z.number().int().positive() }).strict().nullable().default(null),
    /** Preprocessed training samples kept in memory across epochs, in MiB. */
    cacheMB: z.number().int().min(0).default(2048),
  })
  .strict()
  .superRefine((t, ctx) => {
    t.stages.forEach((s, i) => {
      const prev = t.stages[i - 1];
      if (prev && s.untilEpoch <= prev.untilEpoch) {
        ctx.addIssue({
          code: 'custom',
          path: ['stages', i, 'untilEpoch'],
          message: `stage ${s.name} ends at epoch ${s.untilEpoch}, not after stage ${prev.name} (${prev.untilEpoch}); epochs are cumulative and must increase`,
        });
      }
    });
    if (t.size.some((v) => v % 32 || v < 32))
      ctx.addIssue({
        code: 'custom',
        path: ['size'],
        message: `size must be multiples of 32, got ${t.size.join('x')}`,
      });
    if (t.augment.scaleCrop && t.augment.scaleCrop.max < t.augment.scaleCrop.min)
      ctx.addIssue({ code: 'custom', path: ['augment', 'scaleCrop'], message: 'max must be >= min' });
    if (!t.validation.sequences.length && t.select !== 'last')
      ctx.addIssue({
        code: 'custom',
        path: ['validation', 'sequences'],
        message: 'no validation sequences: the best epoch cannot be chosen; give sequences or set train.select: last',
      });
    const last = t.stages[t.stages.length - 1]?.untilEpoch ?? 0;
    if (t.swa && t.swa.fromEpoch > last)
      ctx.addIssue({
        code: 'custom',
        path: ['swa', 'fromEpoch'],
        message: `swa.fromEpoch ${t.swa.fromEpoch} is after the last epoch (${last}); give an epoch of the schedule`,
      });
    if (t.swa && t.select !== 'last' && t.validation.sequences.length)
      ctx.addIssue({
        code: 'custom',
        path: ['swa'],
        message: 'swa averages every epoch from fromEpoch on and cannot keep a best epoch; set train.select: last',
      });
    if (t.augment.zoom && t.augment.zoom.max < t.augment.zoom.min)
      ctx.addIssue({ code: 'custom', path: ['augment', 'zoom'], message: 'max must be >= min' });
    if (t.augment.tool && t.augment.tool.max < t.augment.tool.min)
      ctx.addIssue({ code: 'custom', path: ['augment', 'tool'], message: 'max must be >= min' });
  });

export type TrainConfig = z.infer<typeof trainSchema>;
export type Stage = TrainConfig['stages'][number];

export interface RunConfig {
  palette: Palette;
  train: TrainConfig;
  /** The file it came from. */
  source: string;
}

/** Loads palette + train section from one YAML file. */
export function loadRunConfig(path: string): RunConfig {
  const obj = readConfigFile(path);
  const palette = parsePalette(obj, path);
  const r = trainSchema.safeParse(obj.train ?? {});
  if (!r.success) {
    const i = r.error.issues[0];
    throw new TdsError(
      'BAD_OPTION',
      `${path}: train.${i.path.join('.')}: ${i.message}`,
      'see configs/robot18.yaml for the train section and its defaults',
    );
  }
  const w = r.data.segClassWeights;
  if (w && w.length !== palette.classes.length)
    throw new TdsError(
      'BAD_OPTION',
      `${path}: train.segClassWeights: ${w.length} weights for ${palette.classes.length} classes (${palette.classes.map((c) => c.name).join(', ')})`,
      'give one weight per class, in class-id order',
    );
  return { palette, train: r.data, source: path };
}

export interface TrainOverrides {
  profile?: 'fast' | 'paper';
  size?: [number, number];
  epochsScale?: number;
  batchSize?: number;
  /** Hold these sequences out of training (they become the validation set, for monitoring only) and keep
   * each stage's last epoch; an empty list trains on everything. Used by cross-validation. */
  holdOut?: number[];
}

/** --epochs-scale: every stage end scaled by `f`, rounded, kept strictly increasing and >= 1. */
export function scaleStageEnds<S extends { untilEpoch: number }>(stages: S[], f: number): S[] {
  if (!(f > 0))
    throw new TdsError(
      'BAD_OPTION',
      `--epochs-scale must be a positive number, got ${f}`,
      'e.g. --epochs-scale 0.1 for a quick run',
    );
  let last = 0;
  return stages.map((s) => {
    const until = Math.max(last + 1, Math.round(s.untilEpoch * f));
    last = until;
    return { ...s, untilEpoch: until };
  });
}

/** Applies CLI overrides; --epochs-scale scales every stage end (rounded, kept strictly increasing, >= 1). */
export function applyOverrides(t: TrainConfig, o: TrainOverrides): TrainConfig {
  const out: TrainConfig = structuredClone(t);
  if (o.profile) out.profile = o.profile;
  if (o.size) {
    if (o.size.some((v) => v % 32 || v < 32))
      throw new TdsError(
        'BAD_OPTION',
        `--size must be HxW with multiples of 32, got ${o.size.join('x')}`,
        'e.g. --size 256x320',
      );
    out.size = o.size;
  }
  if (o.batchSize) out.batchSize = o.batchSize;
  if (o.holdOut) {
    out.validation = { sequences: o.holdOut };
    out.select = 'last';
  }
  if (o.epochsScale !== undefined) {
    out.stages = scaleStageEnds(out.stages, o.epochsScale);
    // The averaged epochs scale with the schedule (a quick run averages its own last part).
    if (out.swa)
      out.swa = {
        fromEpoch: Math.min(Math.max(1, Math.round(out.swa.fromEpoch * o.epochsScale)), out.stages.at(-1)!.untilEpoch),
      };
  }
  return out;
}
