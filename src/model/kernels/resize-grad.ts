// The gradient of half-pixel bilinear resizing, registered over tfjs's. In tfjs 4.22 both the cpu and the
// wasm ResizeBilinearGrad kernels ignore halfPixelCenters (they differentiate the legacy asymmetric resize),
// and cpu's returns a [batch, width, height, depth] shape for non-square inputs. Bilinear resizing is
// separable, Y = A_h X A_w^T per channel, so dX = A_h^T dY A_w: two matmuls with interpolation matrices
// built once per size, on every backend.
import { tf } from '../tf.js';

const cache = new Map<string, tf.Tensor2D>();

/** [out, in] interpolation matrix of one axis (align_corners=False, half_pixel_centers=True; TF and PyTorch alike). */
export function interpolationMatrix(
  inSize: number,
  outSize: number,
  alignCorners: boolean,
  halfPixel: boolean,
): tf.Tensor2D {
  const key = `${inSize}:${outSize}:${alignCorners}:${halfPixel}`;
  let m = cache.get(key);
  if (m) return m;
  const a = new Float32Array(outSize * inSize);
  const scale = alignCorners && outSize > 1 ? (inSize - 1) / (outSize - 1) : inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = halfPixel ? Math.max(0, (o + 0.5) * scale - 0.5) : o * scale;
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const w = src - i0;
    a[o * inSize + i0] += 1 - w;
    a[o * inSize + i1] += w;
  }
  m = tf.keep(tf.tensor2d(a, [outSize, inSize]));
  cache.set(key, m);
  return m;
}

/** dL/dX for Y = resizeBilinear(X) given dY [N,Ho,Wo,C]. */
export function resizeBilinearGrad(
  dy: tf.Tensor4D,
  inShape: number[],
  alignCorners: boolean,
  halfPixel: boolean,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, ho, wo, c] = dy.shape;
    const [, hi, wi] = inShape;
    const ah = interpolationMatrix(hi, ho, alignCorners, halfPixel);
    const aw = interpolationMatrix(wi, wo, alignCorners, halfPixel);
    // rows: [N*Wo*C, Ho] x A_h [Ho, Hi]
    const t1 = tf.matMul(tf.reshape(tf.transpose(dy, [0, 2, 3, 1]), [n * wo * c, ho]), ah);
    // cols: [N*Hi*C, Wo] x A_w [Wo, Wi]
    const t2 = tf.transpose(tf.reshape(t1, [n, wo, c, hi]), [0, 3, 2, 1]);
    const t3 = tf.matMul(tf.reshape(t2, [n * hi * c, wo]), aw);
    return tf.transpose(tf.reshape(t3, [n, hi, c, wi]), [0, 1, 3, 2]) as tf.Tensor4D;
  });
}

let registered = false;

export function registerResizeBilinearGradient(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: 'ResizeBilinear',
    inputsToSave: ['images'],
    gradFunc: (dy, saved, attrs) => {
      const [images] = saved;
      const a = attrs as unknown as { alignCorners: boolean; halfPixelCenters: boolean };
      return {
        images: () => resizeBilinearGrad(dy as tf.Tensor4D, images.shape, !!a.alignCorners, !!a.halfPixelCenters),
      };
    },
  });
}
