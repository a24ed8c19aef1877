// Dataset palettes from YAML (configs/*.yaml): classes with colours or grey values, and scenes per sequence.
import { readConfigFile } from './config-file.js';
import { z } from 'zod';
import { TdsError } from '../errors.js';

const rgb = z.tuple([
  z.number().int().min(0).max(255),
  z.number().int().min(0).max(255),
  z.number().int().min(0).max(255),
]);

const classSchema = z
  .object({
    id: z.number().int().min(0).max(255),
    name: z.string().min(1),
    color: rgb,
    /** Grey value in label PNGs, for `format: grey` datasets. */
    value: z.number().int().min(0).max(255).optional(),
  })
  .strict();

const sceneSchema = z
  .object({
    id: z.number().int().min(0),
    name: z.string().min(1),
    sequences: z.array(z.number().int()).default([]),
  })
  .strict();

export const paletteSchema = z
  .object({
    dataset: z.string().min(1),
    labels: z
      .object({
        format: z.enum(['color', 'grey']).default('color'),
        maxUnknownFraction: z.number().min(0).max(1).default(0.01),
      })
      .strict()
      .default({ format: 'color', maxUnknownFraction: 0.01 }),
    classes: z.array(classSchema).min(2),
    scenes: z.array(sceneSchema).min(1),
    train: z.unknown().optional(),
    cv: z.unknown().optional(),
  })
  .superRefine((p, ctx) => {
    p.classes.forEach((c, i) => {
      if (c.id !== i)
        ctx.addIssue({
          code: 'custom',
          path: ['classes', i, 'id'],
          message: `class ids must be 0..N-1 in order; entry ${i} has id ${c.id}`,
        });
      if (p.labels.format === 'grey' && c.value === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['classes', i, 'value'],
          message: `grey-format palettes need a grey value for class ${c.name}`,
        });
    });
    const colours = new Set(p.classes.map((c) => c.color.join(',')));
    if (colours.size !== p.classes.length)
      ctx.addIssue({ code: 'custom', path: ['classes'], message: 'two classes share a colour' });
    const values = p.classes.filter((c) => c.value !== undefined).map((c) => c.value);
    if (new Set(values).size !== values.length)
      ctx.addIssue({ code: 'custom', path: ['classes'], message: 'two classes share a grey value' });
    p.scenes.forEach((s, i) => {
      if (s.id !== i)
        ctx.addIssue({
          code: 'custom',
          path: ['scenes', i, 'id'],
          message: `scene ids must be 0..N-1 in order; entry ${i} has id ${s.id}`,
        });
    });
  });

export type Palette = z.infer<typeof paletteSchema>;
export type PaletteClass = Palette['classes'][number];

/** Validates a parsed palette object; `source` names the file in errors. */
/** Top-level sections a config may have: the palette's, and those other rooms read (train, cv). */
export const CONFIG_SECTIONS = ['dataset', 'labels', 'classes', 'scenes', 'train', 'cv'];

export function parsePalette(obj: unknown, source = 'palette'): Palette {
  if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
    // A misspelt section would otherwise be ignored and its defaults used without a word.
    const unknown = Object.keys(obj).filter((k) => !CONFIG_SECTIONS.includes(k));
    if (unknown.length)
      throw new TdsError(
        'BAD_PALETTE',
        `${source}: unknown top-level key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}`,
        `the sections are ${CONFIG_SECTIONS.join(', ')}; fix the spelling or remove the key`,
      );
  }
  const r = paletteSchema.safeParse(obj);
  if (!r.success) {
    const first = r.error.issues[0];
    const where = first.path.length ? first.path.join('.') : '(root)';
    throw new TdsError(
      'BAD_PALETTE',
      `${source}: ${where}: ${first.message}`,
      'see configs/robot18.yaml for the expected shape: dataset, labels, classes [{id,name,color}], scenes [{id,name,sequences}]',
    );
  }
  return r.data;
}

export function loadPalette(path: string): Palette {
  return parsePalette(readConfigFile(path), path);
}

/** Scene id of a scene name a dataset gives its images (fundus: glaucoma/normal), or -1 when the palette has none
 * of that name. */
export function sceneByName(p: Palette, name: string): number {
  return p.scenes.find((x) => x.name === name)?.id ?? -1;
}

/** Scene id for sequence number `seq`, or -1 when the palette does not list it. */
export function sceneOfSequence(p: Palette, seq: number): number {
  const s = p.scenes.find((x) => x.sequences.includes(seq));
  return s ? s.id : -1;
}
