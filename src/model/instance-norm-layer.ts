// Instance normalisation (per image, per channel, over H and W) with a learned scale and shift, then an optional
// ReLU: conv -> IN -> ReLU in the encoder's first stages. Why: a model trained on two or three surgeries meets
// another surgery's light, camera and tissue colour; normalising shallow features per image removes much of that
// appearance (style) while keeping the content (IBN-Net, Pan et al., ECCV 2018: IN in the shallow layers improves
// generalisation to unseen domains). It is ONNX's InstanceNormalization (+ Relu), so the export maps it 1:1.
import { tf } from './tf.js';

/** ONNX InstanceNormalization's default epsilon. */
export const INSTANCE_NORM_EPS = 1e-5;

export interface InstanceNormConfig {
  relu: boolean;
  epsilon?: number;
  name?: string;
}

export class InstanceNorm extends tf.layers.Layer {
  static className = 'TdsInstanceNorm';
  readonly relu: boolean;
  readonly epsilon: number;
  private gamma!: tf.LayerVariable;
  private beta!: tf.LayerVariable;

  constructor(config: InstanceNormConfig) {
    super(config);
    this.relu = config.relu;
    this.epsilon = config.epsilon ?? INSTANCE_NORM_EPS;
  }

  override build(s: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(s[0]) ? s[0] : s) as tf.Shape;
    const c = shape[shape.length - 1] as number;
    this.gamma = this.addWeight('gamma', [c], 'float32', tf.initializers.ones());
    this.beta = this.addWeight('beta', [c], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(s: tf.Shape | tf.Shape[]): tf.Shape {
    return (Array.isArray(s[0]) ? s[0] : s) as tf.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const y = instanceNorm(x, this.gamma.read(), this.beta.read(), this.epsilon);
      return this.relu ? tf.relu(y) : y;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), relu: this.relu, epsilon: this.epsilon };
  }
}
tf.serialization.registerClass(InstanceNorm);

/** (x - mean_hw) / sqrt(var_hw + eps) * gamma + beta for an NHWC tensor; biased variance, as ONNX and PyTorch. */
export function instanceNorm(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor4D {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, [1, 2], true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon))), gamma), beta) as tf.Tensor4D;
  });
}
