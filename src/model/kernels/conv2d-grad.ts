// A Conv2D gradient that supports dilation, registered over tfjs-core's (which throws "dilation rates
// greater than 1 are not yet supported in gradients" on every backend). Built only from forward ops that
// every backend has (conv2d, pad, reshape, transpose, reverse, slice), so it also runs on wasm.
//   dx: conv2d(dy zero-upsampled by the stride, W flipped spatially with in/out swapped, same dilation,
//       mirrored pads) (tfjs allows dilation > 1 only with stride 1, so at most one of them applies).
//   dW: conv2d(x^T [Ci,H,W,N], dy^T [Ho,Wo,N,Co]) with stride and dilation swapped -> [Ci,kh,kw,Co] -> [kh,kw,Ci,Co].
import { tf } from '../tf.js';
import { forwardGeometry, pair, type Pad } from './conv-geometry.js';
import { flipSwap } from './filter-flip.js';

type Attrs = {
  strides: number | number[];
  pad: Pad;
  dilations?: number | number[];
  dataFormat?: string;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

/**
 * dL/dW of y = conv2d(x, W) as one forward convolution: x^T [Ci,H,W,N] correlated with dy^T [Ho,Wo,N,Co], the
 * forward stride becoming the dilation and the forward dilation the stride -> [Ci,kh,kw,Co] -> [kh,kw,Ci,Co].
 * (An im2col + matmul variant was measured 2x slower on wasm: its strided slices and transposed matmul are slow there.)
 */
export function conv2dFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: number[],
  strides: [number, number],
  dilations: [number, number],
  pad: Pad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw] = filterShape;
    const g = forwardGeometry(x.shape, filterShape, strides, dilations, pad, dimRoundingMode);
    const [, H, W] = x.shape;
    const [, Ho, Wo] = dy.shape;
    // Bottom/right padding that makes the output exactly kh x kw (rows the forward conv never read are dropped).
    const bottom = Math.max(0, (Ho - 1) * strides[0] + (kh - 1) * dilations[0] + 1 - H - g.top);
    const right = Math.max(0, (Wo - 1) * strides[1] + (kw - 1) * dilations[1] + 1 - W - g.left);
    const xt = tf.transpose(x, [3, 1, 2, 0]);
    const dyt = tf.transpose(dy, [1, 2, 0, 3]);
    let r = tf.conv2d(
      xt as tf.Tensor4D,
      dyt as tf.Tensor4D,
      dilations,
      [
        [0, 0],
        [g.top, bottom],
        [g.left, right],
        [0, 0],
      ],
      'NHWC',
      strides,
    );
    if (r.shape[1] !== kh || r.shape[2] !== kw) r = tf.slice(r, [0, 0, 0, 0], [-1, kh, kw, -1]);
    return tf.transpose(r, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

/** Inserts s-1 zeros between rows and columns of dy (the transposed conv of a stride-s forward conv). */
function zeroUpsample(dy: tf.Tensor4D, s: [number, number]): tf.Tensor4D {
  if (s[0] === 1 && s[1] === 1) return dy;
  const [n, h, w, c] = dy.shape;
  const e = tf.reshape(dy, [n, h, 1, w, 1, c]);
  const p = tf.pad(e, [
    [0, 0],
    [0, 0],
    [0, s[0] - 1],
    [0, 0],
    [0, s[1] - 1],
    [0, 0],
  ]);
  const r = tf.reshape(p, [n, h * s[0], w * s[1], c]);
  return tf.slice(r, [0, 0, 0, 0], [n, (h - 1) * s[0] + 1, (w - 1) * s[1] + 1, c]) as tf.Tensor4D;
}

/**
 * dL/dx of y = conv2d(x, W): a stride-1 correlation of the zero-upsampled dy with the flipped, channel-swapped
 * kernel at the forward dilation. Forward convs only (XNNPACK on wasm): wasm's own Conv2DBackpropInput was
 * measured at 444 of 570 ms of a fast-profile backward pass.
 */
export function conv2dInputGrad(
  xShape: number[],
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  strides: [number, number],
  dilations: [number, number],
  pad: Pad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const g = forwardGeometry(xShape, filter.shape, strides, dilations, pad, dimRoundingMode);
    const [kh, kw, ci, co] = filter.shape;
    const eh = (kh - 1) * dilations[0] + 1;
    const ew = (kw - 1) * dilations[1] + 1;
    const up = zeroUpsample(dy, strides);
    // Flipped on the host: tf.reverse was the slowest op of a wasm training step (see filter-flip.ts).
    const flipped = tf.tensor4d(flipSwap(filter.dataSync(), filter.shape), [kh, kw, co, ci]);
    const [, H, W] = xShape;
    const top = eh - 1 - g.top;
    const left = ew - 1 - g.left;
    // Pad so the output is exactly H x W; a negative amount means rows the forward conv never read (sliced off).
    const bottom = H - up.shape[1] + g.top;
    const right = W - up.shape[2] + g.left;
    let r = tf.conv2d(
      up,
      flipped,
      1,
      [
        [0, 0],
        [top, Math.max(0, bottom)],
        [left, Math.max(0, right)],
        [0, 0],
      ],
      'NHWC',
      dilations,
    );
    if (r.shape[1] !== H || r.shape[2] !== W) r = tf.slice(r, [0, 0, 0, 0], [-1, H, W, -1]);
    return r as tf.Tensor4D;
  });
}

let registered = false;

/** Registers the dilation-capable Conv2D gradient (idempotent). */
export function registerConv2dGradient(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: 'Conv2D',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const a = attrs as unknown as Attrs;
      const strides = pair(a.strides);
      const dilations = pair(a.dilations);
      const d = dy as tf.Tensor4D;
      return {
        x: () => conv2dInputGrad(x.shape, d, filter, strides, dilations, a.pad, a.dimRoundingMode),
        filter: () => conv2dFilterGrad(x, d, filter.shape, strides, dilations, a.pad, a.dimRoundingMode),
      };
    },
  });
}
