// Kernels that training needs and the wasm backend lacks or runs slowly, registered for 'wasm' and built on
// wasm's own Conv2D (XNNPACK):
//   Conv2DBackpropFilter (missing): the filter gradient of conv2dTranspose (the CE block's deconv) and of fused
//   linear convs (the 1x1 seg logits), both of which call this kernel directly; composed from Transpose, Conv2D
//   and Slice.
//   Conv2DBackpropInput (replaced): the input gradient of the fused convs and the deconv's forward pass; wasm's
//   own kernel is a plain loop. The filter flip and the zero-upsampling are host loops (filter-flip.ts).
import { tf } from '../tf.js';
import { forwardGeometry, pair, type Pad } from './conv-geometry.js';
import { flipSwap, zeroUpsampleData } from './filter-flip.js';

type TensorInfo = { dataId: object; shape: number[]; dtype: string };
type KernelArgs = {
  inputs: Record<string, TensorInfo>;
  backend: { disposeData(id: object): void };
  attrs?: Record<string, unknown>;
};
type KernelFn = (args: KernelArgs) => TensorInfo;

function wasmKernel(name: string): KernelFn {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm backend has no ${name} kernel to build on`);
  return k.kernelFunc as unknown as KernelFn;
}

/** Runs `fn` with a list that collects intermediates, and frees them afterwards (the result is kept). */
function composite(
  backend: KernelArgs['backend'],
  fn: (keep: (t: TensorInfo) => TensorInfo) => TensorInfo,
): TensorInfo {
  const temps: TensorInfo[] = [];
  const out = fn((t) => (temps.push(t), t));
  for (const t of temps) if (t !== out) backend.disposeData(t.dataId);
  return out;
}

function conv2dBackpropFilter({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { x, dy } = inputs;
  const a = attrs as {
    strides: number | number[];
    pad: Pad;
    filterShape: number[];
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const strides = pair(a.strides);
  const [kh, kw] = a.filterShape;
  const g = forwardGeometry(x.shape, a.filterShape, strides, [1, 1], a.pad, a.dimRoundingMode);
  const [, H, W] = x.shape;
  const [, Ho, Wo] = dy.shape;
  const bottom = Math.max(0, (Ho - 1) * strides[0] + kh - H - g.top);
  const right = Math.max(0, (Wo - 1) * strides[1] + kw - W - g.left);
  const transpose = wasmKernel('Transpose');
  const conv = wasmKernel('Conv2D');
  const slice = wasmKernel('Slice');
  return composite(backend, (t) => {
    const xt = t(transpose({ inputs: { x }, backend, attrs: { perm: [3, 1, 2, 0] } }));
    const dyt = t(transpose({ inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } }));
    // Filter gradient = conv of x^T with dy^T, forward stride becoming the dilation (forward dilation is 1 here).
    let r = t(
      conv({
        inputs: { x: xt, filter: dyt },
        backend,
        attrs: {
          strides: [1, 1],
          pad: [
            [0, 0],
            [g.top, bottom],
            [g.left, right],
            [0, 0],
          ],
          dataFormat: 'NHWC',
          dilations: strides,
        },
      }),
    );
    if (r.shape[1] !== kh || r.shape[2] !== kw)
      r = t(slice({ inputs: { x: r }, backend, attrs: { begin: [0, 0, 0, 0], size: [-1, kh, kw, -1] } }));
    return transpose({ inputs: { x: r }, backend, attrs: { perm: [1, 2, 0, 3] } });
  });
}

/** What this file needs of the wasm backend beyond disposal: host reads and new tensors from host data. */
type WasmBackend = KernelArgs['backend'] & {
  readSync(id: object): ArrayLike<number>;
  makeOutput(shape: number[], dtype: string, memoryOffset?: number, values?: Float32Array): TensorInfo;
};

/**
 * dL/dx of a stride-s conv (and the forward pass of conv2dTranspose): a stride-1 Conv2D (XNNPACK) of the
 * zero-upsampled dy with the flipped, channel-swapped filter, both prepared on the host (filter-flip.ts).
 * Replaces wasm's own kernel, whose loops took 163 of ~800 ms of a fast-profile training step (the fused
 * convs' input gradients and the deconv): 49 ms for a 3x3 16->32 conv at 96x128 against ~13 ms this way.
 */
function conv2dBackpropInput({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { dy, filter } = inputs;
  const a = attrs as {
    strides: number | number[];
    pad: Pad;
    inputShape: number[];
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const b = backend as WasmBackend;
  const strides = pair(a.strides);
  const [kh, kw, ci, co] = filter.shape;
  const g = forwardGeometry(a.inputShape, filter.shape, strides, [1, 1], a.pad, a.dimRoundingMode);
  const [, H, W] = a.inputShape;
  const conv = wasmKernel('Conv2D');
  const slice = wasmKernel('Slice');
  return composite(backend, (t) => {
    const flipped = t(
      b.makeOutput([kh, kw, co, ci], 'float32', undefined, flipSwap(b.readSync(filter.dataId), filter.shape)),
    );
    const u = zeroUpsampleData(b.readSync(dy.dataId), dy.shape, strides);
    const up = t(b.makeOutput(u.shape, 'float32', undefined, u.data));
    // Pad so the output is exactly H x W; a negative amount means rows the forward conv never read (sliced off).
    const bottom = H - u.shape[1] + g.top;
    const right = W - u.shape[2] + g.left;
    let r = t(
      conv({
        inputs: { x: up, filter: flipped },
        backend,
        attrs: {
          strides: [1, 1],
          pad: [
            [0, 0],
            [kh - 1 - g.top, Math.max(0, bottom)],
            [kw - 1 - g.left, Math.max(0, right)],
            [0, 0],
          ],
          dataFormat: 'NHWC',
          dilations: [1, 1],
        },
      }),
    );
    if (r.shape[1] !== H || r.shape[2] !== W)
      r = slice({ inputs: { x: r }, backend, attrs: { begin: [0, 0, 0, 0], size: [-1, H, W, -1] } });
    return r;
  });
}

// ReluGrad and SigmoidGrad are not registered: in tfjs 4.22 the Relu and Sigmoid gradients are composed from
// Step/Mul and Mul/Sub (tfjs-core gradients/Relu_grad, Sigmoid_grad), which wasm has; no op calls those kernels
// (the cpu backend does not have them either), so a registration would be dead code.
const KERNELS: Record<string, KernelFn> = { Conv2DBackpropFilter: conv2dBackpropFilter };
/** Kernels wasm has but this file replaces (measured slower than their composite; same results to 1e-5). */
const REPLACED: Record<string, KernelFn> = { Conv2DBackpropInput: conv2dBackpropInput };
let replaced = false;

/**
 * Registers the missing training kernels on wasm and replaces the slow ones (idempotent); returns the names of
 * the kernels it added (the replaced ones are not counted).
 */
export function registerWasmTrainingKernels(): string[] {
  const added: string[] = [];
  for (const [name, fn] of Object.entries(KERNELS)) {
    if (tf.getKernel(name, 'wasm')) continue;
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc });
    added.push(name);
  }
  if (!replaced) {
    replaced = true;
    for (const [name, fn] of Object.entries(REPLACED)) {
      if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
      tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc });
    }
  }
  return added;
}
