/**
 * The fuzz worker process: builds the cases itself from (seed, index), runs each through the library entry points
 * (compressModelFile, evaluateModelFiles) and classifies what happened. It runs in its own process so that the
 * parent can kill it on a hang or runaway memory and carry on with the next case.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compressModelFile } from '../../../src/compress/compress-model.js';
import { evaluateModelFiles } from '../../../src/compress/evaluate-files.js';
import { createOrtSession } from '../../../src/profile/ort-session.js';
import { computeExtras, measureModel, type ChildIo } from '../../../src/profile/profile-run.js';
import { EdgetuneError, exitCodeFor } from '../../../src/util/errors.js';
import { prepareBases, type BaseId, type FuzzBase } from './fuzz-bases.js';
import { describeTarget, makeCase, type FuzzCase } from './fuzz-case.js';
import type { MutationKind } from './model-mutations.js';
import type { CaseOutcome, ChildToParent, ParentToChild } from './fuzz-protocol.js';

let bases: Record<BaseId, FuzzBase> | undefined;
let seed = 0;
let workDir = '';
let forceKind: MutationKind | undefined;
let current: number | null = null;

const send = (m: ChildToParent): void => {
  process.send?.(m);
};

function listFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

function stackHead(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return (error.stack ?? error.message).split('\n').slice(0, 8).join('\n');
}

/** Classify a thrown value: a bad-input EdgetuneError is the expected refusal; anything else is a finding. */
function classifyError(error: unknown): CaseOutcome {
  if (error instanceof EdgetuneError) {
    if (exitCodeFor(error) === 2) return { kind: 'refused', code: error.code, message: error.message };
    return { kind: 'bug', bug: 'run-time-code', code: error.code, message: error.message, detail: stackHead(error.cause ?? error) };
  }
  const name = error instanceof Error ? error.constructor.name : typeof error;
  return { kind: 'bug', bug: 'not-an-edgetune-error', code: name, message: error instanceof Error ? error.message : String(error), detail: stackHead(error) };
}

/** The profiling child's IPC, answered in-process (energy is off, so only progress arrives). */
const QUIET_IO: ChildIo = {
  progress: () => undefined,
  energyReady: async () => ({ minDurationMs: 0 }),
  energyDone: () => undefined,
};

async function runTarget(c: FuzzCase, base: FuzzBase, modelPath: string, outDir: string): Promise<CaseOutcome> {
  const t = c.target;
  if (t.kind === 'profile') {
    // What the profiling child of `edgetune profile` runs (src/profile/profile-worker.ts), with few iterations;
    // this fuzz worker is itself a child the harness kills on a hang or runaway memory.
    const request = {
      modelPath, iterations: 3, warmup: 1, minDurationMs: 0, threads: 1, executionProvider: 'cpu', shapes: {}, batchSize: 1,
      dataDir: t.data ? base.dataDir : null, energy: false, opProfileRuns: null, flops: true, referencePath: null,
    };
    const { measurement, state } = await measureModel(request, QUIET_IO);
    await computeExtras(request, state, QUIET_IO);
    const bad = measurement.latencySamplesMs.filter((ms) => !(ms >= 0 && Number.isFinite(ms)));
    if (measurement.latencySamplesMs.length !== 3 || bad.length > 0) {
      return { kind: 'bug', bug: 'invalid-result', code: 'OK', message: `profile returned latency samples ${JSON.stringify(measurement.latencySamplesMs)}` };
    }
    return { kind: 'ok', message: `profile: batch ${measurement.batchSize}, ${measurement.inputSource} inputs` };
  }
  if (t.kind === 'compress') {
    const outputPath = join(outDir, 'out.onnx');
    const report = await compressModelFile({
      inputPath: modelPath,
      outputPath,
      method: t.method,
      ...(t.method === 'int8' ? { dataDir: base.dataDir } : {}),
    });
    const files = listFiles(outDir);
    if (files.length !== 1 || files[0] !== 'out.onnx') {
      return { kind: 'bug', bug: 'stray-files', code: 'OK', message: `compress succeeded but the output directory holds [${files.join(', ')}]` };
    }
    try {
      const session = await createOrtSession(outputPath, { threads: 1 });
      await session.release();
    } catch (error) {
      return { kind: 'bug', bug: 'output-does-not-load', code: 'OK', message: `compress ${t.method} wrote ${report.output.bytes} bytes that onnxruntime refuses: ${error instanceof Error ? error.message : String(error)}` };
    }
    return { kind: 'ok', message: `${t.method}: ${report.input.bytes} -> ${report.output.bytes} bytes` };
  }
  const mutatedIsReference = t.reference === 'mutated-is-reference';
  const result = await evaluateModelFiles({
    modelPath: mutatedIsReference ? base.path : modelPath,
    dataDir: base.dataDir,
    ...(t.reference === 'original' ? { referencePath: base.path } : mutatedIsReference ? { referencePath: modelPath } : {}),
  });
  if (!(result.samples > 0)) return { kind: 'bug', bug: 'invalid-result', code: 'OK', message: `eval returned ${result.samples} samples` };
  return { kind: 'ok', message: `eval: ${result.samples} samples, top1 ${result.top1}` };
}

async function runCase(index: number): Promise<CaseOutcome> {
  let c: FuzzCase;
  try {
    c = makeCase(seed, index, bases!, forceKind);
  } catch (error) {
    return { kind: 'harness-error', code: 'GENERATION', message: `could not build case ${index}: ${stackHead(error)}` };
  }
  const base = bases![c.baseId];
  send({ type: 'case', index, baseId: c.baseId, mutation: c.mutation.kind, detail: c.mutation.detail, target: describeTarget(c.target), bytes: c.mutation.bytes.length });
  const caseDir = join(workDir, `case-${index}`);
  const inDir = join(caseDir, 'in');
  const outDir = join(caseDir, 'out');
  mkdirSync(inDir, { recursive: true });
  mkdirSync(outDir, { recursive: true });
  const modelPath = join(inDir, 'model.onnx');
  writeFileSync(modelPath, c.mutation.bytes);
  let outcome: CaseOutcome;
  try {
    outcome = await runTarget(c, base, modelPath, outDir);
  } catch (error) {
    outcome = classifyError(error);
    const left = listFiles(outDir);
    if (left.length > 0 && outcome.kind === 'refused') {
      outcome = { kind: 'bug', bug: 'file-left-behind', code: outcome.code, message: `refused (${outcome.message}) but left [${left.join(', ')}] in the output directory` };
    }
  }
  const beside = listFiles(inDir).filter((f) => f !== 'model.onnx');
  if (beside.length > 0 && outcome.kind !== 'bug') {
    outcome = { kind: 'bug', bug: 'file-left-behind', code: 'OK', message: `wrote [${beside.join(', ')}] beside the input model` };
  }
  rmSync(caseDir, { recursive: true, force: true });
  return outcome;
}

process.on('unhandledRejection', (reason) => {
  send({ type: 'unhandled', index: current, message: stackHead(reason) });
});

process.on('message', (m: ParentToChild) => {
  if (m.type === 'init') {
    seed = m.seed;
    workDir = m.workDir;
    forceKind = m.forceKind;
    bases = prepareBases(m.repoRoot, join(workDir, 'bases'));
    send({ type: 'ready' });
    return;
  }
  if (m.type === 'run') {
    current = m.index;
    const started = performance.now();
    void runCase(m.index).then(
      (outcome) => {
        current = null;
        send({ type: 'done', index: m.index, outcome, ms: performance.now() - started });
      },
      (error: unknown) => {
        current = null;
        send({ type: 'done', index: m.index, outcome: { kind: 'harness-error', code: 'RUNNER', message: stackHead(error) }, ms: performance.now() - started });
      },
    );
    return;
  }
  if (m.type === 'exit') process.exit(0);
});
