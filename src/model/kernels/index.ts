// Gradients that tfjs gets wrong or refuses (dilated Conv2D and Conv3D, wasm's Conv3D input gradient, half-pixel
// resize), on every backend, and the
// kernels wasm lacks. Registered on first use by the training step (not on import: importing tds leaves a host
// application's tfjs registry alone).
import { registerConv2dGradient } from './conv2d-grad.js';
import { registerConv3dGradient } from './conv3d-grad.js';
import { registerResizeBilinearGradient } from './resize-grad.js';
import { registerWasmTrainingKernels } from './wasm-kernels.js';

let added: string[] | undefined;

/** Registers the project's gradients and wasm training kernels once; returns the wasm kernels it added. */
export function ensureTrainingKernels(): string[] {
  if (!added) {
    registerConv2dGradient();
    registerConv3dGradient();
    registerResizeBilinearGradient();
    added = registerWasmTrainingKernels();
  }
  return added;
}
