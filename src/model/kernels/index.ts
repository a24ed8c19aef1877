// Import before training: gradients that tfjs gets wrong or refuses (dilated Conv2D, half-pixel resize), on
// every backend, and the kernels wasm lacks.
import { registerConv2dGradient } from './conv2d-grad.js';
import { registerResizeBilinearGradient } from './resize-grad.js';
import { registerWasmTrainingKernels } from './wasm-kernels.js';

registerConv2dGradient();
registerResizeBilinearGradient();
export const addedWasmKernels = registerWasmTrainingKernels();
