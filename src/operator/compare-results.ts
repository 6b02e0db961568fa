import type { OperatorReportRow } from '../store/operator-store.js';

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
  /** How the energy figure was obtained ('measured' | 'estimated'), so a table never shows an estimate bare. */
  energyMethod: string | null;
  fidelity: { top1: number | null; agreement: number | null; cosine: number | null; sqnrDb: number | null } | null;
  error: { code: string; message: string } | null;
  /** Activated (or written) although its fidelity gate failed (`options.force`): never shown as plain ok. */
  forced: boolean;
  /** The tune section of a `tune` report (null for other actions or a report without one). */
  tune: TuneSummary | null;
}

/** A tune candidate as the fleet comparison shows it (SPEC `tune` JSON fields). */
export interface TuneCandidateSummary {
  id: string;
  /** p50 measured on the device (ms). */
  latencyMs: number | null;
  sizeBytes: number | null;
  /** Percentage points against the original (null without data). */
  accuracyDrop: number | null;
  /** Interval of the drop (pp) and what it was judged on, from the candidate's `accuracy` (null in older reports). */
  accuracyCi: [number, number] | null;
  judgedOn: string | null;
}

/** What one device's tune chose and the Pareto front it chose from. */
export interface TuneSummary {
  /** The device profile the tune ran under (e.g. pi4, x86-avx2) and the board, when reported. */
  deviceProfile: string | null;
  board: string | null;
  objective: string | null;
  chosen: TuneCandidateSummary | null;
  chosenReason: string | null;
  front: TuneCandidateSummary[];
  /** The chosen variant went live (and passed the health check); false when not activated or rolled back. */
  activated: boolean | null;
  rolledBack: boolean | null;
}

/** Reports of one model, latest per device and action. */
export interface ModelComparison {
  modelSha256: string | null;
  modelName: string | null;
  rows: ResultSummary[];
  /** The latest tune of this model on each device, side by side (device order): chosen candidate and front. */
  tuneFronts: Array<{ deviceId: string; reportId: string; createdAt: string } & TuneSummary>;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function obj(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function bool(v: unknown): boolean | null {
  return typeof v === 'boolean' ? v : null;
}

/** The chosen candidate and the front out of a report's `tune` section (null when it has none). */
export function summarizeTune(report: Record<string, unknown>): TuneSummary | null {
  const t = obj(report.tune);
  if (!t) return null;
  const candidates = Array.isArray(t.candidates) ? t.candidates.map(obj).filter((c): c is Record<string, unknown> => c !== null && typeof c.id === 'string') : [];
  const byId = new Map(candidates.map((c) => [c.id as string, c]));
  const summary = (c: Record<string, unknown>): TuneCandidateSummary => {
    const accuracy = obj(c.accuracy);
    const ci = Array.isArray(accuracy?.ci) && accuracy.ci.length === 2 && accuracy.ci.every((v) => typeof v === 'number') ? (accuracy.ci as [number, number]) : null;
    return { id: c.id as string, latencyMs: num(c.latencyMs), sizeBytes: num(c.sizeBytes), accuracyDrop: num(c.accuracyDrop), accuracyCi: ci, judgedOn: str(accuracy?.judgedOn) };
  };
  const frontIds = Array.isArray(t.front) ? t.front.filter((id): id is string => typeof id === 'string') : candidates.filter((c) => c.pareto === true).map((c) => c.id as string);
  const front = frontIds.map((id) => byId.get(id)).filter((c): c is Record<string, unknown> => c !== undefined).map(summary);
  front.sort((a, b) => (a.latencyMs ?? Infinity) - (b.latencyMs ?? Infinity) || a.id.localeCompare(b.id));
  const chosenId = str(t.chosen);
  const chosen = chosenId !== null ? byId.get(chosenId) : undefined;
  const device = obj(t.device);
  return {
    deviceProfile: str(device?.profile),
    board: str(device?.board),
    objective: str(t.objectiveUsed) ?? str(t.objective),
    chosen: chosen ? summary(chosen) : null,
    chosenReason: str(t.chosenReason),
    front,
    activated: bool(report.activated),
    rolledBack: bool(report.rolledBack),
  };
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
    energyMethod: typeof energy?.method === 'string' ? energy.method : null,
    fidelity: evaluation ? { top1: num(evaluation.top1), agreement: num(evaluation.agreement), cosine: num(evaluation.cosine), sqnrDb: num(evaluation.sqnrDb) } : null,
    error: error && typeof error.code === 'string' && typeof error.message === 'string' ? { code: error.code, message: error.message } : null,
    forced: r.forced === true,
    tune: summarizeTune(r),
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
    const tuneFronts = list.filter((x) => x.tune !== null).map((x) => ({ deviceId: x.deviceId, reportId: x.reportId, createdAt: x.createdAt, ...(x.tune as TuneSummary) }));
    return { modelSha256: sha || null, modelName: list.find((x) => x.modelName)?.modelName ?? null, rows: list, tuneFronts };
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
      r.joulesPerInference === null ? '-' : `${r.joulesPerInference.toExponential(2)}${r.energyMethod === 'measured' ? '' : ' (est.)'}`,
      fmt(r.fidelity?.top1 ?? null, 4),
      fmt(r.fidelity?.agreement ?? null, 4),
      r.state !== 'ok' ? `failed: ${r.error?.code ?? '?'}` : r.forced ? 'FORCED (fidelity gate failed)' : 'ok',
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
    const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
    out.push(`  ${line(header)}`);
    for (const row of rows) out.push(`  ${line(row)}`);
    const tuned = m.rows.filter((r) => r.tune !== null);
    if (tuned.length > 0) {
      out.push('', '  tune fronts by device (* chosen; every Pareto-front candidate listed)');
      out.push(...formatTuneFronts(tuned).map((l) => `  ${l}`));
    }
    out.push('');
  }
  return out.join('\n');
}

function fmtDrop(c: TuneCandidateSummary): string {
  if (c.accuracyDrop === null) return '-';
  const ci = c.accuracyCi && c.accuracyCi[0] !== c.accuracyCi[1] ? ` [${c.accuracyCi[0].toFixed(2)}, ${c.accuracyCi[1].toFixed(2)}]` : '';
  return `${c.accuracyDrop.toFixed(2)} pp${ci}${c.judgedOn === 'calibration' ? ' (on calibration data)' : ''}`;
}

/** One block per device: its profile, the chosen candidate (marked *) and the rest of its front, aligned. */
export function formatTuneFronts(rows: readonly ResultSummary[]): string[] {
  const header = ['device', 'profile', 'candidate', 'p50 ms', 'size', 'acc drop', 'live'];
  const body: string[][] = [];
  for (const r of rows) {
    const t = r.tune as TuneSummary;
    const live = t.rolledBack === true ? 'rolled back' : t.activated === true ? 'yes' : 'no';
    const cells = (c: TuneCandidateSummary, mark: string): string[] => [`${mark}${c.id}`, fmt(c.latencyMs, 3), fmtBytes(c.sizeBytes), fmtDrop(c)];
    const first = [r.deviceId, t.deviceProfile ?? t.board ?? '-'];
    if (t.chosen) body.push([...first, ...cells(t.chosen, '* '), live]);
    else body.push([...first, `(none: ${t.chosenReason ?? 'no candidate chosen'})`, '', '', '', live]);
    for (const c of t.front) if (c.id !== t.chosen?.id) body.push(['', '', ...cells(c, '  '), '']);
  }
  // A '(none: why)' cell runs on past its column instead of widening it.
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (i === 2 && (row[2] as string).startsWith('(none') ? 0 : (row[i] as string).length))));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(header), ...body.map(line)];
}
