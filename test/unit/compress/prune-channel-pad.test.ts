/** Channel-padded residual shortcuts (Pad / Concat with a constant on the channel axis): the pad shrinks with the group. */
import { describe, expect, it } from 'vitest';
import { analyzeChannels, pruneChannels } from '../../../src/compress/prune-channels.js';
import { tensorToNumbers } from '../../../src/onnx/tensor.js';
import { channelPadModel, type ChannelPadKind } from './prune-test-models.js';

const kinds: ChannelPadKind[] = ['constant-of-shape', 'zero-initializer', 'pad'];

describe('channel-pad residuals', () => {
  for (const kind of kinds) {
    it(`${kind}: one group (stem + pointwise), 16 channels; the padded ones are not blocked`, () => {
      const a = analyzeChannels(channelPadModel(kind));
      const g = a.groups.find((x) => x.producers.some((p) => p.node.name === 'pw'))!;
      expect(g.producers.map((p) => p.node.name).sort()).toEqual(['pw', 'stem']);
      expect(g.blocked).toBeNull();
      // 8 stem channels (each joined with a pointwise channel) + 8 pointwise channels joined with a pad channel
      expect(g.components).toHaveLength(16);
    });
  }

  it('zero-importance pad channels are the ones pruned, and the pad disappears (ConstantOfShape dropped)', () => {
    const m = channelPadModel('constant-of-shape', true);
    const r = pruneChannels(m, { ratio: 0.5 });
    expect(r.groups.find((g) => g.producers.includes('pw'))!.kept).toBe(8);
    expect(r.keptChannels.get('sum')).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(m.graph.initializers.get('stem.w')!.dims[0]).toBe(8); // real shortcut channels kept
    expect(m.graph.initializers.get('pw.w')!.dims[0]).toBe(8);
    const concat = m.graph.nodes.find((n) => n.name === 'pad_concat')!;
    expect(concat.inputs).toEqual(['p']);
    expect(m.graph.nodes.some((n) => n.opType === 'ConstantOfShape')).toBe(false);
    expect(m.graph.initializers.has('pad_shape')).toBe(false);
  });

  it('pruning part of the pad shrinks the ConstantOfShape shape, the zero constant or the pads; shortcut channels stay tied to the stem', () => {
    for (const kind of kinds) {
      const m = channelPadModel(kind);
      const r = pruneChannels(m, { ratio: 0.5 });
      const kept = r.keptChannels.get('sum')!;
      expect(kept).toHaveLength(8);
      const fromStem = kept.filter((c) => c < 8).length;
      const fromPad = kept.length - fromStem;
      expect(m.graph.initializers.get('stem.w')!.dims[0]).toBe(fromStem);
      expect(m.graph.initializers.get('dw.w')!.dims[0]).toBe(fromStem);
      expect(m.graph.initializers.get('pw.w')!.dims).toEqual([8, fromStem, 1, 1]);
      expect(m.graph.initializers.get('head.w')!.dims).toEqual([4, 8, 1, 1]);
      if (kind === 'constant-of-shape') {
        if (fromPad > 0) expect(tensorToNumbers(m.graph.initializers.get('pad_shape')!)).toEqual([1, fromPad, 4, 4]);
      } else if (kind === 'zero-initializer') {
        if (fromPad > 0) expect(m.graph.initializers.get('zeros')!.dims).toEqual([1, fromPad, 4, 4]);
      } else {
        expect(tensorToNumbers(m.graph.initializers.get('pads')!)).toEqual([0, 0, 0, 0, 0, fromPad, 0, 0]);
      }
    }
  });

  it('a Pad on the channel axis that is not constant (edge) is named and blocks its group', () => {
    const m = channelPadModel('pad');
    m.graph.nodes.find((n) => n.name === 'pad')!.attributes.set('mode', { type: 'string', value: 'edge' });
    const groups = analyzeChannels(m).groups;
    const stem = groups.find((x) => x.producers.some((p) => p.node.name === 'stem'))!;
    expect(stem.blocked).toMatch(/pad: Pad on the channel axis in mode 'edge' \(only constant padding is tracked\)/);
    expect(groups.find((x) => x.producers.some((p) => p.node.name === 'pw'))!.blocked).toMatch(/add: operand 'short' has untracked channels/);
  });
});
