import type { AttributeValue, OnnxGraph, OnnxModel, OnnxNode, Tensor } from './ir.js';
import { EdgetuneError } from '../util/errors.js';

/** Map from tensor name to the node that produces it. */
export function producerMap(graph: OnnxGraph): Map<string, OnnxNode> {
  const map = new Map<string, OnnxNode>();
  for (const node of graph.nodes) for (const out of node.outputs) if (out) map.set(out, node);
  return map;
}

/** Map from tensor name to the nodes that read it (subgraph reads of outer names included). */
export function consumerMap(graph: OnnxGraph): Map<string, OnnxNode[]> {
  const map = new Map<string, OnnxNode[]>();
  const add = (name: string, node: OnnxNode): void => {
    if (!name) return;
    const list = map.get(name);
    if (list) {
      if (!list.includes(node)) list.push(node);
    } else map.set(name, [node]);
  };
  for (const node of graph.nodes) {
    for (const input of node.inputs) add(input, node);
    for (const name of subgraphOuterReads(node)) add(name, node);
  }
  return map;
}

/** Names a node's subgraphs (If/Loop/Scan bodies) read from the enclosing scope. */
export function subgraphOuterReads(node: OnnxNode): string[] {
  const reads: string[] = [];
  for (const attr of node.attributes.values()) {
    const graphs = attr.type === 'graph' ? [attr.value] : attr.type === 'graphs' ? attr.value : [];
    for (const g of graphs) {
      const local = new Set<string>([...g.inputs.map((i) => i.name), ...g.initializers.keys()]);
      for (const n of g.nodes) for (const o of n.outputs) local.add(o);
      for (const n of g.nodes) {
        for (const i of n.inputs) if (i && !local.has(i)) reads.push(i);
        for (const r of subgraphOuterReads(n)) if (!local.has(r)) reads.push(r);
      }
    }
  }
  return reads;
}

/** Names of graph outputs. */
export function graphOutputNames(graph: OnnxGraph): Set<string> {
  return new Set(graph.outputs.map((o) => o.name));
}

/** The initializer feeding input `index` of a node, if that input is a constant. */
export function initializerInput(graph: OnnxGraph, node: OnnxNode, index: number): Tensor | undefined {
  const name = node.inputs[index];
  return name ? graph.initializers.get(name) : undefined;
}

/** An int attribute, or the default. */
export function attrInt(node: OnnxNode, name: string, fallback: number): number {
  const a = node.attributes.get(name);
  return a?.type === 'int' ? a.value : fallback;
}

/** A float attribute, or the default. */
export function attrFloat(node: OnnxNode, name: string, fallback: number): number {
  const a = node.attributes.get(name);
  return a?.type === 'float' ? a.value : a?.type === 'int' ? a.value : fallback;
}

/** An ints attribute, or the default. */
export function attrInts(node: OnnxNode, name: string, fallback: number[]): number[] {
  const a = node.attributes.get(name);
  return a?.type === 'ints' ? a.value : fallback;
}

/** A string attribute, or the default. */
export function attrString(node: OnnxNode, name: string, fallback: string): string {
  const a = node.attributes.get(name);
  return a?.type === 'string' ? a.value : fallback;
}

/** Attribute constructors, for building nodes in passes and tests. */
export const attr = {
  int: (value: number): AttributeValue => ({ type: 'int', value }),
  float: (value: number): AttributeValue => ({ type: 'float', value }),
  ints: (value: number[]): AttributeValue => ({ type: 'ints', value }),
  floats: (value: number[]): AttributeValue => ({ type: 'floats', value }),
  string: (value: string): AttributeValue => ({ type: 'string', value }),
  tensor: (value: Tensor): AttributeValue => ({ type: 'tensor', value }),
};

/** Build a node. */
export function makeNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  name: string,
  attributes: Record<string, AttributeValue> = {},
  domain = '',
): OnnxNode {
  return { name, opType, domain, inputs, outputs, attributes: new Map(Object.entries(attributes)) };
}

/** Every name used in the graph (tensors and nodes), for making fresh names. */
export function usedNames(graph: OnnxGraph): Set<string> {
  const names = new Set<string>();
  for (const i of graph.inputs) names.add(i.name);
  for (const o of graph.outputs) names.add(o.name);
  for (const v of graph.valueInfo) names.add(v.name);
  for (const k of graph.initializers.keys()) names.add(k);
  for (const n of graph.nodes) {
    names.add(n.name);
    for (const x of n.inputs) names.add(x);
    for (const x of n.outputs) names.add(x);
  }
  return names;
}

/** A generator of names not yet used in the graph. */
export function nameFactory(graph: OnnxGraph): (base: string) => string {
  const used = usedNames(graph);
  return (base: string) => {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
}

/**
 * Sort nodes topologically (stable: keeps file order where possible). Throws MODEL_INVALID on a cycle or on an
 * input that nothing produces.
 */
export function topologicalSort(graph: OnnxGraph, outerScope: ReadonlySet<string> = new Set()): OnnxNode[] {
  const available = new Set<string>(['', ...outerScope, ...graph.inputs.map((i) => i.name), ...graph.initializers.keys()]);
  const producers = producerMap(graph);
  const pending = new Map<OnnxNode, number>();
  const waiting = new Map<string, OnnxNode[]>();
  const ready: OnnxNode[] = [];
  const order = new Map(graph.nodes.map((n, i) => [n, i]));
  for (const node of graph.nodes) {
    const needs = new Set([...node.inputs, ...subgraphOuterReads(node)].filter((x) => !available.has(x)));
    for (const name of needs) {
      if (!producers.has(name)) {
        throw new EdgetuneError('MODEL_INVALID', `node '${node.name || node.opType}' reads '${name}', which no node, input or initializer provides`);
      }
      const list = waiting.get(name) ?? [];
      list.push(node);
      waiting.set(name, list);
    }
    pending.set(node, needs.size);
    if (needs.size === 0) ready.push(node);
  }
  const sorted: OnnxNode[] = [];
  while (ready.length) {
    ready.sort((a, b) => order.get(a)! - order.get(b)!);
    const node = ready.shift()!;
    sorted.push(node);
    for (const out of node.outputs) {
      for (const waiter of waiting.get(out) ?? []) {
        const left = pending.get(waiter)! - 1;
        pending.set(waiter, left);
        if (left === 0) ready.push(waiter);
      }
      waiting.delete(out);
    }
  }
  if (sorted.length !== graph.nodes.length) {
    const stuck = graph.nodes.filter((n) => !sorted.includes(n)).slice(0, 3).map((n) => `'${n.name || n.opType}'`);
    throw new EdgetuneError('MODEL_INVALID', `the graph has a cycle through ${stuck.join(', ')}`);
  }
  return sorted;
}

/**
 * Check that the main graph is well formed: it has outputs, every node input exists, no tensor is produced twice,
 * every graph output is produced. Throws MODEL_INVALID naming the first problem.
 */
export function validateGraph(model: OnnxModel): void {
  const { graph } = model;
  if (graph.outputs.length === 0) throw new EdgetuneError('MODEL_INVALID', 'the graph has no outputs: the model computes nothing');
  const seen = new Set<string>([...graph.inputs.map((i) => i.name), ...graph.initializers.keys()]);
  for (const node of graph.nodes) {
    if (!node.opType) throw new EdgetuneError('MODEL_INVALID', `node '${node.name}' has no op_type`);
    for (const out of node.outputs) {
      if (!out) continue;
      if (seen.has(out) && !graph.initializers.has(out)) throw new EdgetuneError('MODEL_INVALID', `tensor '${out}' is produced twice (by node '${node.name || node.opType}')`);
      seen.add(out);
    }
  }
  graph.nodes = topologicalSort(graph);
  const produced = new Set([...seen]);
  for (const o of graph.outputs) {
    if (!produced.has(o.name)) throw new EdgetuneError('MODEL_INVALID', `graph output '${o.name}' is not produced by any node`);
  }
}

/** Remove nodes whose outputs nobody reads and initializers nobody uses. */
export function removeDeadCode(graph: OnnxGraph): void {
  const wasInitializer = new Set(graph.initializers.keys());
  const live = new Set(graph.outputs.map((o) => o.name));
  const keep: OnnxNode[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i]!;
    if (node.outputs.some((o) => live.has(o))) {
      keep.push(node);
      for (const input of node.inputs) live.add(input);
      for (const name of subgraphOuterReads(node)) live.add(name);
    }
  }
  graph.nodes = keep.reverse();
  for (const name of [...graph.initializers.keys()]) if (!live.has(name)) graph.initializers.delete(name);
  // Old IR versions list initializers among the graph inputs: drop those whose initializer went away.
  graph.inputs = graph.inputs.filter((i) => live.has(i.name) || !wasInitializer.has(i.name));
  graph.valueInfo = graph.valueInfo.filter((v) => live.has(v.name));
}

/**
 * Delete initializers that no node reads (in its inputs or from a subgraph) and that are not graph inputs, after a
 * pass replaced their readers.
 */
export function dropUnreadInitializers(graph: OnnxGraph): void {
  const read = new Set(graph.nodes.flatMap((n) => [...n.inputs, ...subgraphOuterReads(n)]));
  const inputs = new Set(graph.inputs.map((i) => i.name));
  for (const name of [...graph.initializers.keys()]) if (!read.has(name) && !inputs.has(name)) graph.initializers.delete(name);
}
