/**
 * Dev experiment (issue 15): each prunable group's accuracy loss when narrowed alone, without recovery (what
 * `--allocate sensitivity` ranks by) and after a next-layer least-squares refit fitted on OTHER sets of the data,
 * both judged on the last quarter of the calibration crops by the worst output's 1 − R².
 *
 *   npx tsx scripts/prune-sensitivity-experiment.ts [MODEL=ppocr-det] [--calib 32] [--fraction 0.75] [--groups 0,1,2]
 */
import { performance } from 'node:perf_hooks';
import { loadModelFile } from '../src/onnx/model-file.js';
import { normalizeModel } from '../src/onnx/normalize.js';
import { cloneModel } from '../src/onnx/ir.js';
import { encodeModel } from '../src/onnx/model-codec.js';
import { openDataset, type Dataset } from '../src/compress/dataset.js';
import { analyzeChannels, pruneChannels } from '../src/compress/prune-channels.js';
import { recoverPrunedModel } from '../src/compress/prune-recovery.js';
import { candidateWidths } from '../src/compress/prune-allocation.js';
import { lossOf } from '../src/compress/prune-group-profile.js';
import { evaluateRunners } from '../src/compress/evaluate.js';
import { createInferenceRunner } from '../src/profile/ort-inference.js';
import { modelPath, photoDataset, THIRD_PARTY_MODELS } from './lib/photo-datasets.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const id = args[0] && !args[0].startsWith('--') ? args[0] : 'ppocr-det';
const calib = Number(opt('calib', '32'));
const fraction = Number(opt('fraction', '0.75'));
const onlyGroups = opt('groups', '').split(',').filter(Boolean).map(Number);
const fitMax = Number(opt('fit', '8'));
const spec = THIRD_PARTY_MODELS[id]!;
const original = loadModelFile(modelPath(spec)).model;
normalizeModel(original);
const dataset = await openDataset(photoDataset(spec, 'calibration', calib));
const n = dataset.setNames.length;
const judgeCount = Math.min(8, Math.ceil(n / 4));
const sub = (from: number, count: number): Dataset => ({ dir: dataset.dir, setNames: dataset.setNames.slice(from, from + count), load: (i) => dataset.load(from + i) });
const judge = sub(n - judgeCount, judgeCount);
const fit = sub(0, n - judgeCount);
const analysis = analyzeChannels(original);
console.error(`${analysis.groups.length} groups, ${analysis.groups.filter((g) => !g.blocked && g.components.length >= 2).length} prunable`);
const reference = await createInferenceRunner(encodeModel(original), { intraOpNumThreads: 1 });
const lossFor = async (m: ReturnType<typeof cloneModel>): Promise<number> => {
  const runner = await createInferenceRunner(encodeModel(m), { intraOpNumThreads: 1 });
  try {
    return lossOf(await evaluateRunners(m, runner, reference, judge, { confidence: 0 }));
  } finally {
    await runner.release();
  }
};
console.log('| group | producers | kept/channels | loss, no recovery | loss, next-layer refit | loss, sequential refit | refit s |');
console.log('|---:|---|---:|---:|---:|---:|---:|');
for (const g of analysis.groups) {
  if (g.blocked || g.components.length < 2) continue;
  if (onlyGroups.length && !onlyGroups.includes(g.id)) continue;
  const widths = candidateWidths(g.components.length, [fraction]);
  if (!widths.length) continue;
  const kept = widths[0]!;
  const prune = () => {
    const m = cloneModel(original);
    const groupRatios = new Map(analysis.groups.map((x) => [x.id, x.id === g.id ? 1 - kept / g.components.length : 0]));
    const r = pruneChannels(m, { ratio: 1 - kept / g.components.length, groupRatios, importance: 'l2' });
    return { m, r };
  };
  const plain = prune();
  const lossPlain = await lossFor(plain.m);
  const row: string[] = [];
  let secs = 0;
  const scopes = (opt('scopes', 'next-layer,sequential').split(',') as Array<'next-layer' | 'sequential'>);
  for (const scope of scopes) {
    const { m, r } = prune();
    const t0 = performance.now();
    await recoverPrunedModel(
      { pruned: m, original, refitNodes: r.sinks.map((s) => s.node), channelMap: r.keptChannels, dataset: fit },
      { scope, maxSamples: fitMax },
    );
    secs += (performance.now() - t0) / 1000;
    row.push((await lossFor(m)).toFixed(4));
  }
  const producers = g.producers.map((p) => p.node.name).slice(0, 2).join(', ');
  console.log(`| ${g.id} | ${producers} | ${kept}/${g.components.length} | ${lossPlain.toFixed(4)} | ${row[0]} | ${row[1]} | ${secs.toFixed(1)} |`);
}
await reference.release();
