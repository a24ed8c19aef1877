// The one place tfjs is imported, so every room shares one tfjs-core instance and the wasm backend is registered.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export { tf };

/**
 * Production mode: skips debug checks and the cpu backend's "install tfjs-node" banner on stderr; which backend
 * runs is reported by the segmenter instead (tfjs-node cannot install without network access here). Called by
 * useBackend and the CLI, not on import: importing tds leaves a host application's tfjs settings alone.
 */
export function tfjsProdMode(): void {
  if (!tf.env().getBool('PROD')) tf.enableProdMode();
}
