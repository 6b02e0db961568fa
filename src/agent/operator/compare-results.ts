import type { OperatorReportRow } from '../../store/operator-store.js';

/** One report reduced to the numbers that compare across devices (null where the report has none). */
export interface ResultSummary {
  reportId: string;
  deviceId: string;
  jobId: string;
  action: string;
  state: string;
  createdAt: string;
  modelSha256: string | null;
  modelName: string | null;
  method: string | null;
  variantSha256: string | null;
  sizeBytes: number | null;
  latencyMs: { mean: number | null; p50: number | null; p90: number | null; p99: number | null } | null;
  throughputPerSec: number | null;
  peakRssBytes: number | null;
  joulesPerInference: number | null;
  fidelity: { top1: number | null; agreement: number | null; cosine: number | null; sqnrDb: number | null } | null;
  error: { code: string; message: string } | null;
}

/** Reports of one model, latest per device and action. */
export interface ModelComparison {
  modelSha256: string | null;
  modelName: string | null;
  rows: ResultSummary[];
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function obj(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/** Pull the comparable numbers out of a stored report (profile, variant, eval sections; SPEC JSON field names). */
export function summarizeReport(row: OperatorReportRow, names: ReadonlyMap<string, string>): ResultSummary {
  let r: Record<string, unknown> = {};
  try {
    r = obj(JSON.parse(row.payload)) ?? {};
  } catch {
    r = {};
  }
  const profile = obj(r.profile);
  const variant = obj(r.variant);
  const evaluation = obj(r.eval);
  const lat = obj(profile?.latencyMs);
  const memory = obj(profile?.memory);
  const energy = obj(profile?.energy);
  const model = obj(profile?.model);
  const artifact = obj(r.artifact);
  const error = obj(r.error);
  return {
    reportId: row.reportId,
    deviceId: row.deviceId,
    jobId: row.jobId,
    action: row.action,
    state: row.state,
    createdAt: row.createdAt,
    modelSha256: row.modelSha256,
    modelName: (row.modelSha256 ? names.get(row.modelSha256) : undefined) ?? (typeof artifact?.name === 'string' ? artifact.name : null),
    method: typeof variant?.method === 'string' ? variant.method : null,
    variantSha256: typeof variant?.sha256 === 'string' ? variant.sha256 : null,
    sizeBytes: num(variant?.bytes) ?? num(model?.bytes),
    latencyMs: lat ? { mean: num(lat.mean), p50: num(lat.p50), p90: num(lat.p90), p99: num(lat.p99) } : null,
    throughputPerSec: num(profile?.throughputPerSec),
    peakRssBytes: num(memory?.peakRssBytes),
    joulesPerInference: num(energy?.joulesPerInference),
    fidelity: evaluation ? { top1: num(evaluation.top1), agreement: num(evaluation.agreement), cosine: num(evaluation.cosine), sqnrDb: num(evaluation.sqnrDb) } : null,
    error: error && typeof error.code === 'string' && typeof error.message === 'string' ? { code: error.code, message: error.message } : null,
  };
}

/** Group reports by model; within a model keep the latest report per (device, action), ordered by device. */
export function compareAcrossDevices(rows: readonly OperatorReportRow[], names: ReadonlyMap<string, string>): ModelComparison[] {
  const byModel = new Map<string, Map<string, ResultSummary>>();
  for (const row of rows) {
    const s = summarizeReport(row, names);
    const key = s.modelSha256 ?? '';
    let m = byModel.get(key);
    if (!m) {
      m = new Map();
      byModel.set(key, m);
    }
    const k = `${s.deviceId}\u0000${s.action}`;
    const prev = m.get(k);
    if (!prev || prev.createdAt <= s.createdAt) m.set(k, s);
  }
  return [...byModel.entries()].map(([sha, m]) => {
    const list = [...m.values()].sort((a, b) => a.deviceId.localeCompare(b.deviceId) || a.action.localeCompare(b.action));
    return { modelSha256: sha || null, modelName: list.find((x) => x.modelName)?.modelName ?? null, rows: list };
  });
}

function fmt(v: number | null, digits: number): string {
  return v === null ? '-' : v.toFixed(digits);
}

function fmtBytes(v: number | null): string {
  if (v === null) return '-';
  if (v >= 1024 * 1024) return `${(v / (1024 * 1024)).toFixed(2)} MiB`;
  if (v >= 1024) return `${(v / 1024).toFixed(1)} KiB`;
  return `${v} B`;
}

/** A plain-text table per model: device, action, method, size, latency, memory, energy, fidelity, state. */
export function formatComparisonTable(models: readonly ModelComparison[]): string {
  const out: string[] = [];
  for (const m of models) {
    out.push(`model ${m.modelName ?? '(unnamed)'} ${m.modelSha256 ? m.modelSha256.slice(0, 16) : '(no artifact)'}`);
    const header = ['device', 'action', 'method', 'size', 'p50 ms', 'mean ms', 'p99 ms', 'peak RSS', 'J/inf', 'top1', 'agree', 'state'];
    const rows = m.rows.map((r) => [
      r.deviceId,
      r.action,
      r.method ?? '-',
      fmtBytes(r.sizeBytes),
      fmt(r.latencyMs?.p50 ?? null, 3),
      fmt(r.latencyMs?.mean ?? null, 3),
      fmt(r.latencyMs?.p99 ?? null, 3),
      fmtBytes(r.peakRssBytes),
      r.joulesPerInference === null ? '-' : r.joulesPerInference.toExponential(2),
      fmt(r.fidelity?.top1 ?? null, 4),
      fmt(r.fidelity?.agreement ?? null, 4),
      r.state === 'ok' ? 'ok' : `failed: ${r.error?.code ?? '?'}`,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
    const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
    out.push(`  ${line(header)}`);
    for (const row of rows) out.push(`  ${line(row)}`);
    out.push('');
  }
  return out.join('\n');
}
