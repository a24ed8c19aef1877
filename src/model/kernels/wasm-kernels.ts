// Kernels that training needs and the wasm backend lacks, registered for 'wasm' and composed from wasm's own
// kernels (Conv2D/XNNPACK, Transpose, Slice): no JavaScript loops over pixels.
//   Conv2DBackpropFilter: the filter gradient of conv2dTranspose (the CE block's deconv) and of fused
//   linear convs (the 1x1 seg logits), both of which call this kernel directly.
import { tf } from '../tf.js';
import { forwardGeometry, pair, type Pad } from './conv-geometry.js';

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

// ReluGrad and SigmoidGrad are not registered: in tfjs 4.22 the Relu and Sigmoid gradients are composed from
// Step/Mul and Mul/Sub (tfjs-core gradients/Relu_grad, Sigmoid_grad), which wasm has; no op calls those kernels
// (the cpu backend does not have them either), so a registration would be dead code.
const KERNELS: Record<string, KernelFn> = { Conv2DBackpropFilter: conv2dBackpropFilter };

/** Registers the missing training kernels on wasm (idempotent; never replaces a kernel wasm already has). */
export function registerWasmTrainingKernels(): string[] {
  const added: string[] = [];
  for (const [name, fn] of Object.entries(KERNELS)) {
    if (tf.getKernel(name, 'wasm')) continue;
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc });
    added.push(name);
  }
  return added;
}
