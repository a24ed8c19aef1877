// FLOPs counted from layer shapes: one multiply-add = 2 FLOPs. Convolutions, transposed convolutions and
// dense layers are counted; pooling, resizing, activations and additions are negligible next to them and left out.
import { tf } from './tf.js';

type Shape = Array<number | null>;

/** GFLOPs of one forward pass of `model` at input height x width (batch 1). */
export function countGflops(model: tf.LayersModel, height: number, width: number): number {
  const shapes = new Map<string, Shape>();
  let flops = 0;
  for (const layer of model.layers) {
    const inbound =
      (layer as unknown as { inboundNodes: Array<{ inboundLayers: Array<{ name: string }> }> }).inboundNodes[0]
        ?.inboundLayers ?? [];
    let inShapes: Shape[];
    if (!inbound.length) inShapes = [[1, height, width, 3]];
    else inShapes = inbound.map((l) => shapes.get(l.name)!);
    const inShape = inShapes.length === 1 ? inShapes[0] : inShapes;
    const out = (inbound.length ? layer.computeOutputShape(inShape as tf.Shape) : [1, height, width, 3]) as Shape;
    shapes.set(layer.name, out);
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as { kernelSize?: number[]; filters?: number; units?: number };
    const cin = (inShapes[0][inShapes[0].length - 1] ?? 0) as number;
    if (cls === 'Conv2D') {
      const [kh, kw] = cfg.kernelSize!;
      flops += 2 * (out[1] as number) * (out[2] as number) * kh * kw * cin * cfg.filters!;
    } else if (cls === 'Conv2DTranspose') {
      const [kh, kw] = cfg.kernelSize!;
      flops += 2 * (inShapes[0][1] as number) * (inShapes[0][2] as number) * kh * kw * cin * cfg.filters!;
    } else if (cls === 'Dense') {
      flops += 2 * cin * cfg.units!;
    }
  }
  return flops / 1e9;
}
