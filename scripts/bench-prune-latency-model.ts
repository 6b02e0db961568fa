/**
 * Does the latency table predict what pruning then measures? (issue 15, `--target-latency-ms`), for BENCHMARKS.md.
 * One profile of every prunable group (src/compress/prune-group-profile.ts: each width timed alone against the
 * unpruned model), then for each latency target two allocations from the SAME measurements: with the raw
 * measurements, and with the fitted latency model (src/compress/prune-latency-model.ts). Each allocation is pruned and
 * recovered as `compress --method prune` does, and timed against the original (alternated run by run, batch 1, one
 * thread, p50; the measured latency is put on the table's clock: table base / measured speed-up). Fidelity on the
 * evaluation data the allocation never saw. One round per allocation (the method's re-aiming rounds are left out, so
 * the table's prediction is what is judged).
 *
 * With `--compare refit` the two allocations are instead both on the fitted latency model, one ranking the groups by
 * their loss judged without a refit (as before), one after the next-layer refit (the default now); targets may then
 * also be shares of FLOPs to remove (`flops:0.25`).
 *
 *   npx tsx scripts/bench-prune-latency-model.ts [MODEL=ppocr-det|rescnn] [--targets 0.9,0.8,flops:0.25] [--compare latency|refit] [--calib 32] [--eval 16] [--json]
 */
import { performance } from 'node:perf_hooks';
import { loadModelFile } from '../src/onnx/model-file.js';
import { normalizeModel } from '../src/onnx/normalize.js';
import { cloneModel, type OnnxModel } from '../src/onnx/ir.js';
import { encodeModel } from '../src/onnx/model-codec.js';
import { openDataset } from '../src/compress/dataset.js';
import { evaluateModel } from '../src/compress/evaluate.js';
import { pruneAndRecover } from '../src/compress/methods/prune-method.js';
import { profilePruneGroups } from '../src/compress/prune-group-profile.js';
import { allocatePruning, type GroupProfile } from '../src/compress/prune-allocation.js';
import { comparePairedLatency } from '../src/profile/paired-latency.js';
import { photoDataset, THIRD_PARTY_MODELS } from './lib/photo-datasets.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const id = args[0] && !args[0].startsWith('--') ? args[0] : 'ppocr-det';
const targets = opt('targets', '0.9,0.8').split(',');
const compare = opt('compare', 'latency');
const json = args.includes('--json');
const log = (s: string): void => void process.stderr.write(`${s}\n`);

let modelFile: string;
let calibDir: string;
let evalDir: string;
if (id === 'rescnn') {
  modelFile = 'test/fixtures/models/mnist-rescnn.onnx';
  calibDir = 'test/fixtures/data/mnist-calib';
  evalDir = 'test/fixtures/data/mnist-test';
} else {
  const spec = THIRD_PARTY_MODELS[id];
  if (!spec) throw new Error(`unknown model ${id}`);
  modelFile = spec.path;
  calibDir = photoDataset(spec, 'calibration', Number(opt('calib', '32')));
  evalDir = photoDataset(spec, 'evaluation', Number(opt('eval', '16')));
}
const original = loadModelFile(modelFile).model;
normalizeModel(original);
const calib = openDataset(calibDir, original);
const t0 = performance.now();
const profiles = await profilePruneGroups(original, calib, { compareWithoutRefit: compare === 'refit', onProgress: (stage, done, total) => done === total && log(`${stage}: ${total}`) });
const profileSeconds = (performance.now() - t0) / 1000;
const fit = profiles.latencyFit!;
log(`${id}: base ${profiles.baseLatencyMs.toFixed(3)} ms; fitted ${fit.msPerGflop.toFixed(3)} ms/GFLOP + ${fit.msPerMillionElements.toFixed(3)} ms/M elements; ${fit.measured} of ${fit.widths} widths kept their measurement (${profileSeconds.toFixed(0)} s)`);
const raw: GroupProfile[] = profiles.groups.map((g) => ({ ...g, options: g.options.map((o) => ({ ...o, latencyMs: o.measuredLatencyMs ?? o.latencyMs })) }));
const noRefit: GroupProfile[] = profiles.groups.map((g) => ({ ...g, options: g.options.map((o) => ({ ...o, loss: o.lossWithoutRefit ?? o.loss })) }));
const tables: ReadonlyArray<readonly [string, GroupProfile[]]> =
  compare === 'refit'
    ? [
        ['loss without refit', noRefit],
        [`loss after next-layer refit (${profiles.refitSamples} samples)`, profiles.groups],
      ]
    : [
        ['raw', raw],
        ['fitted', profiles.groups],
      ];
const flopsOf = (w: ReadonlyMap<number, number>): number => profiles.flopsOf(profiles.pruneTo(w));
const originalBytes = encodeModel(original);

interface Row {
  table: string;
  target: string;
  targetMs: number;
  predictedMs: number;
  measuredMs: number;
  offTargetPct: number;
  groupsPruned: number;
  flopsRemoved: number;
  worstCosine: number | null;
  pooledR2: number | null;
  agreement: number | null;
}
const rows: Row[] = [];
for (const spec of targets) {
  const flopsShare = spec.startsWith('flops:') ? Number(spec.slice(6)) : null;
  const targetMs = flopsShare === null ? profiles.baseLatencyMs * Number(spec) : Number.NaN;
  const target = flopsShare === null ? ({ kind: 'latency', latencyMs: targetMs } as const) : ({ kind: 'flops', removeShare: flopsShare } as const);
  for (const [table, groups] of tables) {
    const a = allocatePruning({ baseLatencyMs: profiles.baseLatencyMs, baseFlops: profiles.baseFlops, groups, target, flopsOf });
    const pruned = a.groups.filter((g) => g.status === 'pruned');
    const groupRatios = new Map([...profiles.groups, ...profiles.unprunable].map((g) => [g.id, 0]));
    for (const g of pruned) groupRatios.set(g.id, 1 - g.kept / g.channels);
    const model: OnnxModel = cloneModel(original);
    await pruneAndRecover(model, original, calib, { ratio: Math.max(...groupRatios.values()), groupRatios, importance: 'l2' });
    const pair = await comparePairedLatency(originalBytes, encodeModel(model), profiles.feeds, { threads: 1, iterations: 40, warmup: 3 });
    const measuredMs = profiles.baseLatencyMs / pair.speedup;
    const m = await evaluateModel(model, openDataset(evalDir, model), { reference: original, confidence: 0 });
    const r2 = Math.min(...(m.outputs ?? []).map((o) => o.explainedVariation ?? Number.NaN));
    const row: Row = {
      table,
      target: flopsShare === null ? `${targetMs.toFixed(2)} ms (${(Number(spec) * 100).toFixed(0)} %)` : `${(flopsShare * 100).toFixed(0)} % of FLOPs`,
      targetMs,
      predictedMs: a.predictedLatencyMs,
      measuredMs,
      offTargetPct: flopsShare === null ? (measuredMs / targetMs - 1) * 100 : Number.NaN,
      groupsPruned: pruned.length,
      flopsRemoved: 1 - profiles.flopsOf(model) / profiles.baseFlops,
      worstCosine: m.cosine,
      pooledR2: Number.isFinite(r2) ? r2 : null,
      agreement: m.agreement,
    };
    rows.push(row);
    log(`${id} target ${row.target}, ${table}: predicted ${row.predictedMs.toFixed(3)}, measured ${measuredMs.toFixed(3)} ms (${row.offTargetPct.toFixed(1)} %), ${row.groupsPruned} groups, FLOPs −${(row.flopsRemoved * 100).toFixed(1)} %, worst cosine ${row.worstCosine?.toFixed(4)}, R² ${row.pooledR2?.toFixed(4)}, agreement ${row.agreement?.toFixed(4) ?? 'n/a'}`);
  }
}
if (json) console.log(JSON.stringify({ id, baseLatencyMs: profiles.baseLatencyMs, fit, profileSeconds, rows }, null, 2));
else {
  console.log(`| model | target (fp32 ${profiles.baseLatencyMs.toFixed(2)} ms) | allocation | predicted ms | measured ms | off target | groups narrowed | FLOPs removed | worst-output cosine | worst R² |`);
  console.log('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const off = Number.isNaN(r.offTargetPct) ? '–' : `${r.offTargetPct >= 0 ? '+' : ''}${r.offTargetPct.toFixed(1)} %`;
    console.log(`| ${id} | ${r.target} | ${r.table} | ${r.predictedMs.toFixed(2)} | ${r.measuredMs.toFixed(2)} | ${off} | ${r.groupsPruned} | ${(r.flopsRemoved * 100).toFixed(1)} % | ${r.worstCosine?.toFixed(4) ?? 'n/a'} | ${r.pooledR2?.toFixed(4) ?? 'n/a'} |`);
  }
}
