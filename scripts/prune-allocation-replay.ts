/**
 * Dev tool (issue 15): re-run the per-group allocation of `compress --method prune --allocate sensitivity` on the
 * latency table and sensitivities a saved report holds (`--json` output of compress, or the file bench-detection
 * saves), with the allocator as it is now — to see what a change of the allocation rules picks from the same
 * measurements, without profiling again (PP-OCRv4 det's profile takes ~10 minutes). FLOPs are additive here (the
 * method counts them exactly), so the figures are a prediction, not a measurement.
 *
 *   npx tsx scripts/prune-allocation-replay.ts REPORT.json [--ratio 0.25 | --target-latency-ms 40] [--max-group-loss 0.5]
 */
import { readFileSync } from 'node:fs';
import { allocatePruning, lossLimit, type AllocationTarget, type GroupProfile, type GroupWidthOption } from '../src/compress/prune-allocation.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const file = args[0];
if (!file || file.startsWith('--')) throw new Error('usage: prune-allocation-replay.ts REPORT.json [--ratio R | --target-latency-ms MS] [--max-group-loss L]');

interface SavedDetails {
  target: { kind: 'latency'; latencyMs: number } | { kind: 'flops'; removeShare: number };
  latency: { tableBaseMs: number };
  flops: { before: number };
  allocation: Array<{ id: number; producers: string[]; channels: number; kept: number; status: string }>;
  table: Array<{ id: number; channels: number; options: GroupWidthOption[] }>;
}
const saved = JSON.parse(readFileSync(file, 'utf8')) as { details?: SavedDetails; passes?: Array<{ details?: SavedDetails }> };
const details = saved.details?.table ? saved.details : saved.passes?.find((p) => p.details?.table)?.details;
if (!details) throw new Error(`${file}: no prune --allocate sensitivity details (details.table) in it`);

const ratio = opt('ratio');
const latency = opt('target-latency-ms');
const target: AllocationTarget = ratio ? { kind: 'flops', removeShare: Number(ratio) } : latency ? { kind: 'latency', latencyMs: Number(latency) } : details.target.kind === 'latency' ? { kind: 'latency', latencyMs: details.target.latencyMs } : { kind: 'flops', removeShare: details.target.removeShare };
const groups: GroupProfile[] = details.table.map((t) => ({ id: t.id, channels: t.channels, producers: details.allocation.find((a) => a.id === t.id)?.producers ?? [], options: t.options }));
const maxGroupLoss = opt('max-group-loss');
const result = allocatePruning({
  baseLatencyMs: details.latency.tableBaseMs,
  baseFlops: details.flops.before,
  groups,
  target,
  ...(maxGroupLoss ? { maxGroupLoss: Number(maxGroupLoss) } : {}),
});

const out = (s: string): void => void process.stdout.write(`${s}\n`);
out(`target ${JSON.stringify(target)}; loss limit ${result.maxGroupLoss.toFixed(3)} (default rule: ${lossLimit(groups).toFixed(3)})`);
out('mildest width per group (kept/channels: loss):');
out(
  groups
    .map((g) => {
      const o = [...g.options].sort((a, b) => b.kept - a.kept)[0];
      return o ? `${g.id} ${o.kept}/${g.channels}: ${o.loss.toFixed(3)}` : `${g.id} –`;
    })
    .join('; '),
);
for (const s of result.steps) out(`step: group ${s.group} ${s.from} → ${s.to} (score ${s.score.toExponential(2)}), predicted ${s.latencyMs.toFixed(2)} ms, ${(100 * (1 - s.flops / details.flops.before)).toFixed(1)} % FLOPs removed`);
for (const g of result.groups.filter((x) => x.status !== 'unchanged')) out(`group ${g.id} ${g.kept}/${g.channels} ${g.status}: ${g.reason}`);
out(`was: ${details.allocation.filter((a) => a.status === 'pruned').map((a) => `group ${a.id} ${a.kept}/${a.channels}`).join(', ') || 'nothing pruned'}`);
out(`predicted ${result.predictedLatencyMs.toFixed(2)} ms (table base ${details.latency.tableBaseMs.toFixed(2)}), ${(100 * (1 - result.flops / details.flops.before)).toFixed(1)} % FLOPs removed, Σ loss ${result.predictedLoss.toFixed(3)}, reached ${result.reached}`);
