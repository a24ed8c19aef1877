// Bilinear upsampling by an integer factor with half-pixel centres, i.e. PyTorch
// nn.Upsample(mode='bilinear', align_corners=False), which the official TDSNet decoder uses.
// Keras' UpSampling2D does not use half-pixel centres, so exported/imported models would disagree.
import { tf } from './tf.js';

export interface ResizeBilinearConfig {
  factor: number;
  name?: string;
}

export class ResizeBilinear extends tf.layers.Layer {
  static className = 'TdsResizeBilinear';
  readonly factor: number;

  constructor(config: ResizeBilinearConfig) {
    super(config);
    this.factor = config.factor;
  }

  override computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(s[0]) ? s[0] : s) as tf.Shape;
    const f = this.factor;
    return [shape[0], shape[1] == null ? null : shape[1] * f, shape[2] == null ? null : shape[2] * f, shape[3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      return resizeHalfPixel(x, x.shape[1] * this.factor, x.shape[2] * this.factor);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), factor: this.factor };
  }
}
tf.serialization.registerClass(ResizeBilinear);

/** Half-pixel-centre bilinear resize (align_corners=False) of an NHWC tensor. */
export function resizeHalfPixel(x: tf.Tensor4D, height: number, width: number): tf.Tensor4D {
  return tf.image.resizeBilinear(x, [height, width], false, true);
}
