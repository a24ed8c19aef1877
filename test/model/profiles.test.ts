import { describe, expect, it, beforeAll } from 'vitest';
import { tf } from '../../src/model/tf.js';
import { buildTdsNet, encoderLayerNames } from '../../src/model/profiles.js';
import { countGflops } from '../../src/model/flops.js';
import { ResizeBilinear, resizeHalfPixel } from '../../src/model/resize-layer.js';
import { instanceNorm } from '../../src/model/instance-norm-layer.js';
import { useBackend } from '../../src/model/backend.js';

beforeAll(async () => {
  await useBackend('cpu');
});

describe('TDSNet profiles', () => {
  it('paper: exactly 22,122,331 parameters, 14,714,688 in the VGG16 encoder, ~106 GFLOP at 256x320', () => {
    const m = buildTdsNet({ profile: 'paper', numClasses: 12, numScenes: 3, height: 256, width: 320 });
    try {
      expect(m.countParams()).toBe(22_122_331);
      const names = encoderLayerNames(m);
      expect(names).toHaveLength(13);
      expect(names[0]).toBe('block1_conv1');
      expect(names[12]).toBe('block5_conv3');
      expect(names.reduce((n, x) => n + m.getLayer(x).countParams(), 0)).toBe(14_714_688);
      expect(m.getLayer('ce_dilate16').getConfig().dilationRate).toEqual([16, 16]);
      expect(m.outputs.map((o) => o.shape)).toEqual([
        [null, 256, 320, 12],
        [null, 12],
        [null, 3],
      ]);
      const g = countGflops(m, 256, 320);
      expect(g).toBeGreaterThan(105);
      expect(g).toBeLessThan(108);
      expect(countGflops(m, 512, 640)).toBeCloseTo(g * 4, 0);
    } finally {
      m.dispose();
    }
  });

  it('fast: same decomposition and outputs at <= 3 GFLOP per 256x320 frame', () => {
    const m = buildTdsNet({ profile: 'fast', numClasses: 12, numScenes: 3, height: 256, width: 320 });
    try {
      for (const name of [
        'ce_deconv',
        'ce_dilate1',
        'ce_dilate16',
        'ce_latent',
        't01',
        't02',
        't12',
        'seg',
        'class',
        'scene',
      ])
        expect(m.getLayer(name)).toBeDefined();
      expect(m.outputs.map((o) => o.shape)).toEqual([
        [null, 256, 320, 12],
        [null, 12],
        [null, 3],
      ]);
      expect(countGflops(m, 256, 320)).toBeLessThanOrEqual(3);
      const out = m.predict(tf.randomNormal([1, 256, 320, 3], 0, 1, 'float32', 3)) as tf.Tensor[];
      const sums = tf.sum(out[0], -1);
      expect(tf.max(tf.abs(tf.sub(sums, 1))).dataSync()[0]).toBeLessThan(1e-5);
      tf.dispose([...out, sums]);
    } finally {
      m.dispose();
    }
  });

  it.each([
    [250, 320],
    [256, 300],
    [0, 320],
  ])('input %ix%i (not multiples of 32) is refused with a clear error', (h, w) => {
    expect(() => buildTdsNet({ profile: 'fast', numClasses: 12, numScenes: 3, height: h, width: w })).toThrow(
      /multiples of 32.*got/,
    );
  });

  /** The fast profile, 3 classes, 1 scene, 64x96, seed 2, plus the options under test. */
  const tinyFast = (o: { instanceNormBlocks?: number; encoderWidth?: number } = {}) =>
    buildTdsNet({ profile: 'fast', numClasses: 3, numScenes: 1, height: 64, width: 96, seed: 2, ...o });

  it('instance norm in the first two encoder blocks: conv (no bias) -> IN -> ReLU; each channel of each image normalised', () => {
    const base = tinyFast();
    const m = tinyFast({ instanceNormBlocks: 2 });
    try {
      const inLayers = m.layers.filter((l) => l.getClassName() === 'TdsInstanceNorm').map((l) => l.name);
      expect(inLayers).toEqual(['block1_conv1_in', 'block2_conv1_in', 'block2_conv2_in']);
      // 16 + 32 + 32 channels: the conv biases go, a scale and a shift per channel come
      expect(m.countParams() - base.countParams()).toBe(80);
      expect(m.getLayer('block1_conv1').getConfig().useBias).toBe(false);
      expect(m.getLayer('block3_conv1').getConfig().useBias).toBe(true);
      // two images of very different brightness: after IN (before the ReLU) every channel has mean 0, variance 1
      const x = tf.concat([
        tf.randomUniform([1, 64, 96, 3], 0, 0.2, 'float32', 3),
        tf.randomUniform([1, 64, 96, 3], 2, 5, 'float32', 4),
      ]);
      const conv = m.getLayer('block1_conv1').apply(x) as tf.Tensor4D;
      const layer = m.getLayer('block1_conv1_in');
      const [gamma, beta] = layer.getWeights();
      const y = instanceNorm(conv, gamma, beta, 1e-5);
      const { mean, variance } = tf.moments(y, [1, 2]);
      expect(Math.max(...Array.from(mean.dataSync()).map(Math.abs))).toBeLessThan(1e-4);
      Array.from(variance.dataSync()).forEach((v) => expect(v).toBeCloseTo(1, 2));
      const relu = layer.apply(conv) as tf.Tensor;
      expect(tf.min(relu).dataSync()[0]).toBe(0);
      expect(() => tinyFast({ instanceNormBlocks: 6 })).toThrow(/instanceNormBlocks/);
    } finally {
      m.dispose();
      base.dispose();
    }
  });

  it('encoderWidth scales the encoder channels (multiples of 8) and leaves the heads and outputs as they are', () => {
    const base = tinyFast();
    const m = tinyFast({ encoderWidth: 1.5, instanceNormBlocks: 4 });
    try {
      const filters = (net: typeof m) => encoderLayerNames(net).map((n) => net.getLayer(n).getConfig().filters);
      expect(filters(base)).toEqual([16, 32, 32, 64, 64, 128, 128, 128]);
      expect(filters(m)).toEqual([24, 48, 48, 96, 96, 192, 192, 192]);
      expect(m.getLayer('ce_deconv').getConfig().filters).toBe(64);
      expect(m.getLayer('seg_logits').getConfig().filters).toBe(3);
      const x = tf.zeros([1, 64, 96, 3]);
      const [seg, cls, scene] = m.predict(x) as tf.Tensor[];
      expect(seg.shape).toEqual([1, 64, 96, 3]);
      expect(cls.shape).toEqual([1, 3]);
      expect(scene.shape).toEqual([1, 1]);
      tf.dispose([x, seg, cls, scene]);
      expect(m.countParams()).toBeGreaterThan(1.5 * base.countParams());
      expect(() => tinyFast({ encoderWidth: 0 })).toThrow(/encoderWidth/);
    } finally {
      m.dispose();
      base.dispose();
    }
  });

  it('an unknown profile is refused', () => {
    expect(() =>
      buildTdsNet({ profile: 'huge' as 'fast', numClasses: 12, numScenes: 3, height: 256, width: 320 }),
    ).toThrow(/unknown profile "huge".*paper, fast/);
  });

  it('bilinear upsampling matches PyTorch align_corners=False (half-pixel centres)', () => {
    // torch.nn.functional.interpolate(torch.tensor([[[[1.,2.],[3.,4.]]]]), scale_factor=2, mode='bilinear', align_corners=False)
    const want = [
      [1.0, 1.25, 1.75, 2.0],
      [1.5, 1.75, 2.25, 2.5],
      [2.5, 2.75, 3.25, 3.5],
      [3.0, 3.25, 3.75, 4.0],
    ];
    const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const y = resizeHalfPixel(x, 4, 4);
    expect(Array.from(y.dataSync())).toEqual(want.flat());
    const layer = new ResizeBilinear({ factor: 2 });
    const z = layer.apply(x) as tf.Tensor;
    expect(Array.from(z.dataSync())).toEqual(want.flat());
    tf.dispose([x, y, z]);
  });
});
