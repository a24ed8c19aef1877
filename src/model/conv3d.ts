// A 3D convolution built from 2D ones, for training 3D networks on the CPU: tfjs's Conv3D kernels are direct loops
// (measured 0.17 GFLOP/s on wasm, 0.26 on cpu, for a 32^3 x 16 -> 16 3x3x3 layer) while its Conv2D runs on
// XNNPACK (12.7 GFLOP/s on wasm, same machine minute). y[d] = sum over depth taps a of conv2d(x[d + a*dil - front],
// W[a]): the depth slices become the batch of kd 2D convolutions, whose outputs are shifted along depth and
// summed. Gradients flow through conv2d (the project's own, src/model/kernels/conv2d-grad.ts), pad, slice and add.
// Exported to ONNX as one Conv with a 3D kernel (ONNX Runtime has a native one). Depth stride 1 only: the 3D
// profile downsamples with max-pooling.
import { tf } from './tf.js';

export type Triple = [number, number, number];

export function conv3dViaConv2d(
  x: tf.Tensor5D,
  w: tf.Tensor5D,
  strides: Triple | number = 1,
  pad: 'same' | 'valid' = 'same',
  dilations: Triple | number = 1,
): tf.Tensor5D {
  const s: Triple = typeof strides === 'number' ? [strides, strides, strides] : strides;
  const d: Triple = typeof dilations === 'number' ? [dilations, dilations, dilations] : dilations;
  if (s[0] !== 1) throw new RangeError(`conv3dViaConv2d: depth stride must be 1, got ${s[0]} (pool instead)`);
  return tf.tidy(() => {
    const [n, depth, h, wd, ci] = x.shape;
    const [kd, kh, kw, , co] = w.shape;
    const info = tf.backend_util.computeConv3DInfo(x.shape, w.shape, s, d, pad);
    const { front, back } = info.padInfo;
    const outD = info.outDepth;
    // Padded along depth as rank 3 [N, depth, rest], so its gradient (a slice) is contiguous too.
    const xp =
      front || back
        ? tf.pad(tf.reshape(x, [n, depth, h * wd * ci]), [
            [0, 0],
            [front, back],
            [0, 0],
          ])
        : x;
    const dp = depth + front + back;
    const x2 = tf.reshape(xp, [n * dp, h, wd, ci]) as tf.Tensor4D;
    const parts: tf.Tensor[] = [];
    for (let a = 0; a < kd; a++) {
      const wa = tf.reshape(tf.slice(w, [a, 0, 0, 0, 0], [1, kh, kw, ci, co]), [kh, kw, ci, co]) as tf.Tensor4D;
      const z = tf.conv2d(x2, wa, [s[1], s[2]], pad, 'NHWC', [d[1], d[2]]);
      // Rank 3 [N, depth, rest]: the slice (and its gradient) is one contiguous block per batch item, where a
      // rank-5 slice took wasm's generic strided path (40% of a 3D training step).
      const hwc = z.shape[1] * z.shape[2] * co;
      parts.push(tf.slice(tf.reshape(z, [n, dp, hwc]), [0, a * d[0], 0], [n, outD, hwc]));
    }
    const sum = parts.length === 1 ? parts[0] : tf.addN(parts);
    return tf.reshape(sum, [n, outD, info.outHeight, info.outWidth, co]) as tf.Tensor5D;
  });
}
