// A small builder for ONNX graphs on top of onnx-proto (protobufjs with the ONNX schema): nodes, float
// initialisers, typed inputs/outputs with symbolic dims, and serialisation. Used by the exporter, the
// benchmark's peak micro-model and tests that hand-build foreign models.
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;

/** Opset of the exported graphs: Softmax on any axis (13+), Resize half_pixel (11+). */
export const OPSET = 17;

type Attr = number | number[] | string | Float32Array;

export class OnnxGraph {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private n = 0;

  /** A fresh value name with a readable prefix. */
  name(prefix: string): string {
    return `${prefix}_${this.n++}`;
  }

  input(name: string, dims: Array<number | string>): string {
    this.inputs.push(valueInfo(name, dims));
    return name;
  }

  output(name: string, dims: Array<number | string>): void {
    this.outputs.push(valueInfo(name, dims));
  }

  /** Float32 initialiser (weights) with the given dims. */
  constant(name: string, data: Float32Array, dims: number[]): string {
    this.initializers.push({
      name,
      dims,
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  /** Adds a node; returns its single output name (or `out` when given). */
  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, out?: string): string {
    const o = out ?? this.name(op.toLowerCase());
    this.nodes.push({
      opType: op,
      input: inputs,
      output: [o],
      name: this.name(`n_${op}`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return o;
  }

  encode(graphName = 'tds'): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'tds',
      opsetImport: [{ domain: '', version: OPSET }],
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, dims: Array<number | string>): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: Attr): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  if (v instanceof Float32Array) return { name, type: T.FLOATS, floats: Array.from(v) };
  return { name, type: T.INTS, ints: v };
}

/** Parses ONNX bytes; throws on anything that is not a ModelProto with a graph. */
export function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  const m = onnx.ModelProto.decode(bytes);
  if (!m.graph || !m.graph.node?.length) throw new Error('no graph with nodes');
  return m;
}
