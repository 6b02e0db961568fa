/** Putting a layer's float weights back after passes fitted them to int8 (pure graph edit). */
import type { OnnxModel } from '../onnx/ir.js';

/**
 * Give each node of `model` named in `keep` the weight and bias inputs it has in `source` (same node names; the
 * model before adaptive rounding and bias correction). A bias those passes added is dropped with its initializer.
 */
export function restoreFloatWeights(model: OnnxModel, source: OnnxModel, keep: ReadonlySet<string>): number {
  const sourceNodes = new Map(source.graph.nodes.map((n) => [n.name || n.outputs[0]!, n]));
  let restored = 0;
  for (const node of model.graph.nodes) {
    const label = node.name || node.outputs[0]!;
    const from = sourceNodes.get(label);
    if (!keep.has(label) || !from || from.opType !== node.opType) continue;
    const dropped = node.inputs.slice(1).filter((name) => name && !from.inputs.includes(name));
    node.inputs = [node.inputs[0]!, ...from.inputs.slice(1)];
    for (const name of from.inputs.slice(1)) {
      const tensor = name ? source.graph.initializers.get(name) : undefined;
      if (tensor) model.graph.initializers.set(name, tensor);
    }
    for (const name of dropped) if (!model.graph.nodes.some((n) => n.inputs.includes(name))) model.graph.initializers.delete(name);
    restored++;
  }
  return restored;
}
