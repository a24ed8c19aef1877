// Validation after each epoch: the challenge metric (mean IoU over the classes present in each frame, averaged
// over frames) at the training size, presence accuracy of the class head and scene accuracy.
import { tf } from '../model/tf.js';
import { preprocessInto, resizeLabels, type Normalization } from '../model/preprocess.js';
import { SegmentationMetrics } from '../eval/metrics.js';
import { argmaxLabels } from '../postprocess/argmax.js';
import type { Sample, SampleCache } from './dataset.js';

export interface ValScores {
  challengeIoU: number;
  generalJaccard: number;
  presenceAcc: number;
  /** NaN when no validation frame has a known scene. */
  sceneAcc: number;
  frames: number;
}

export async function validate(
  model: tf.LayersModel,
  samples: Sample[],
  cache: SampleCache,
  size: [number, number],
  norm: Normalization,
  classNames: string[],
): Promise<ValScores> {
  const [H, W] = size;
  const C = classNames.length;
  const metrics = new SegmentationMetrics(classNames);
  let presenceRight = 0;
  let sceneRight = 0;
  let sceneKnown = 0;
  const buf = new Float32Array(H * W * 3);
  for (const s of samples) {
    const loaded = await cache.get(s);
    preprocessInto(loaded.image, H, W, norm, 'nhwc', buf);
    const gt = resizeLabels(loaded.labels, loaded.image.width, loaded.image.height, H, W);
    const [probs, cls, scene] = tf.tidy(() => {
      const out = model.predict(tf.tensor4d(buf, [1, H, W, 3])) as tf.Tensor[];
      return [
        out[0].dataSync() as Float32Array,
        tf.sigmoid(out[1]).dataSync() as Float32Array,
        out[2].dataSync() as Float32Array,
      ];
    });
    const pred = argmaxLabels(probs, C);
    metrics.update(pred, gt, s.sequence);
    const present = new Uint8Array(C);
    for (const v of gt) present[v] = 1;
    for (let k = 0; k < C; k++) if ((cls[k] > 0.5 ? 1 : 0) === present[k]) presenceRight++;
    if (s.scene >= 0) {
      sceneKnown++;
      let best = 0;
      for (let k = 1; k < scene.length; k++) if (scene[k] > scene[best]) best = k;
      if (best === s.scene) sceneRight++;
    }
  }
  const r = metrics.result();
  return {
    challengeIoU: r.metrics.challengeIoU,
    generalJaccard: r.metrics.generalJaccard,
    presenceAcc: samples.length ? presenceRight / (samples.length * C) : NaN,
    sceneAcc: sceneKnown ? sceneRight / sceneKnown : NaN,
    frames: samples.length,
  };
}
