import { describe, expect, it } from 'vitest';
import {
  findLookupIslands,
  lookupTableInputs,
  lookupTableIo,
  lookupTableModel,
  replaceIslandsWithLookups,
  type LookupIsland,
} from '../../../src/compress/lookup-islands.js';
import { DataType } from '../../../src/onnx/dtype.js';
import type { OnnxModel, OnnxNode, Tensor } from '../../../src/onnx/ir.js';
import { attr, makeNode } from '../../../src/onnx/graph.js';
import { floatTensor, makeTensor } from '../../../src/onnx/tensor.js';
import { buildModel, opTypes, tensorInfo } from './quantize-test-models.js';

// QDQ models as quantizeInt8 writes them: every activation t behind QuantizeLinear → t_q → DequantizeLinear → t_dq.
const scalars = (t: string, type: number = DataType.UINT8): Tensor[] => [floatTensor(`${t}_scale`, [], [0.05]), makeTensor(`${t}_zero_point`, type, [], [type === DataType.UINT8 ? 128 : 0])];
const q = (t: string): OnnxNode => makeNode('QuantizeLinear', [t, `${t}_scale`, `${t}_zero_point`], [`${t}_q`], `${t}_QuantizeLinear`);
const dq = (t: string): OnnxNode => makeNode('DequantizeLinear', [`${t}_q`, `${t}_scale`, `${t}_zero_point`], [`${t}_dq`], `${t}_DequantizeLinear`);

/** x → Q/DQ → [middle nodes reading x_dq, writing h] → Q/DQ → Relu → y. */
function islandModel(middle: OnnxNode[], extra: Tensor[] = [], type: number = DataType.UINT8): OnnxModel {
  return buildModel({
    opset: 14,
    inputs: [tensorInfo('x', ['N', 4, 8, 8])],
    outputs: [tensorInfo('y', null)],
    initializers: [...scalars('x', type), ...scalars('h', type), ...extra],
    nodes: [q('x'), dq('x'), ...middle, q('h'), dq('h'), makeNode('Relu', ['h_dq'], ['y'], 'relu')],
  });
}

const table = (type: number = DataType.UINT8): Tensor => makeTensor('t', type, [256], type === DataType.UINT8 ? new Uint8Array(256).map((_, i) => 255 - i) : new Int8Array(256));

describe('findLookupIslands', () => {
  it('finds DequantizeLinear → HardSwish → QuantizeLinear on a uint8 activation', () => {
    const islands = findLookupIslands(islandModel([makeNode('HardSwish', ['x_dq'], ['h'], 'hs')]));
    expect(islands).toHaveLength(1);
    expect(islands[0]!.input).toBe('x_q');
    expect(islands[0]!.output).toBe('h_q');
    expect(islands[0]!.chain.map((n) => n.opType)).toEqual(['HardSwish']);
    expect(islands[0]!.inputType).toBe(DataType.UINT8);
    expect(islands[0]!.outputType).toBe(DataType.UINT8);
  });

  it('follows a chain of elementwise ops with one-element constants (PP-LCNet: HardSwish, then a scalar affine)', () => {
    const model = islandModel(
      [makeNode('HardSwish', ['x_dq'], ['a'], 'hs'), makeNode('Mul', ['a', 'k'], ['b'], 'mul'), makeNode('Add', ['c', 'b'], ['h'], 'add')],
      [floatTensor('k', [1], [0.9]), floatTensor('c', [], [0.1])],
    );
    const islands = findLookupIslands(model);
    expect(islands.map((i) => i.chain.map((n) => n.name))).toEqual([['hs', 'mul', 'add']]);
  });

  it('takes Clip with constant bounds and int8 activations', () => {
    const model = islandModel([makeNode('Clip', ['x_dq', 'lo', 'hi'], ['h'], 'clip')], [floatTensor('lo', [], [0]), floatTensor('hi', [], [6])], DataType.INT8);
    const islands = findLookupIslands(model);
    expect(islands).toHaveLength(1);
    expect(islands[0]!.inputType).toBe(DataType.INT8);
  });

  it('takes a per-channel constant of an [N, C, H, W] tensor (equalization\'s channel-scale Mul): one table per channel', () => {
    const perChannel = islandModel([makeNode('HardSwish', ['x_dq'], ['a'], 'hs'), makeNode('Mul', ['a', 'k'], ['h'], 'mul')], [floatTensor('k', [1, 4, 1, 1], [1, 2, 3, 4])]);
    expect(findLookupIslands(perChannel).map((i) => i.channels)).toEqual([4]);
    const threeD = islandModel([makeNode('Add', ['j', 'x_dq'], ['h'], 'add')], [floatTensor('j', [4, 1, 1], [1, 2, 3, 4])]);
    expect(findLookupIslands(threeD).map((i) => i.channels)).toEqual([4]);
  });

  it('leaves alone: a lone Sigmoid (onnxruntime fuses it into QLinearSigmoid), a constant along another axis, two channel counts, a non-elementwise op', () => {
    expect(findLookupIslands(islandModel([makeNode('Sigmoid', ['x_dq'], ['h'], 'sig')]))).toEqual([]);
    const alongH = islandModel([makeNode('Mul', ['x_dq', 'k'], ['h'], 'mul')], [floatTensor('k', [1, 1, 8, 1], new Float32Array(8).fill(2))]);
    expect(findLookupIslands(alongH)).toEqual([]);
    const clash = islandModel([makeNode('Mul', ['x_dq', 'k'], ['a'], 'mul'), makeNode('Add', ['a', 'j'], ['h'], 'add')], [floatTensor('k', [1, 4, 1, 1], [1, 2, 3, 4]), floatTensor('j', [1, 2, 1, 1], [1, 2])]);
    expect(findLookupIslands(clash)).toEqual([]);
    expect(findLookupIslands(islandModel([makeNode('Softmax', ['x_dq'], ['h'], 'sm')]))).toEqual([]);
    // Sigmoid is fine inside a longer chain: no onnxruntime kernel covers Sigmoid → Mul.
    const chain = islandModel([makeNode('Sigmoid', ['x_dq'], ['a'], 'sig'), makeNode('Mul', ['a', 'k'], ['h'], 'mul')], [floatTensor('k', [], [2])]);
    expect(findLookupIslands(chain)).toHaveLength(1);
  });

  it('leaves alone a chain whose intermediate tensor has another reader or is a graph output', () => {
    const shared = islandModel([makeNode('HardSwish', ['x_dq'], ['a'], 'hs'), makeNode('Tanh', ['a'], ['h'], 'tanh'), makeNode('Relu', ['a'], ['z'], 'other')]);
    shared.graph.outputs.push(tensorInfo('z', null));
    expect(findLookupIslands(shared)).toEqual([]);
    const exposed = islandModel([makeNode('HardSwish', ['x_dq'], ['a'], 'hs'), makeNode('Tanh', ['a'], ['h'], 'tanh')]);
    exposed.graph.outputs.push(tensorInfo('a', null));
    expect(findLookupIslands(exposed)).toEqual([]);
  });

  it('leaves alone islands on tensors under minElements at the given input shapes (an unknown size is taken)', () => {
    const model = islandModel([makeNode('HardSwish', ['x_dq'], ['h'], 'hs')]);
    expect(findLookupIslands(model, { minElements: 257, inputShapes: { x: [1, 4, 8, 8] } })).toEqual([]);
    expect(findLookupIslands(model, { minElements: 256, inputShapes: { x: [1, 4, 8, 8] } })).toHaveLength(1);
    expect(findLookupIslands(model, { minElements: 257, inputShapes: { x: [2, 4, 8, 8] } })).toHaveLength(1);
    expect(findLookupIslands(model, { minElements: 1e9 })).toHaveLength(1);
  });

  it('leaves alone per-axis scales and a DequantizeLinear of a weight', () => {
    const perAxis = islandModel([makeNode('HardSwish', ['x_dq'], ['h'], 'hs')]);
    perAxis.graph.initializers.set('x_scale', floatTensor('x_scale', [4], [1, 2, 3, 4]));
    expect(findLookupIslands(perAxis)).toEqual([]);
    const weight = islandModel([makeNode('HardSwish', ['x_dq'], ['h'], 'hs')]);
    weight.graph.nodes = weight.graph.nodes.filter((n) => n.name !== 'x_QuantizeLinear');
    weight.graph.initializers.set('x_q', makeTensor('x_q', DataType.UINT8, [2], [1, 2]));
    expect(findLookupIslands(weight)).toEqual([]);
  });
});

describe('lookupTableInputs', () => {
  it('lays the 256 values of each channel out in byte order, so negative int8 indices read the right entry', () => {
    const uint8 = lookupTableInputs(DataType.UINT8);
    expect(uint8.dims).toEqual([1, 1, 1, 256]);
    expect([...(uint8.values as Uint8Array)].slice(0, 3)).toEqual([0, 1, 2]);
    const int8 = lookupTableInputs(DataType.INT8, 3);
    expect(int8.dataType).toBe(DataType.INT8);
    expect(int8.dims).toEqual([1, 3, 1, 256]);
    expect([...(int8.values as Int8Array)].slice(126, 130)).toEqual([126, 127, -128, -127]);
    expect((int8.values as Int8Array)[255]).toBe(-1);
    expect((int8.values as Int8Array)[256 * 2 + 1]).toBe(1);
  });
});

describe('lookupTableModel', () => {
  it('copies each island onto its own [256] input, with its constants and the model opsets', () => {
    const model = islandModel([makeNode('HardSwish', ['x_dq'], ['a'], 'hs'), makeNode('Mul', ['a', 'k'], ['h'], 'mul')], [floatTensor('k', [], [0.5])]);
    const tables = lookupTableModel(model, findLookupIslands(model));
    expect(opTypes(tables)).toEqual(['DequantizeLinear', 'HardSwish', 'Mul', 'QuantizeLinear']);
    expect(tables.opsetImports).toEqual(model.opsetImports);
    expect(tables.graph.inputs).toEqual([tensorInfo(lookupTableIo(0).input, [1, 1, 1, 256], DataType.UINT8)]);
    expect(tables.graph.outputs).toEqual([tensorInfo(lookupTableIo(0).output, [1, 1, 1, 256], DataType.UINT8)]);
    expect([...tables.graph.initializers.keys()].sort()).toEqual(['h_scale', 'h_zero_point', 'k', 'x_scale', 'x_zero_point']);
    expect(tables.graph.nodes[0]!.inputs[0]).toBe(lookupTableIo(0).input);
    expect(tables.graph.nodes.at(-1)!.outputs[0]).toBe(lookupTableIo(0).output);
    // The original is not touched.
    expect(opTypes(model)).toContain('HardSwish');
  });
});

describe('replaceIslandsWithLookups', () => {
  it('writes the island output with Reshape + Cast(int32) + GatherElements(table) + Reshape and drops the island and its orphaned DequantizeLinear', () => {
    const model = islandModel([makeNode('HardSwish', ['x_dq'], ['h'], 'hs')]);
    const islands = findLookupIslands(model);
    const { model: out, lookups, report } = replaceIslandsWithLookups(model, islands, [table()]);
    expect(opTypes(out)).toEqual(['QuantizeLinear', 'Shape', 'Reshape', 'Cast', 'GatherElements', 'Reshape', 'DequantizeLinear', 'Relu']);
    const [, shape, flatten, cast, gather, unflatten] = out.graph.nodes as [OnnxNode, OnnxNode, OnnxNode, OnnxNode, OnnxNode, OnnxNode];
    expect(shape.inputs).toEqual(['x_q']);
    expect(flatten.inputs[0]).toBe('x_q');
    expect([...(out.graph.initializers.get(flatten.inputs[1]!)!.values as BigInt64Array)]).toEqual([1n, -1n]);
    expect(cast.inputs).toEqual(flatten.outputs);
    expect(cast.attributes.get('to')).toEqual(attr.int(DataType.INT32));
    expect(gather.inputs[1]).toBe(cast.outputs[0]);
    expect(gather.attributes.get('axis')).toEqual(attr.int(1));
    expect(unflatten.inputs).toEqual([gather.outputs[0], shape.outputs[0]]);
    expect(unflatten.outputs).toEqual(['h_q']);
    const t = out.graph.initializers.get(gather.inputs[0]!)!;
    expect(t.dims).toEqual([1, 256]);
    expect(t.values[0]).toBe(255);
    expect(lookups).toEqual({ replaced: 1, leftSmall: 0, minElements: 0, tableBytes: 256, byChain: { HardSwish: 1 } });
    expect(report.nodesChanged).toBe(1);
  });

  it('per channel: reshapes to [N, C, -1], expands the [1, C, 256] tables to the batch, gathers on axis 2', () => {
    const model = islandModel([makeNode('HardSwish', ['x_dq'], ['a'], 'hs'), makeNode('Mul', ['a', 'k'], ['h'], 'mul')], [floatTensor('k', [1, 4, 1, 1], [1, 2, 3, 4])]);
    const islands = findLookupIslands(model);
    const tables = [makeTensor('t', DataType.UINT8, [1024], new Uint8Array(1024))];
    const { model: out, lookups } = replaceIslandsWithLookups(model, islands, tables);
    expect(opTypes(out)).toEqual(['QuantizeLinear', 'Shape', 'Reshape', 'Cast', 'Slice', 'Concat', 'Expand', 'GatherElements', 'Reshape', 'DequantizeLinear', 'Relu']);
    const flatten = out.graph.nodes.find((n) => n.opType === 'Reshape')!;
    expect([...(out.graph.initializers.get(flatten.inputs[1]!)!.values as BigInt64Array)]).toEqual([0n, 4n, -1n]);
    const expand = out.graph.nodes.find((n) => n.opType === 'Expand')!;
    expect(out.graph.initializers.get(expand.inputs[0]!)!.dims).toEqual([1, 4, 256]);
    expect(out.graph.nodes.find((n) => n.opType === 'GatherElements')!.attributes.get('axis')).toEqual(attr.int(2));
    expect(lookups.byChain).toEqual({ 'HardSwish+Mul': 1 });
    // A batch fixed at 1 needs no Expand.
    const single = islandModel([makeNode('HardSwish', ['x_dq'], ['a'], 'hs'), makeNode('Mul', ['a', 'k'], ['h'], 'mul')], [floatTensor('k', [1, 4, 1, 1], [1, 2, 3, 4])]);
    single.graph.inputs[0]!.type!.shape = [1, 4, 8, 8];
    const { model: one } = replaceIslandsWithLookups(single, findLookupIslands(single), tables);
    expect(opTypes(one)).not.toContain('Expand');
  });

  it('keeps a DequantizeLinear that other nodes read, and shares one Cast between islands on the same input', () => {
    const model = islandModel([makeNode('HardSwish', ['x_dq'], ['a'], 'hs'), makeNode('HardSigmoid', ['x_dq'], ['b'], 'hsig'), makeNode('Add', ['a_dq', 'b_dq'], ['h'], 'add')], [...scalars('a'), ...scalars('b')]);
    model.graph.nodes.splice(3, 0, q('a'), dq('a'));
    model.graph.nodes.splice(6, 0, q('b'), dq('b'));
    model.graph.nodes.push(makeNode('Relu', ['x_dq'], ['z'], 'also_reads_x'));
    model.graph.outputs.push(tensorInfo('z', null));
    const islands = findLookupIslands(model);
    expect(islands.map((i) => i.output)).toEqual(['a_q', 'b_q']);
    const { model: out } = replaceIslandsWithLookups(model, islands, [table(), table()]);
    expect(opTypes(out).filter((o) => o === 'Cast')).toHaveLength(1);
    expect(opTypes(out).filter((o) => o === 'GatherElements')).toHaveLength(2);
    expect(out.graph.nodes.some((n) => n.name === 'x_DequantizeLinear')).toBe(true);
    expect(opTypes(out)).not.toContain('HardSwish');
    expect(opTypes(out)).not.toContain('HardSigmoid');
  });

  it('removes only the constants of the nodes it removed, not other unused initializers', () => {
    const model = islandModel([makeNode('HardSwish', ['x_dq'], ['a'], 'hs'), makeNode('Mul', ['a', 'k'], ['h'], 'mul')], [floatTensor('k', [], [2]), floatTensor('unused', [], [1])]);
    model.graph.valueInfo.push(tensorInfo('a', null), tensorInfo('x_q', null));
    const { model: out } = replaceIslandsWithLookups(model, findLookupIslands(model), [table()]);
    expect(out.graph.initializers.has('k')).toBe(false);
    expect(out.graph.initializers.has('unused')).toBe(true);
    expect(out.graph.initializers.has('x_scale')).toBe(true);
    expect(out.graph.valueInfo.map((v) => v.name)).toEqual(['x_q']);
  });

  it('refuses tables of the wrong length or type with a RangeError', () => {
    const model = islandModel([makeNode('HardSwish', ['x_dq'], ['h'], 'hs')]);
    const islands: LookupIsland[] = findLookupIslands(model);
    expect(() => replaceIslandsWithLookups(model, islands, [])).toThrow(RangeError);
    expect(() => replaceIslandsWithLookups(model, islands, [table(DataType.INT8)])).toThrow(/tables\[0\]/);
  });
});
