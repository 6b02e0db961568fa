/**
 * The fidelity gate on the real third-party models (issue 13): each compression method is run on each model of
 * scripts/lib/photo-datasets.ts with the calibration photos as `--data` and the disjoint evaluation photos as
 * `--val-data`, and the gate's verdict is printed with the figures it judged on (worst output's cosine with its 95 %
 * bootstrap interval, agreement with its exact interval for classifiers, collapse findings). `--force` is used so
 * that a failing variant's figures are still measured; the table says whether the gate passed.
 *
 *   npx tsx scripts/bench-gates.ts [MODEL_ID ...] [--calib 32] [--eval 32] [--methods int8,fp16,prune0.25,prune0.5,sparsity0.9]
 *
 * Writes the table to stdout and `.cache/bench-gates/results.json`.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compressModelFile, type CompressFileOptions } from '../src/compress/compress-model.js';
import { errorCodeOf, messageOf } from '../src/util/errors.js';
import { THIRD_PARTY_MODELS, modelPath, photoDataset } from './lib/photo-datasets.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, '.cache', 'bench-gates');

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const calibCount = flag('calib', 32);
const evalCount = flag('eval', 32);
const ids = argv.filter((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
const methodsArg = argv.indexOf('--methods') >= 0 ? argv[argv.indexOf('--methods') + 1]!.split(',') : null;
const models = ids.length > 0 ? ids.map((id) => THIRD_PARTY_MODELS[id]!) : Object.values(THIRD_PARTY_MODELS);

const METHODS: Array<{ label: string; options: Partial<CompressFileOptions> & { method: string } }> = [
  { label: 'int8', options: { method: 'int8', speedCheck: false } },
  { label: 'fp16', options: { method: 'fp16' } },
  { label: 'prune 0.25', options: { method: 'prune', ratio: 0.25 } },
  { label: 'prune 0.5', options: { method: 'prune', ratio: 0.5 } },
  { label: 'sparsity 0.9', options: { method: 'sparsity', ratio: 0.9 } },
];

interface Row {
  model: string;
  method: string;
  passed: boolean | null;
  worstOutput: string | null;
  cosine: number | null;
  cosineCi: [number, number] | null;
  /** The worst output's R² against the original's variation across samples. */
  r2: number | null;
  agreement: number | null;
  agreementDropCi: [number, number] | null;
  collapsed: string[];
  error: string | null;
  seconds: number;
}

mkdirSync(OUT, { recursive: true });
const rows: Row[] = [];
const methods = methodsArg ? METHODS.filter((m) => methodsArg.includes(m.label.replace(/\s/g, ''))) : METHODS;
for (const model of models) {
  const calib = photoDataset(model, 'calibration', calibCount);
  const evaluation = photoDataset(model, 'evaluation', evalCount);
  for (const m of methods) {
    const out = join(OUT, `${model.id}-${m.label.replace(/\s/g, '')}.onnx`);
    const t0 = Date.now();
    try {
      const report = await compressModelFile({ ...m.options, inputPath: modelPath(model), outputPath: out, dataDir: calib, validationDataDir: evaluation, force: true });
      const f = report.fidelity;
      const worst = f?.outputs.find((o) => o.name === f.worstOutput) ?? null;
      rows.push({
        model: model.id,
        method: m.label,
        passed: f ? f.gate.passed : null,
        worstOutput: f?.worstOutput ?? null,
        cosine: f?.cosine ?? null,
        cosineCi: worst?.cosineCi ?? null,
        r2: f ? Math.min(...f.outputs.map((o) => o.explainedVariation ?? Infinity)) : null,
        agreement: f?.accuracy?.agreement ?? null,
        agreementDropCi: f?.accuracy?.metric === 'agreement' ? f.accuracy.ci : null,
        collapsed: f?.accuracy?.collapsed ?? [],
        error: null,
        seconds: (Date.now() - t0) / 1000,
      });
    } catch (error) {
      rows.push({ model: model.id, method: m.label, passed: null, worstOutput: null, cosine: null, cosineCi: null, r2: null, agreement: null, agreementDropCi: null, collapsed: [], error: `${errorCodeOf(error)}: ${messageOf(error).slice(0, 160)}`, seconds: (Date.now() - t0) / 1000 });
    }
    rmSync(out, { force: true });
    const r = rows[rows.length - 1]!;
    process.stderr.write(`${r.model} ${r.method}: ${r.error ?? `gate ${r.passed ? 'passed' : 'FAILED'}, cosine ${r.cosine?.toFixed(4)}`} (${r.seconds.toFixed(0)} s)\n`);
  }
}
writeFileSync(join(OUT, 'results.json'), JSON.stringify({ machine: `${cpus()[0]?.model} ×${cpus().length}`, date: new Date().toISOString(), calibCount, evalCount, rows }, null, 2));

const f4 = (v: number | null): string => (v === null ? '—' : v.toFixed(4));
console.log(`| model | method | gate | worst output: cosine [95 % CI] | lowest R² | agreement (drop CI, pp) | finding |`);
console.log(`|---|---|---|---|---|---|---|`);
for (const r of rows) {
  if (r.error) {
    console.log(`| ${r.model} | ${r.method} | refused | ${r.error} | | | |`);
    continue;
  }
  const ci = r.cosineCi ? ` [${f4(r.cosineCi[0])}, ${f4(r.cosineCi[1])}]` : '';
  const agree = r.agreement === null ? '—' : `${(r.agreement * 100).toFixed(1)} %${r.agreementDropCi ? ` (${r.agreementDropCi[0].toFixed(1)} … ${r.agreementDropCi[1].toFixed(1)})` : ''}`;
  console.log(`| ${r.model} | ${r.method} | ${r.passed === null ? 'not measured' : r.passed ? 'pass' : '**fail**'} | '${r.worstOutput}' ${f4(r.cosine)}${ci} | ${r.r2 === null || !Number.isFinite(r.r2) ? '—' : r.r2.toFixed(3)} | ${agree} | ${r.collapsed.join('; ') || '—'} |`);
}
console.log(`\n${cpus()[0]?.model} ×${cpus().length}, ${new Date().toISOString().slice(0, 10)}; calibration ${calibCount} crops, validation ${evalCount} crops of disjoint photos`);
