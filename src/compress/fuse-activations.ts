import type { OnnxModel, OnnxNode } from '../onnx/ir.js';
import { defaultOpset } from '../onnx/ir.js';
import { attrFloat, consumerMap, graphOutputNames, producerMap } from '../onnx/graph.js';
import { tensorToFloat32 } from '../onnx/tensor.js';
import { upgradeOpset } from '../onnx/normalize.js';

/**
 * Fuse exported hard-swish patterns into one `HardSwish` node (opset 14): `x · Clip(x + 3, 0, 6) / 6` (paddle2onnx,
 * older PyTorch) and `x · HardSigmoid(x; α=1/6, β=0.5)`. Quantizing the unfused form puts a Q/DQ on `x·Clip(x+3)`,
 * whose range is ~6× the output's: the rounding error wrecks MobileNetV3-style models. Pure; returns how many fused.
 */
export function fuseHardSwish(model: OnnxModel): number {
  const graph = model.graph;
  const consumers = consumerMap(graph);
  const producers = producerMap(graph);
  const outputs = graphOutputNames(graph);
  const single = (name: string): boolean => !outputs.has(name) && (consumers.get(name) ?? []).length === 1;
  const scalar = (name: string | undefined): number | undefined => {
    const t = name ? graph.initializers.get(name) : undefined;
    if (!t || t.values.length !== 1) return undefined;
    return tensorToFloat32(t)[0];
  };
  const close = (a: number | undefined, b: number): boolean => a !== undefined && Math.abs(a - b) < 1e-6 * Math.max(1, Math.abs(b));
  const removed = new Set<OnnxNode>();
  const replacements = new Map<OnnxNode, OnnxNode>();
  let fused = 0;
  for (const mul of graph.nodes) {
    if (mul.opType !== 'Mul' || mul.domain !== '' || removed.has(mul)) continue;
    for (const side of [0, 1]) {
      const gateName = mul.inputs[side]!;
      const x = mul.inputs[1 - side]!;
      const gate = producers.get(gateName);
      if (!gate || !single(gateName)) continue;
      let chain: OnnxNode[] | undefined;
      let divisor = 1;
      if (gate.opType === 'HardSigmoid' && gate.inputs[0] === x && close(attrFloat(gate, 'alpha', 0.2), 1 / 6) && close(attrFloat(gate, 'beta', 0.5), 0.5)) {
        chain = [gate];
      } else if (gate.opType === 'Clip' && close(scalar(gate.inputs[1]), 0) && close(scalar(gate.inputs[2]), 6)) {
        const add = producers.get(gate.inputs[0]!);
        if (add && add.opType === 'Add' && single(add.outputs[0]!) && add.inputs.includes(x) && close(scalar(add.inputs.find((i) => i !== x)), 3)) {
          chain = [add, gate];
          divisor = 6;
        }
      }
      if (!chain) continue;
      let tail: OnnxNode = mul;
      if (divisor === 6) {
        const next = single(mul.outputs[0]!) ? consumerMap(graph).get(mul.outputs[0]!)?.[0] : undefined;
        if (!next) continue;
        const other = next.inputs.find((i) => i !== mul.outputs[0]);
        if (next.opType === 'Div' && next.inputs[0] === mul.outputs[0] && close(scalar(other), 6)) tail = next;
        else if (next.opType === 'Mul' && close(scalar(other), 1 / 6)) tail = next;
        else continue;
        removed.add(mul);
      }
      for (const n of chain) removed.add(n);
      replacements.set(tail, { name: `${tail.name || tail.outputs[0]}_hardswish`, opType: 'HardSwish', domain: '', inputs: [x], outputs: [tail.outputs[0]!], attributes: new Map() });
      fused++;
      break;
    }
  }
  if (fused === 0) return 0;
  graph.nodes = graph.nodes.filter((n) => !removed.has(n) || replacements.has(n)).map((n) => replacements.get(n) ?? n);
  if (defaultOpset(model) < 14) upgradeOpset(model, 14);
  return fused;
}
