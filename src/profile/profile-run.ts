/**
 * What the profiling child does: open the session, time the cold start, warm up, time N runs with a monotonic
 * clock around session.run and nothing else, run the energy window when the parent says go, read the peak
 * memory, then (after the measurement) the optional op profile and FLOP count.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateModel } from '../compress/evaluate.js';
import { encodeModel } from '../onnx/model-codec.js';
import { loadModelFile } from '../onnx/model-file.js';
import type { OnnxModel, Tensor } from '../onnx/ir.js';
import { inferTensorTypes, staticShape } from '../onnx/shape-inference.js';
import { EdgetuneError, messageOf } from '../util/errors.js';
import { missingShapes, modelFlops } from './model-flops.js';
import { summarizeOpProfile, type OpProfileSummary } from './op-profile.js';
import { createOrtSession, refuseModelRunFailure, type OrtSession, type PreparedFeeds } from './ort-session.js';
import { readProcMemory } from './proc-memory.js';
import { batchSizeOf, datasetFeeds, hasIntegerInput, resolveInputShapes, SYNTHETIC_FILLS, synthesizeFeeds, type InputSpec, type SyntheticFill } from './profile-inputs.js';
import type { ChildExtras, ChildMeasurement, ChildProfileRequest, ProfileProgress } from './profile-types.js';

/** How the child talks to its parent (IPC in the worker; plain callbacks in-process). */
export interface ChildIo {
  progress(p: ProfileProgress): void;
  /** Tell the parent the model is loaded and idle, and wait for it to finish the idle baseline. */
  energyReady(): Promise<{ minDurationMs: number }>;
  energyDone(window: { startNs: bigint; endNs: bigint; inferences: number }): void;
}

const now = (): bigint => process.hrtime.bigint();
const msSince = (t0: bigint): number => Number(now() - t0) / 1e6;

/** Rate-limited progress (at most every 100 ms) so reporting costs nothing measurable in the loop. */
function progressReporter(io: ChildIo): (phase: ProfileProgress['phase'], done: number, total: number, force?: boolean) => void {
  let last = 0;
  return (phase, done, total, force = false) => {
    const t = performance.now();
    if (!force && t - last < 100) return;
    last = t;
    io.progress({ phase, done, total });
  };
}

/**
 * Time `iterations` runs (and at least `minDurationMs`), cycling through the prepared feeds. The clock is read
 * immediately around each `session.run`; nothing else happens inside the timed region.
 */
export async function timeRuns(
  session: Pick<OrtSession, 'runPrepared'>,
  feeds: readonly PreparedFeeds[],
  iterations: number,
  minDurationMs = 0,
  onTick?: (done: number) => void,
): Promise<number[]> {
  const samples: number[] = [];
  const t0 = now();
  for (let i = 0; i < iterations || msSince(t0) < minDurationMs; i++) {
    const f = feeds[i % feeds.length]!;
    const start = process.hrtime.bigint();
    await session.runPrepared(f);
    const end = process.hrtime.bigint();
    samples.push(Number(end - start) / 1e6);
    if (onTick && (i & 7) === 0) onTick(i + 1);
  }
  return samples;
}

/**
 * The model inputs as the session declares them; a non-tensor input or output is MODEL_UNSUPPORTED (onnxruntime-node
 * cannot feed those, and returning an optional sequence has crashed it: ONNX suite node/test_if_opt).
 */
function tensorInputs(session: OrtSession): InputSpec[] {
  for (const o of session.outputs) {
    if (o.dataType === 0) throw new EdgetuneError('MODEL_UNSUPPORTED', `output '${o.name}' is not a tensor (a sequence, map or optional): profile cannot run models that return one`);
  }
  return session.inputs.map((i) => {
    if (i.dataType === 0) throw new EdgetuneError('MODEL_UNSUPPORTED', `input '${i.name}' is not a tensor (sequence or map): profile cannot feed it`);
    return { name: i.name, dataType: i.dataType, shape: i.shape };
  });
}

/** State kept between the measurement and the extras. */
export interface MeasuredState {
  session: OrtSession;
  feeds: Array<Record<string, Tensor>>;
  shapes: Map<string, number[]>;
}

/** Load, warm up and measure; resolves with the measurement and the open session for the extras. */
export async function measureModel(request: ChildProfileRequest, io: ChildIo): Promise<{ measurement: ChildMeasurement; state: MeasuredState }> {
  const report = progressReporter(io);
  const baseRss = readProcMemory()?.rssBytes ?? 0;
  report('load', 0, 1, true);
  const t0 = now();
  const session = await createOrtSession(request.modelPath, { executionProvider: request.executionProvider, threads: request.threads });
  const loadMs = msSince(t0);
  const sessionRss = readProcMemory()?.rssBytes ?? 0;
  const specs = tensorInputs(session);
  let feeds: Array<Record<string, Tensor>>;
  let shapes: Map<string, number[]>;
  let batchSize: number;
  if (request.dataDir) {
    const ds = datasetFeeds(request.dataDir, specs);
    if (ds.feeds.length === 0) throw new EdgetuneError('DATASET_INVALID', `dataset '${request.dataDir}' gave no samples`);
    feeds = ds.feeds;
    shapes = new Map(Object.entries(ds.feeds[0]!).map(([k, t]) => [k, [...t.dims]]));
    batchSize = ds.batchSize;
  } else {
    shapes = resolveInputShapes(specs, request.shapes, request.batchSize);
    feeds = [synthesizeFeeds(specs, shapes)];
    batchSize = batchSizeOf(specs, shapes);
  }
  let prepared = feeds.map((f) => session.prepare(f));
  report('load', 1, 1, true);

  const tFirst = now();
  let syntheticFill: SyntheticFill | null = null;
  if (request.dataDir) {
    await session.runPrepared(prepared[0]!).catch(refuseModelRunFailure('the model', 'the first sample of the dataset'));
  } else {
    // Synthesized values may be out of range for the model (an index past its axis, a zero divisor, a scale that
    // gives an empty output): try the other fills before giving up.
    const failures: Array<{ fill: SyntheticFill; message: string }> = [];
    for (const fill of SYNTHETIC_FILLS) {
      if (fill !== 'random') {
        feeds = [synthesizeFeeds(specs, shapes, fill)];
        prepared = feeds.map((f) => session.prepare(f));
      }
      try {
        await session.runPrepared(prepared[0]!);
        syntheticFill = fill;
        break;
      } catch (error) {
        if (!(error instanceof EdgetuneError) || error.code !== 'RUNTIME_FAILED' || /allocat|out of memory/i.test(error.message)) throw error;
        failures.push({ fill, message: error.message.split('\n')[0]! });
      }
    }
    if (syntheticFill === null) {
      const label = (fill: SyntheticFill): string => (fill === 'random' ? 'random values' : `every value ${fill === 'zeros' ? 0 : 1}`);
      // Integer inputs may be indices, axes or shapes that no fill satisfies: the inputs are the problem. With float
      // inputs only, a node that fails on random values, on zeros and on ones is malformed.
      if (hasIntegerInput(specs)) {
        throw new EdgetuneError(
          'MODEL_UNSUPPORTED',
          `the model does not run on synthesized inputs of its declared types and shapes (${failures.map((f) => `${label(f.fill)}: ${f.message}`).join('; ')}); profile it on real samples with --data DIR`,
        );
      }
      throw new EdgetuneError('MODEL_INVALID', `the model fails on inputs of its declared types and shapes: ${failures[0]!.message} (and with every value 0, and every value 1)`);
    }
  }
  const firstRunMs = msSince(tFirst);

  report('warmup', 0, request.warmup, true);
  await timeRuns(session, prepared, request.warmup, 0, (d) => report('warmup', d, request.warmup));
  report('latency', 0, request.iterations, true);
  const latencySamplesMs = await timeRuns(session, prepared, request.iterations, request.minDurationMs, (d) => report('latency', d, request.iterations));
  report('latency', latencySamplesMs.length, request.iterations, true);

  let energyWindow: ChildMeasurement['energyWindow'] = null;
  if (request.energy) {
    const { minDurationMs } = await io.energyReady();
    report('energy', 0, minDurationMs, true);
    const start = now();
    let n = 0;
    let elapsedMs = 0;
    while (elapsedMs < minDurationMs) {
      await session.runPrepared(prepared[n % prepared.length]!);
      n++;
      elapsedMs = msSince(start);
      report('energy', Math.min(elapsedMs, minDurationMs), minDurationMs);
    }
    const end = now();
    energyWindow = { startNs: String(start), endNs: String(end), inferences: n * batchSize };
    io.energyDone({ startNs: start, endNs: end, inferences: n * batchSize });
  }

  const mem = readProcMemory();
  return {
    measurement: {
      batchSize,
      inputs: specs.map((s) => ({ name: s.name, dataType: s.dataType, shape: s.shape, profiledShape: shapes.get(s.name)! })),
      inputSource: request.dataDir ? 'data' : 'synthetic',
      syntheticFill: request.dataDir ? null : syntheticFill,
      latencySamplesMs,
      coldStart: { loadMs, firstRunMs },
      memory: { peakRssBytes: mem?.hwmBytes ?? 0, sessionRssBytes: sessionRss, baseRssBytes: baseRss },
      energyWindow,
    },
    state: { session, feeds, shapes },
  };
}

/** Trace `runs` runs with onnxruntime's profiler in a second session and condense the trace. */
export async function profileOperators(
  request: Pick<ChildProfileRequest, 'modelPath' | 'executionProvider' | 'threads'>,
  feeds: Record<string, Tensor>,
  runs: number,
  topN?: number,
): Promise<OpProfileSummary> {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-opprof-'));
  try {
    const session = await createOrtSession(request.modelPath, {
      executionProvider: request.executionProvider,
      threads: request.threads,
      profileFilePrefix: join(dir, 'ort'),
    });
    try {
      const prepared = session.prepare(feeds);
      for (let i = 0; i < 2; i++) await session.runPrepared(prepared); // warm-up, excluded by the summary
      for (let i = 0; i < runs; i++) await session.runPrepared(prepared);
      session.endProfiling();
    } finally {
      await session.release();
    }
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error('onnxruntime wrote no profile file');
    return summarizeOpProfile(JSON.parse(readFileSync(join(dir, file), 'utf8')), runs, topN);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Shapes of `names` by running a copy of the model that exposes them as extra outputs. */
export async function runtimeShapes(model: OnnxModel, names: readonly string[], feeds: Record<string, Tensor>, threads: number): Promise<Map<string, number[]>> {
  const outputs = new Set(model.graph.outputs.map((o) => o.name));
  const inputs = new Set(model.graph.inputs.map((i) => i.name));
  const fetch = names.filter((n) => !model.graph.initializers.has(n) && !inputs.has(n));
  const extra = fetch.filter((n) => !outputs.has(n));
  // Outputs without a declared type: onnxruntime infers it while resolving the graph.
  const copy: OnnxModel = { ...model, graph: { ...model.graph, outputs: [...model.graph.outputs, ...extra.map((name) => ({ name, type: null }))] } };
  const session = await createOrtSession(encodeModel(copy), { threads });
  try {
    const result = await session.run(feeds, fetch);
    return new Map([...result.entries()].map(([k, t]) => [k, [...t.dims]]));
  } finally {
    await session.release();
  }
}

/** FLOPs and weight bytes at the profiled input shapes: static inference first, a runtime run for what it misses. */
export async function countModelFlops(request: ChildProfileRequest, state: MeasuredState): Promise<NonNullable<ChildExtras['flops']>> {
  const { model } = loadModelFile(request.modelPath);
  const types = inferTensorTypes(model, { inputShapes: Object.fromEntries(state.shapes) });
  const known = new Map<string, number[]>();
  const shapeOf = (name: string): number[] | null => known.get(name) ?? staticShape(types, name);
  const missing = missingShapes(model, shapeOf);
  let shapeSource: 'static-inference' | 'static-inference+runtime' = 'static-inference';
  if (missing.length > 0) {
    for (const [k, v] of await runtimeShapes(model, missing, state.feeds[0]!, request.threads)) known.set(k, v);
    shapeSource = 'static-inference+runtime';
  }
  return { ...modelFlops(model, shapeOf), shapeSource };
}

/** The extras after the measurement; each failure becomes a note, never a failed profile. */
export async function computeExtras(request: ChildProfileRequest, state: MeasuredState, io: ChildIo): Promise<ChildExtras> {
  const notes: string[] = [];
  let opProfile: OpProfileSummary | null = null;
  let flops: ChildExtras['flops'] = null;
  await state.session.release();
  state.feeds.splice(1); // only the first feed is needed from here on
  if (request.opProfileRuns) {
    io.progress({ phase: 'op-profile', done: 0, total: request.opProfileRuns });
    try {
      opProfile = await profileOperators(request, state.feeds[0]!, request.opProfileRuns);
    } catch (error) {
      notes.push(`op profile failed: ${messageOf(error)}`);
    }
  }
  if (request.flops) {
    io.progress({ phase: 'flops', done: 0, total: 1 });
    try {
      flops = await countModelFlops(request, state);
    } catch (error) {
      notes.push(`FLOP count failed: ${messageOf(error)}`);
    }
  }
  let fidelity: ChildExtras['fidelity'] = null;
  if (request.dataDir) {
    io.progress({ phase: 'fidelity', done: 0, total: 1 });
    try {
      const { model } = loadModelFile(request.modelPath);
      const reference = request.referencePath ? loadModelFile(request.referencePath).model : undefined;
      fidelity = await evaluateModel(model, request.dataDir, {
        ...(reference ? { reference } : {}),
        intraOpNumThreads: request.threads,
        onProgress: (done, total) => io.progress({ phase: 'fidelity', done, total }),
      });
    } catch (error) {
      notes.push(`fidelity failed: ${messageOf(error)}`);
    }
  }
  return { opProfile, flops, fidelity, notes };
}
