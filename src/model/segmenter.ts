// The Segmenter: one interface over inference engines, created by a factory (tfjs-models style). The interface
// and the engines' shared base live in segmenter-base.ts, so the engines never import this factory back.
import { TdsError } from '../errors.js';
import { ENGINES, type Segmenter, type SegmenterOptions } from './segmenter-base.js';
import { readTdsJson } from './model-dir.js';

export {
  BaseSegmenter,
  ENGINES,
  FrameClock,
  type EngineName,
  type ExecutionProvider,
  type Segmentation,
  type Segmenter,
  type SegmenterInfo,
  type SegmenterOptions,
} from './segmenter-base.js';

/** Loads `modelDir` and returns a Segmenter on the chosen engine. */
export async function createSegmenter(modelDir: string, opts: SegmenterOptions = {}): Promise<Segmenter> {
  const engine = opts.engine ?? 'ort';
  const members = readTdsJson(modelDir).members;
  if (members)
    throw new TdsError(
      'BAD_MODEL',
      `${modelDir} averages ${members.length} models (${members.join(', ')}); it has no network of its own`,
      'run it through the ensemble (tds process, tds serve and createEnsemble do), or use one member folder',
    );
  if (engine === 'ort') return (await import('./ort-engine.js')).createOrtSegmenter(modelDir, opts);
  if (engine === 'tfjs') return (await import('./tfjs-engine.js')).createTfjsSegmenter(modelDir, opts);
  throw new TdsError('BAD_OPTION', `unknown engine ${JSON.stringify(engine)}`, `use one of ${ENGINES.join(', ')}`);
}
