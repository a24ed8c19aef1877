// Each loss against values computed by hand on tiny tensors (see the arithmetic in the comments).
import { describe, expect, it, beforeAll } from 'vitest';
import { tf } from '../../src/model/tf.js';
import {
  segLoss,
  classLoss,
  sceneLoss,
  syncLoss,
  presenceFromTarget,
  tdsLoss,
  maskPresence,
} from '../../src/model/losses.js';
import { useBackend } from '../../src/model/backend.js';

beforeAll(async () => {
  await useBackend('cpu');
});

const v = (t: tf.Tensor) => t.dataSync()[0];

describe('losses', () => {
  it('hybrid segmentation loss: 0.5 NLL + sum_c 0.5 (1 - (I+e)/(U-I+e))', () => {
    // Two pixels, two classes. p = [.8,.2], [.4,.6]; targets class 0, class 1.
    // NLL = -(ln .8 + ln .6)/2 = 0.366985; jac0 = .8/(2.2-.8) = .571429; jac1 = .6/(1.8-.6) = .5
    // L = .5*.366985 + .5*(1-.571429) + .5*(1-.5) = 0.647778
    const p = tf.tensor4d([0.8, 0.2, 0.4, 0.6], [1, 1, 2, 2]);
    const t = tf.tensor4d([1, 0, 0, 1], [1, 1, 2, 2]);
    expect(v(segLoss(p, t))).toBeCloseTo(0.647778, 5);
  });

  it('class weights weigh the NLL term as torch NLLLoss(weight) does: sum(w_y * -ln p_y) / sum(w_y)', () => {
    // The two pixels above with weights [1, 3]: NLL = -(1 ln .8 + 3 ln .6) / 4 = (.223144 + 1.532474) / 4 = .438904;
    // the Jaccard terms are unweighted (.214286 + .25): L = .5*.438904 + .464286 = 0.683738.
    const p = tf.tensor4d([0.8, 0.2, 0.4, 0.6], [1, 1, 2, 2]);
    const t = tf.tensor4d([1, 0, 0, 1], [1, 1, 2, 2]);
    expect(v(segLoss(p, t, [1, 3]))).toBeCloseTo(0.683738, 5);
    // Equal weights are the unweighted loss, whatever their scale.
    expect(v(segLoss(p, t, [2, 2]))).toBeCloseTo(0.647778, 5);
    expect(() => segLoss(p, t, [1, 2, 3])).toThrow(/3 class weights for 2 classes/);
  });

  it('a class absent from the target adds the constant 0.5, unless its probabilities sum to exactly 0', () => {
    const t = tf.tensor4d([1, 0, 0, 0, 1, 0], [1, 1, 2, 3]);
    const withMass = tf.tensor4d([0.7, 0.2, 0.1, 0.3, 0.6, 0.1], [1, 1, 2, 3]);
    const noMass = tf.tensor4d([0.8, 0.2, 0, 0.4, 0.6, 0], [1, 1, 2, 3]);
    // noMass is the two-class case above with a third, empty class: its term is 0.5*(1 - e/e) = 0.
    expect(v(segLoss(noMass, t))).toBeCloseTo(0.647778, 5);
    // withMass: NLL = -(ln .7 + ln .6)/2 = .433748; jac0 = .7/(2-.7) = .538462; jac1 = .6/(1.8-.6) = .5; jac2 = e/(.2+e) ~ 0
    // L = .216874 + .230769 + .25 + .5 = 1.197643
    expect(v(segLoss(withMass, t))).toBeCloseTo(1.197643, 5);
    // ... and that 0.5 carries no gradient.
    const g = tf.grad((q: tf.Tensor) => {
      const s = tf.sum(tf.mul(q, tf.tensor4d([0, 0, 1, 0, 0, 1], [1, 1, 2, 3])));
      return tf.mul(0.5, tf.sub(1, tf.div(1e-15, tf.add(s, 1e-15))));
    })(withMass);
    expect(Math.max(...Array.from(g.dataSync()).map(Math.abs))).toBeLessThan(1e-12);
  });

  it('class BCE with presence from the ground truth, background included', () => {
    const t = tf.tensor4d([1, 0, 0, 1, 0, 0], [1, 1, 2, 3]);
    expect(Array.from(presenceFromTarget(t).dataSync())).toEqual([1, 0, 0]);
    // logits [0, 2], presence [1, 0]: (-ln s(0) - ln(1 - s(2)))/2 = (.693147 + 2.126928)/2 = 1.410038
    expect(v(classLoss(tf.tensor2d([[0, 2]]), tf.tensor2d([[1, 0]])))).toBeCloseTo(1.410038, 5);
  });

  it('scene cross-entropy', () => {
    // -ln(e^3 / (e^1 + e^2 + e^3)) = ln(1 + e^-1 + e^-2) = 0.407606
    expect(v(sceneLoss(tf.tensor2d([[1, 2, 3]]), tf.tensor1d([2])))).toBeCloseTo(0.407606, 5);
  });

  it('sync: hard presence is any prob > 0.5; soft is the spatial max', () => {
    const p = tf.tensor4d([0.8, 0.2, 0.4, 0.6], [1, 1, 2, 2]);
    expect(Array.from(maskPresence(p, 'hard').dataSync())).toEqual([1, 1]);
    const q = tf.tensor4d([0.8, 0.2, 0.55, 0.45], [1, 1, 2, 2]);
    expect(Array.from(maskPresence(q, 'hard').dataSync())).toEqual([1, 0]);
    expect(Array.from(maskPresence(q, 'soft').dataSync()).map((x) => +x.toFixed(4))).toEqual([0.8, 0.45]);
    // hard target [1,0] with logits [0,2] is the class-loss case above
    expect(v(syncLoss(tf.tensor2d([[0, 2]]), q, 'hard'))).toBeCloseTo(1.410038, 5);
  });

  it('sync gradients: hard reaches only the class logits; soft also reaches the segmentation probabilities', () => {
    const q = tf.tensor4d([0.8, 0.2, 0.55, 0.45], [1, 1, 2, 2]);
    const logits = tf.tensor2d([[0.3, -0.2]]);
    for (const mode of ['hard', 'soft'] as const) {
      const [gLogits, gProbs] = tf.grads((l: tf.Tensor, p: tf.Tensor) =>
        syncLoss(l as tf.Tensor2D, p as tf.Tensor4D, mode),
      )([logits, q]);
      const maxAbs = (t: tf.Tensor) => Math.max(...Array.from(t.dataSync()).map(Math.abs));
      expect(maxAbs(gLogits)).toBeGreaterThan(0.1);
      if (mode === 'hard') expect(maxAbs(gProbs)).toBe(0);
      else expect(maxAbs(gProbs)).toBeGreaterThan(0.1);
    }
  });

  it('total = seg + a class + b sync + g scene', () => {
    const p = tf.tensor4d([0.8, 0.2, 0.4, 0.6], [1, 1, 2, 2]);
    const t = tf.tensor4d([1, 0, 0, 1], [1, 1, 2, 2]);
    const out = { probs: p, classLogits: tf.tensor2d([[0, 2]]), sceneLogits: tf.tensor2d([[1, 2, 3]]) };
    const terms = tdsLoss(out, { oneHot: t, sceneIds: tf.tensor1d([2]) }, { a: 0.2, b: 0.6, g: 0.2 });
    const want = v(terms.seg) + 0.2 * v(terms.cls) + 0.6 * v(terms.sync) + 0.2 * v(terms.scene);
    expect(v(terms.total)).toBeCloseTo(want, 6);
    // GT presence [1,1] vs logits [0,2]: (ln 2 + ln(1+e^-2))/2 = (.693147 + .126928)/2 = .410038
    expect(v(terms.cls)).toBeCloseTo(0.410038, 5);
    expect(v(terms.scene)).toBeCloseTo(0.407606, 5);
  });
});
