// The one preprocessing module for training and inference: resize to the model's input size (half-pixel
// bilinear) and normalise with the model's mean/std (ImageNet by default, as the official code does).
import { tf } from './tf.js';
import { resizeHalfPixel } from './resize-layer.js';
import { TdsError } from '../errors.js';
import type { Image } from '../types.js';

export interface Normalization {
  /** Per-channel mean on the 0..1 scale. */
  mean: [number, number, number];
  std: [number, number, number];
}

/** torchvision ImageNet statistics, used by the official TDSNet data pipeline. */
export const IMAGENET: Normalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

export function assertRgb(img: Image, source = 'image'): void {
  if (img.channels !== 3) throw new TdsError('BAD_IMAGE', `${source} has ${img.channels} channel(s); the model needs RGB (3)`, 'convert the image to RGB');
  if (img.data.length !== img.width * img.height * 3) throw new TdsError('BAD_IMAGE', `${source}: ${img.data.length} bytes do not make a ${img.width}x${img.height} RGB image`, 'pass {data, width, height, channels: 3} with width*height*3 bytes');
}

/** Images -> normalised NHWC float tensor at height x width. The caller owns (disposes) the result. */
export function toInput(images: Image[], height: number, width: number, norm: Normalization = IMAGENET): tf.Tensor4D {
  return tf.tidy(() => {
    const batch = images.map((img, i) => {
      assertRgb(img, `image ${i}`);
      let x = tf.tensor3d(new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.length), [img.height, img.width, 3], 'int32').toFloat().div(255) as tf.Tensor3D;
      if (img.height !== height || img.width !== width) x = resizeHalfPixel(x.expandDims(0) as tf.Tensor4D, height, width).squeeze([0]) as tf.Tensor3D;
      return x.sub(tf.tensor1d(norm.mean)).div(tf.tensor1d(norm.std));
    });
    return tf.stack(batch) as tf.Tensor4D;
  });
}
