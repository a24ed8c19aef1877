// Exports a TDSNet tfjs model to ONNX (opset 17): NHWC weights become NCHW, 'same' padding becomes explicit
// pads, half-pixel bilinear becomes Resize(half_pixel, linear). Input `image` is NCHW [batch,3,H,W] with
// symbolic H/W (any multiple of 32, for multi-size ensembles); outputs are `seg` (probabilities, NHWC),
// `class` and `scene` (logits), matching the tfjs model.
import { tf } from './tf.js';
import { OnnxGraph } from './onnx-graph.js';
import { TdsError } from '../errors.js';

type Cfg = Record<string, unknown>;

/** TF 'same' padding for an even input (all TDSNet feature maps are even: inputs are multiples of 32). */
function samePads(k: number, stride: number, dilation: number): [number, number] {
  const eff = (k - 1) * dilation + 1;
  const total = stride === 1 ? eff - 1 : Math.max(eff - stride, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** [kh,kw,a,b] -> [b,a,kh,kw] (conv: [kh,kw,in,out] -> [out,in,kh,kw]; transposed conv: [kh,kw,out,in] -> [in,out,kh,kw]). */
function toOihw(t: tf.Tensor): { data: Float32Array; dims: number[] } {
  const [kh, kw, a, b] = t.shape;
  const src = t.dataSync() as Float32Array;
  const out = new Float32Array(src.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < a; i++)
        for (let o = 0; o < b; o++) out[((o * a + i) * kh + y) * kw + x] = src[((y * kw + x) * a + i) * b + o];
  return { data: out, dims: [b, a, kh, kw] };
}

export interface ExportResult {
  bytes: Uint8Array;
  input: string;
  outputs: { seg: string; class: string; scene: string };
  nodes: number;
}

export function exportOnnx(model: tf.LayersModel): ExportResult {
  const g = new OnnxGraph();
  const values = new Map<string, string>();
  // Values are NCHW except after the seg softmax, which hands back NHWC (softmax over the last axis is fast).
  const nhwc = new Set<string>();
  const input = g.input('image', ['batch', 3, 'height', 'width']);
  const [C, S] = [model.outputs[1].shape[1] as number, model.outputs[2].shape[1] as number];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as Cfg;
    const inbound =
      (layer as unknown as { inboundNodes: Array<{ inboundLayers: Array<{ name: string }> }> }).inboundNodes[0]
        ?.inboundLayers ?? [];
    const ins = inbound.map((l) => values.get(l.name)!);
    const name = layer.name;
    let out: string;
    const act = (x: string) => {
      const a = cfg.activation as string | undefined;
      if (!a || a === 'linear') return x;
      if (a === 'relu') return g.node('Relu', [x]);
      throw new TdsError('BAD_MODEL', `layer ${name}: activation ${a} has no ONNX mapping`, 'use relu or linear');
    };
    switch (cls) {
      case 'InputLayer':
        out = input;
        break;
      case 'Conv2D': {
        const [k, b] = layer.getWeights();
        const w = toOihw(k);
        const [kh] = cfg.kernelSize as number[];
        const [stride] = cfg.strides as number[];
        const [dil] = cfg.dilationRate as number[];
        const [p0, p1] = cfg.padding === 'same' ? samePads(kh, stride, dil) : [0, 0];
        const wn = g.constant(`${name}/kernel`, w.data, w.dims);
        // A conv followed by instance norm has no bias (ONNX Conv's bias input is optional).
        const bn = b ? [g.constant(`${name}/bias`, new Float32Array(b.dataSync()), [b.shape[0]])] : [];
        out = act(
          g.node('Conv', [ins[0], wn, ...bn], {
            kernel_shape: [kh, kh],
            strides: [stride, stride],
            dilations: [dil, dil],
            pads: [p0, p0, p1, p1],
          }),
        );
        break;
      }
      case 'Conv2DTranspose': {
        const [k, b] = layer.getWeights();
        const w = toOihw(k);
        const [kh] = cfg.kernelSize as number[];
        const [stride] = cfg.strides as number[];
        // 'same' with k4 s2: output = 2 x input, i.e. PyTorch ConvTranspose2d(k4, s2, p1).
        const total = kh - stride;
        const p0 = Math.floor(total / 2);
        const wn = g.constant(`${name}/kernel`, w.data, w.dims);
        const bn = g.constant(`${name}/bias`, new Float32Array(b.dataSync()), [b.shape[0]]);
        out = act(
          g.node('ConvTranspose', [ins[0], wn, bn], {
            kernel_shape: [kh, kh],
            strides: [stride, stride],
            pads: [p0, p0, total - p0, total - p0],
          }),
        );
        break;
      }
      case 'MaxPooling2D': {
        const [ph] = cfg.poolSize as number[];
        const [sh] = cfg.strides as number[];
        out = g.node('MaxPool', [ins[0]], { kernel_shape: [ph, ph], strides: [sh, sh] });
        break;
      }
      case 'Add':
        out = g.node('Sum', ins);
        break;
      case 'Concatenate':
        out = g.node('Concat', ins, { axis: 1 });
        break;
      case 'TdsResizeBilinear': {
        const f = cfg.factor as number;
        const isNhwc = nhwc.has(ins[0]);
        const scales = g.constant(`${name}/scales`, new Float32Array(isNhwc ? [1, f, f, 1] : [1, 1, f, f]), [4]);
        out = g.node(
          'Resize',
          [ins[0], '', scales],
          { mode: 'linear', coordinate_transformation_mode: 'half_pixel' },
          name === 'seg' ? 'seg' : undefined,
        );
        if (isNhwc) nhwc.add(out);
        break;
      }
      case 'TdsInstanceNorm': {
        const [gamma, beta] = layer.getWeights();
        const c = gamma.shape[0];
        const sc = g.constant(`${name}/scale`, new Float32Array(gamma.dataSync()), [c]);
        const bn = g.constant(`${name}/bias`, new Float32Array(beta.dataSync()), [c]);
        const y = g.node('InstanceNormalization', [ins[0], sc, bn], { epsilon: cfg.epsilon as number });
        out = cfg.relu ? g.node('Relu', [y]) : y;
        break;
      }
      case 'Softmax': {
        // Back to NHWC first, then softmax over the last axis: ORT's softmax on a non-last axis transposes
        // internally and was measured 9x slower (8.7 ms of a 19 ms fast-profile frame).
        const t = g.node('Transpose', [ins[0]], { perm: [0, 2, 3, 1] });
        out = g.node('Softmax', [t], { axis: 3 }, name === 'seg' ? 'seg' : undefined);
        nhwc.add(out);
        break;
      }
      case 'GlobalAveragePooling2D':
        out = g.node('Flatten', [g.node('GlobalAveragePool', [ins[0]])], { axis: 1 });
        break;
      case 'Dense': {
        const [k, b] = layer.getWeights();
        const wn = g.constant(`${name}/kernel`, new Float32Array(k.dataSync()), k.shape);
        const bn = g.constant(`${name}/bias`, new Float32Array(b.dataSync()), [b.shape[0]]);
        out = act(g.node('Gemm', [ins[0], wn, bn], {}, name === 'class' || name === 'scene' ? name : undefined));
        break;
      }
      default:
        throw new TdsError(
          'BAD_MODEL',
          `layer ${name} of type ${cls} has no ONNX mapping`,
          'export supports the paper and fast profiles',
        );
    }
    values.set(name, out);
  }
  g.output('seg', ['batch', 'height', 'width', C]);
  g.output('class', ['batch', C]);
  g.output('scene', ['batch', S]);
  return {
    bytes: g.encode(model.name),
    input,
    outputs: { seg: 'seg', class: 'class', scene: 'scene' },
    nodes: g.nodes.length,
  };
}
