// Exports the 3D TDS network (tds3d.ts) to ONNX (opset 17), NCDHW: input `volume` [batch, M, D, H, W] with
// symbolic spatial dims (multiples of 8), outputs `seg` (class probabilities [batch, C, D, H, W]) and `class`
// (region presence logits [batch, R]). Each forward op has a native ONNX op: Conv with a 3D kernel (ONNX Runtime
// runs it natively, unlike tfjs), AveragePool [2,1,1] for the depth pooling, Resize nearest x2 for upsampling.
import { tf } from './tf.js';
import { OnnxGraph } from './onnx-graph.js';
import { tds3dWeightShapes, type Tds3dSpec, type Tds3dWeights } from './tds3d.js';

/** [kd,kh,kw,ci,co] -> [co,ci,kd,kh,kw]. */
function toOidhw(t: tf.Tensor): { data: Float32Array; dims: number[] } {
  const [kd, kh, kw, ci, co] = t.shape;
  const src = t.dataSync() as Float32Array;
  const out = new Float32Array(src.length);
  for (let a = 0; a < kd; a++)
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let i = 0; i < ci; i++)
          for (let o = 0; o < co; o++)
            out[(((o * ci + i) * kd + a) * kh + y) * kw + x] = src[(((a * kh + y) * kw + x) * ci + i) * co + o];
  return { data: out, dims: [co, ci, kd, kh, kw] };
}

export function exportTds3dOnnx(w: Tds3dWeights, s: Tds3dSpec): Uint8Array {
  const g = new OnnxGraph();
  // every weight exists (a missing one is a programming error, not a user's)
  for (const [name] of tds3dWeightShapes(s)) if (!w.has(name)) throw new Error(`3D TDS weight ${name} is missing`);
  const x = g.input('volume', ['batch', s.modalities, 'depth', 'height', 'width']);
  const conv = (name: string, t: string, o: { stride?: number; dilation?: number; relu?: boolean } = {}) => {
    const k = toOidhw(w.get(`${name}/kernel`)!);
    const bias = w.get(`${name}/bias`)!;
    const ks = k.dims[2];
    const st = o.stride ?? 1;
    const dil = o.dilation ?? 1;
    // tfjs 'same' on even sizes: stride 1 pads (k-1)*d/2 each side; stride 2 pads 0 before, 1 after (k 3)
    const eff = (ks - 1) * dil + 1;
    const total = (axisStride: number) => Math.max(eff - axisStride, 0);
    const before = (axisStride: number) => Math.floor(total(axisStride) / 2);
    const pads = [
      before(1),
      before(st),
      before(st),
      total(1) - before(1),
      total(st) - before(st),
      total(st) - before(st),
    ];
    const y = g.node(
      'Conv',
      [
        t,
        g.constant(`${name}/kernel`, k.data, k.dims),
        g.constant(`${name}/bias`, new Float32Array(bias.dataSync()), [bias.shape[0]]),
      ],
      { kernel_shape: [ks, ks, ks], strides: [1, st, st], dilations: [dil, dil, dil], pads },
    );
    return o.relu === false ? y : g.node('Relu', [y]);
  };
  const pool = (t: string) => g.node('AveragePool', [t], { kernel_shape: [2, 1, 1], strides: [2, 1, 1] });
  const up = (t: string) =>
    g.node('Resize', [t, '', g.constant(g.name('scales'), new Float32Array([1, 1, 2, 2, 2]), [5])], {
      mode: 'nearest',
      coordinate_transformation_mode: 'asymmetric',
      nearest_mode: 'floor',
    });
  const e1 = conv('enc1b', conv('enc1a', x));
  const e2 = conv('enc2', pool(e1), { stride: 2 });
  const e3 = conv('enc3', pool(e2), { stride: 2 });
  const e4 = conv('enc4', pool(e3), { stride: 2 });
  const p = conv('ce_in', e4);
  const taps = [p];
  let d = p;
  for (const r of s.dilations) {
    d = conv(`ce_dilate${r}`, d, { dilation: r });
    taps.push(d);
  }
  const latent = g.node('Sum', taps);
  const t01 = conv('t01', latent);
  const t02 = conv('t02', latent);
  const t12 = conv('t12', latent);
  let y = g.node('Concat', [t01, t02], { axis: 1 });
  y = conv('dec3', g.node('Concat', [up(y), e3], { axis: 1 }));
  y = conv('dec2', g.node('Concat', [up(y), e2], { axis: 1 }));
  y = conv('dec1', g.node('Concat', [up(y), e1], { axis: 1 }));
  g.node('Softmax', [conv('seg_logits', y, { relu: false })], { axis: 1 }, 'seg');
  const gap = g.node('ReduceMean', [g.node('Concat', [t01, t12], { axis: 1 })], { axes: [2, 3, 4], keepdims: 0 });
  const dense = (name: string, t: string, out?: string) => {
    const k = w.get(`${name}/kernel`)!;
    const b = w.get(`${name}/bias`)!;
    return g.node(
      'Gemm',
      [
        t,
        g.constant(`${name}/kernel`, new Float32Array(k.dataSync()), k.shape),
        g.constant(`${name}/bias`, new Float32Array(b.dataSync()), b.shape),
      ],
      {},
      out,
    );
  };
  dense('class', dense('cls_fc', gap), 'class');
  g.output('seg', ['batch', s.classes, 'depth', 'height', 'width']);
  g.output('class', ['batch', s.regions.length]);
  return g.encode('tds3d');
}
