// tfjs backend selection: wasm (default, XNNPACK), cpu (pure JS), or tensorflow (tfjs-node[-gpu], optional).
import { createRequire } from 'node:module';
import { tf, tfjsProdMode } from './tf.js';
import { TdsError } from '../errors.js';

export type BackendName = 'wasm' | 'cpu' | 'tensorflow';
export const BACKENDS: readonly BackendName[] = ['wasm', 'cpu', 'tensorflow'];

const require = createRequire(import.meta.url);

/** Loads tfjs-node-gpu or tfjs-node when installed; returns the package that registered 'tensorflow'. */
function loadTensorflow(): string | undefined {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require(pkg);
      return pkg;
    } catch {
      // not installed here: try the next
    }
  }
  return undefined;
}

/** Switches tfjs to `name` and returns the backend that actually runs. Throws when it is unavailable. */
export async function useBackend(name: BackendName = 'wasm'): Promise<string> {
  if (!BACKENDS.includes(name))
    throw new TdsError('BAD_OPTION', `unknown backend ${JSON.stringify(name)}`, `use one of ${BACKENDS.join(', ')}`);
  tfjsProdMode();
  if (name === 'tensorflow' && !tf.findBackend('tensorflow') && !loadTensorflow()) {
    throw new TdsError(
      'BAD_OPTION',
      'backend tensorflow needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node, and neither is installed',
      'use --backend wasm (default) or cpu; on a machine that can download libtensorflow, npm install @tensorflow/tfjs-node-gpu',
    );
  }
  if (tf.getBackend() !== name) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new TdsError('BAD_OPTION', `tfjs backend ${name} failed to initialise`, 'use --backend cpu');
  }
  await tf.ready();
  return tf.getBackend();
}
