// The one place tfjs is imported, so every room shares one tfjs-core instance and the wasm backend is registered.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

// Production mode: skips debug checks and the cpu backend's "install tfjs-node" banner on stderr; which backend
// runs is reported by the segmenter instead (tfjs-node cannot install without network access here).
tf.enableProdMode();

export { tf };
