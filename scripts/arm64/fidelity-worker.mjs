/**
 * Fidelity on this Node's kernels (issue 16): x86 natively, arm64 under `scripts/arm64/run --board B --node --`.
 * Reads a JSON list of `{ id, model, reference, data }` and prints one JSON object: `{ arch, emulated, results }`
 * with the `edgetune eval` figures (point estimates) of each model against its reference on that data. One process
 * for the whole list: an emulated Node takes seconds to start.
 *
 *   node scripts/arm64/fidelity-worker.mjs JOBS.json
 */
import { readFileSync } from 'node:fs';

const dist = new URL('../../dist/', import.meta.url);
const { evaluateModelFiles } = await import(new URL('compress/evaluate-files.js', dist).href);
const { detectEmulation } = await import(new URL('util/emulation.js', dist).href);
const jobsPath = process.argv[2];
if (!jobsPath) throw new RangeError('usage: node scripts/arm64/fidelity-worker.mjs JOBS.json');
const jobs = JSON.parse(readFileSync(jobsPath, 'utf8'));
const results = [];
for (const job of jobs) {
  const started = Date.now();
  try {
    const r = await evaluateModelFiles({ modelPath: job.model, dataDir: job.data, ...(job.reference ? { referencePath: job.reference } : {}), confidence: 0 });
    results.push({ id: job.id, state: 'ok', samples: r.samples, top1: r.top1, agreement: r.agreement, cosine: r.cosine, sqnrDb: r.sqnrDb, kl: r.kl, seconds: (Date.now() - started) / 1000 });
  } catch (error) {
    results.push({ id: job.id, state: 'failed', code: error?.code ?? null, message: String(error?.message ?? error) });
  }
}
process.stdout.write(`${JSON.stringify({ arch: process.arch, emulated: detectEmulation() !== null, results })}\n`);
