import type { OnnxModel } from '../onnx/ir.js';

/** A node a pass left in float (or otherwise unchanged), with the reason a person can read. */
export interface KeptNode {
  node: string;
  opType: string;
  reason: string;
}

/** What a graph pass did: pure data, merged into the `compress` JSON. */
export interface PassReport {
  /** Pass id, the same string as the CLI method (`int8`, `fp16`, `prune`...). */
  pass: string;
  /** Nodes rewritten or added by the pass. */
  nodesChanged: number;
  /** Nodes that stayed float / untouched, each with why. */
  nodesKeptFloat: KeptNode[];
  /** Opset of the default domain before and after. */
  opset: { from: number; to: number };
  /** Human-readable notes (warnings, honest caveats such as "dense CPU kernels are not faster"). */
  notes: string[];
  /** Pass-specific details (ranks chosen, channels removed, calibration stats...). */
  details?: Record<string, unknown>;
}

/** A pure graph → graph pass: takes ownership of `model` (may mutate it) and returns the rewritten model. */
export interface PassResult {
  model: OnnxModel;
  report: PassReport;
}
