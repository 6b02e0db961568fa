import type { OnnxNode, Tensor } from '../onnx/ir.js';
import { attrInt } from '../onnx/graph.js';

/** How a Conv's or ConvTranspose's weight elements map to its output channels (what a per-channel fold scales). */
export interface OutputChannelLayout {
  /** Output channels of the node. */
  channels: number;
  /** The output channel that weight element `i` (flat index) contributes to. */
  channelOf(i: number): number;
}

/**
 * The output-channel layout of a Conv (weight [M, C/g, k…]) or ConvTranspose (weight [C, M/g, k…], M = g·dims[1]);
 * undefined for any other op or a weight that does not fit its `group`.
 */
export function outputChannelLayout(node: OnnxNode, weight: Tensor): OutputChannelLayout | undefined {
  if (node.domain !== '' || weight.dims.length < 3) return undefined;
  const kernel = weight.dims.slice(2).reduce((a, b) => a * b, 1);
  if (node.opType === 'Conv') {
    const channels = weight.dims[0]!;
    const per = weight.values.length / channels;
    return { channels, channelOf: (i) => Math.floor(i / per) };
  }
  if (node.opType === 'ConvTranspose') {
    const group = attrInt(node, 'group', 1);
    const [inChannels, perGroup] = weight.dims as [number, number];
    if (group < 1 || inChannels % group !== 0) return undefined;
    const inPerGroup = inChannels / group;
    return {
      channels: perGroup * group,
      channelOf: (i) => {
        const ci = Math.floor(i / (perGroup * kernel));
        const j = Math.floor(i / kernel) % perGroup;
        return Math.floor(ci / inPerGroup) * perGroup + j;
      },
    };
  }
  return undefined;
}
