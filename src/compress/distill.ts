/**
 * Teacher–student evaluation and on-device head distillation. Evaluation: on the data, KL(teacher‖student) of
 * temperature-softened outputs, top-1 agreement, and with labels both accuracies. Head distillation: refit the
 * student's last Gemm/MatMul (+ bias) by ridge least squares to the teacher's temperature-softened logits
 * T·log softmax(z_t/T), centred per sample (softmax ignores a per-sample shift; centred, this equals the centred
 * teacher logits, the high-temperature limit of distillation); kept only when it lowers the KL on the data.
 */
import type { OnnxModel, OnnxNode, Tensor } from '../onnx/ir.js';
import { cloneModel, elementCount } from '../onnx/ir.js';
import { encodeModel } from '../onnx/model-codec.js';
import { attr, attrFloat, attrInt, nameFactory } from '../onnx/graph.js';
import { tensorToFloat32 } from '../onnx/tensor.js';
import { createInferenceRunner, type InferenceRunner } from '../profile/ort-inference.js';
import { feedsForBatch, type Dataset } from './dataset.js';
import { FidelityAccumulator } from './fidelity.js';
import { NormalEquations } from './prune-recovery.js';
import { floatInitializer } from './prune-channels.js';
import { EdgetuneError } from '../util/errors.js';

/** Teacher–student metrics on a dataset. */
export interface DistillMetrics {
  samples: number;
  kl: number;
  agreement: number;
  studentTop1: number | null;
  teacherTop1: number | null;
}

/** Result of head distillation. */
export interface DistillResult {
  temperature: number;
  before: DistillMetrics;
  after: DistillMetrics;
  head: { node: string; opType: string; features: number; outputs: number; rows: number; applied: boolean; reason: string | null };
  student: OnnxModel;
}

/** Options for distillation. */
export interface DistillOptions {
  temperature?: number;
  /** Ridge strength relative to the mean diagonal of XᵀX (default 1e-4). */
  ridge?: number;
  maxSamples?: number;
  onProgress?: (stage: string, done: number, total: number) => void;
}

const PASS_THROUGH = new Set(['Identity', 'Softmax', 'LogSoftmax', 'Flatten', 'Reshape', 'Squeeze']);

/** The student's last linear layer producing output 0 (through Identity/Softmax/Flatten-like ops), or a reason. */
export function findHead(model: OnnxModel): { node: OnnxNode; logits: string } | string {
  const producers = new Map<string, OnnxNode>();
  for (const n of model.graph.nodes) for (const o of n.outputs) producers.set(o, n);
  let name = model.graph.outputs[0]?.name;
  for (let hops = 0; name && hops < 8; hops++) {
    const node = producers.get(name);
    if (!node) return `output '${name}' is not produced by a node`;
    if ((node.opType === 'Gemm' || node.opType === 'MatMul') && model.graph.initializers.has(node.inputs[1] ?? '')) {
      const w = model.graph.initializers.get(node.inputs[1]!)!;
      if (w.dims.length !== 2 || attrInt(node, 'transA', 0) !== 0) return `last ${node.opType} '${node.name}' has an unsupported weight layout`;
      return { node, logits: node.outputs[0]! };
    }
    if (!PASS_THROUGH.has(node.opType)) return `the output is produced by ${node.opType} '${node.name}', not by a Gemm/MatMul with constant weights`;
    name = node.inputs[0];
  }
  return 'no Gemm/MatMul head found near the output';
}

async function forEachPiece(
  teacher: OnnxModel,
  student: OnnxModel,
  dataset: Dataset,
  maxSamples: number,
  fn: (teacherFeeds: Record<string, Tensor>, studentFeeds: Record<string, Tensor>, labels: ArrayLike<number | bigint> | undefined) => Promise<void>,
): Promise<number> {
  let samples = 0;
  for (let s = 0; s < dataset.setNames.length && samples < maxSamples; s++) {
    const batch = dataset.load(s);
    const tp = feedsForBatch(teacher, batch);
    const sp = feedsForBatch(student, batch);
    if (tp.length !== sp.length) {
      // different fixed batch sizes: feed both with the student's pieces when the teacher's batch is dynamic
      throw new EdgetuneError('DATASET_INVALID', 'teacher and student fix different batch sizes; give models with the same batch axis');
    }
    for (let i = 0; i < sp.length && samples < maxSamples; i++) {
      const labels = batch.labels ? (batch.labels.values as BigInt64Array | Int32Array).slice(sp[i]!.start, sp[i]!.end) : undefined;
      await fn(tp[i]!.feeds, sp[i]!.feeds, labels as ArrayLike<number | bigint> | undefined);
      samples += sp[i]!.end - sp[i]!.start;
    }
  }
  return samples;
}

/** KL(teacher‖student) at temperature T, agreement and accuracies on the data. */
export async function compareTeacherStudent(teacher: OnnxModel, student: OnnxModel, dataset: Dataset, temperature = 4, maxSamples = Infinity): Promise<DistillMetrics> {
  const t = await createInferenceRunner(encodeModel(teacher));
  const s = await createInferenceRunner(encodeModel(student));
  try {
    return await compareRunners(teacher, student, t, s, dataset, temperature, maxSamples);
  } finally {
    await t.release();
    await s.release();
  }
}

async function compareRunners(teacher: OnnxModel, student: OnnxModel, t: InferenceRunner, s: InferenceRunner, dataset: Dataset, temperature: number, maxSamples: number): Promise<DistillMetrics> {
  const acc = new FidelityAccumulator(temperature);
  const tName = t.outputNames[0]!;
  const sName = s.outputNames[0]!;
  await forEachPiece(teacher, student, dataset, maxSamples, async (tf, sf, labels) => {
    const to = (await t.run(tf, [tName])).get(tName)!;
    const so = (await s.run(sf, [sName])).get(sName)!;
    if (elementCount(to.dims) !== elementCount(so.dims)) throw new EdgetuneError('USAGE', `teacher output [${to.dims.join(',')}] and student output [${so.dims.join(',')}] differ in shape`);
    acc.add(tensorToFloat32(so), so.dims, tensorToFloat32(to), labels);
  });
  const r = acc.result();
  if (r.kl === null || r.agreement === null) throw new EdgetuneError('USAGE', 'distillation needs classifier outputs of shape [batch, classes]');
  return { samples: r.samples, kl: r.kl, agreement: r.agreement, studentTop1: r.top1, teacherTop1: r.referenceTop1 };
}

/** Evaluate, refit the student's head to the teacher, evaluate again. The student is not mutated. */
export async function distillHead(teacher: OnnxModel, studentIn: OnnxModel, dataset: Dataset, options: DistillOptions = {}): Promise<DistillResult> {
  const temperature = options.temperature ?? 4;
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new EdgetuneError('USAGE', `--temperature must be a positive number; got ${options.temperature}`);
  const maxSamples = options.maxSamples ?? 4096;
  const before = await compareTeacherStudent(teacher, studentIn, dataset, temperature, maxSamples);
  options.onProgress?.('evaluate', 1, 3);
  const student = cloneModel(studentIn);
  const head = findHead(student);
  if (typeof head === 'string') {
    return { temperature, before, after: before, head: { node: '', opType: '', features: 0, outputs: 0, rows: 0, applied: false, reason: head }, student };
  }
  const { node } = head;
  const graph = student.graph;
  const w = graph.initializers.get(node.inputs[1]!)!;
  const transB = node.opType === 'Gemm' ? attrInt(node, 'transB', 0) : 0;
  const k = transB ? w.dims[1]! : w.dims[0]!;
  const n = transB ? w.dims[0]! : w.dims[1]!;
  const hasBias = node.opType === 'Gemm';
  const f = k + (hasBias ? 1 : 0);
  const eq = new NormalEquations(f, n);
  const featureName = node.inputs[0]!;
  const probe: OnnxModel = { ...student, graph: { ...graph, outputs: [...graph.outputs, { name: featureName, type: { elemType: 1, shape: null } }] } };
  const sRun = await createInferenceRunner(encodeModel(probe), { graphOptimizationLevel: 'basic' });
  const tRun = await createInferenceRunner(encodeModel(teacher));
  const tName = tRun.outputNames[0]!;
  const x = new Float64Array(f);
  const y = new Float64Array(n);
  try {
    await forEachPiece(teacher, student, dataset, maxSamples, async (tf, sf) => {
      const feats = (await sRun.run(sf, [featureName])).get(featureName)!;
      const logits = (await tRun.run(tf, [tName])).get(tName)!;
      const fv = tensorToFloat32(feats);
      const tv = tensorToFloat32(logits);
      const rows = feats.dims[0]!;
      if (fv.length !== rows * k || tv.length !== rows * n) throw new EdgetuneError('MODEL_UNSUPPORTED', `student head '${node.name}' input or teacher output does not match the head's [${k}→${n}] weight`);
      for (let r = 0; r < rows; r++) {
        for (let i = 0; i < k; i++) x[i] = fv[r * k + i]!;
        if (hasBias) x[k] = 1;
        let mean = 0;
        for (let j = 0; j < n; j++) mean += tv[r * n + j]!;
        mean /= n;
        for (let j = 0; j < n; j++) y[j] = tv[r * n + j]! - mean;
        eq.add(x, y);
      }
    });
  } finally {
    await sRun.release();
    await tRun.release();
  }
  options.onProgress?.('refit', 2, 3);
  const solved = eq.solve(options.ridge ?? 1e-4, hasBias ? k : null);
  const newW = new Float32Array(k * n);
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) newW[transB ? j * k + i : i * n + j] = solved[i * n + j]!;
  graph.initializers.set(w.name, { ...w, values: newW });
  if (hasBias) {
    const b = new Float32Array(n);
    for (let j = 0; j < n; j++) b[j] = solved[k * n + j]!;
    const biasName = node.inputs[2];
    const old = biasName ? graph.initializers.get(biasName) : undefined;
    if (old && elementCount(old.dims) === n) graph.initializers.set(biasName!, { ...old, values: b, dims: [n] });
    else {
      const name = nameFactory(graph)(`${node.name || node.outputs[0]}_distilled_bias`);
      graph.initializers.set(name, floatInitializer(name, [n], b));
      node.inputs[2] = name;
    }
    if (attrFloat(node, 'alpha', 1) !== 1 || attrFloat(node, 'beta', 1) !== 1) {
      node.attributes.set('alpha', attr.float(1));
      node.attributes.set('beta', attr.float(1));
    }
  }
  const after = await compareTeacherStudent(teacher, student, dataset, temperature, maxSamples);
  options.onProgress?.('evaluate', 3, 3);
  const applied = after.kl < before.kl;
  return {
    temperature,
    before,
    after: applied ? after : before,
    head: { node: node.name, opType: node.opType, features: k, outputs: n, rows: eq.rows, applied, reason: applied ? null : `the refit head did not lower the KL (${after.kl.toFixed(5)} vs ${before.kl.toFixed(5)}): student kept unchanged` },
    student: applied ? student : cloneModel(studentIn),
  };
}
