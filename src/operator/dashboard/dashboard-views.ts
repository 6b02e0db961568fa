/**
 * What the dashboard's pages show, computed from operator-store rows: pure (no store, no clock, no network), so the
 * HTTP adapter only reads rows and serialises these views. Field names follow SPEC.md's JSON (latencyMs, sizeBytes,
 * peakRssBytes, joulesPerInference, accuracyDrop).
 */
import type { DeviceRow, OperatorReportRow } from '../../store/operator-store.js';
import type { PushRow } from '../../store/operator-store-reads.js';
import { compareAcrossDevices, summarizeReport, type ModelComparison, type ResultSummary } from '../compare-results.js';
import { summarizeDevice, type DeviceSummary } from '../list-devices.js';
import type { RolloutStatus } from '../rollout/rollout-status.js';

/** A device row of the Fleet page: `edgetune devices` plus the last heartbeat's time and the live model's method. */
export interface FleetDevice extends DeviceSummary {
  /** `at` of the last retained heartbeat (null: none seen). */
  lastHeartbeatAt: string | null;
  /** The live variant: digest, method and source model (null: nothing live). */
  live: { variantId: string; method: string | null; sourceSha256: string | null; sourceName: string | null } | null;
}

/** The Fleet page. */
export interface FleetView {
  devices: FleetDevice[];
  online: number;
  offline: number;
  missingReports: number;
}

function obj(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function parseJson(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    return obj(JSON.parse(text));
  } catch {
    return null;
  }
}

/** One device of the Fleet page from its stored row, its stored report seqs and the names of pushed models. */
export function fleetDevice(row: DeviceRow, storedSeqs: readonly number[], names: ReadonlyMap<string, string>): FleetDevice {
  const summary = summarizeDevice(row, storedSeqs);
  const heartbeat = obj(summary.heartbeat);
  const active = obj(summary.activeModel);
  const variantId = str(active?.variantId) ?? str(active?.sha256);
  const sourceSha256 = str(active?.sourceSha256);
  return {
    ...summary,
    lastHeartbeatAt: str(heartbeat?.at),
    live: variantId ? { variantId, method: str(active?.method), sourceSha256, sourceName: sourceSha256 ? (names.get(sourceSha256) ?? null) : null } : null,
  };
}

/** The Fleet page from every stored device. */
export function fleetView(rows: readonly DeviceRow[], seqsOf: (deviceId: string) => readonly number[], names: ReadonlyMap<string, string>): FleetView {
  const devices = rows.map((r) => fleetDevice(r, seqsOf(r.deviceId), names));
  return {
    devices,
    online: devices.filter((d) => d.state === 'online').length,
    offline: devices.filter((d) => d.state === 'offline').length,
    missingReports: devices.reduce((n, d) => n + d.missingReports, 0),
  };
}

/** One report on the Device page: the comparable numbers plus thermal state and throttling. */
export interface DeviceReport extends ResultSummary {
  seq: number;
  thermal: { startC: number | null; endC: number | null; throttled: boolean | null } | null;
}

/** A job on the Device page: pushed by this operator and/or seen in a report. */
export interface DeviceJob {
  jobId: string;
  action: string;
  /** `device:ID` / `group:G` when this operator pushed it, else null (pushed by another operator). */
  target: string | null;
  pushedAt: string | null;
  /** ok / failed from the device's report; `sent` while no report arrived. */
  state: 'ok' | 'failed' | 'sent';
  reportId: string | null;
  modelName: string | null;
}

/** The Device page. */
export interface DeviceView {
  device: FleetDevice;
  /** The hello's `hw` (SPEC `hw` JSON), null when no hello was seen. */
  hw: Record<string, unknown> | null;
  heartbeat: Record<string, unknown> | null;
  /** Oldest first. */
  reports: DeviceReport[];
  /** Newest first. */
  jobs: DeviceJob[];
}

/** The Device page of one device (null row: known only from its reports). */
export function deviceView(
  deviceId: string,
  row: DeviceRow | null,
  reports: readonly OperatorReportRow[],
  pushes: readonly PushRow[],
  names: ReadonlyMap<string, string>,
): DeviceView {
  const r: DeviceRow = row ?? { deviceId, state: null, status: null, hello: null, heartbeat: null, lastSeen: reports[reports.length - 1]?.receivedAt ?? '' };
  const device = fleetDevice(r, reports.map((x) => x.seq), names);
  const hello = parseJson(r.hello);
  const summaries: DeviceReport[] = reports.map((x) => {
    const payload = parseJson(x.payload) ?? {};
    const thermal = obj(obj(payload.profile)?.thermal);
    return {
      ...summarizeReport(x, names),
      seq: x.seq,
      thermal: thermal ? { startC: num(thermal.startC), endC: num(thermal.endC), throttled: typeof thermal.throttled === 'boolean' ? thermal.throttled : null } : null,
    };
  });
  const jobs = new Map<string, DeviceJob>();
  const mine = (target: string): boolean => target === `device:${deviceId}` || (target.startsWith('group:') && device.groups.includes(target.slice('group:'.length)));
  for (const p of pushes) {
    if (!mine(p.target)) continue;
    jobs.set(p.jobId, { jobId: p.jobId, action: p.action, target: p.target, pushedAt: p.createdAt, state: 'sent', reportId: null, modelName: p.artifactName });
  }
  for (const s of summaries) {
    const j = jobs.get(s.jobId);
    const state = s.state === 'ok' ? 'ok' : 'failed';
    if (j) jobs.set(s.jobId, { ...j, state, reportId: s.reportId, modelName: j.modelName ?? s.modelName });
    else jobs.set(s.jobId, { jobId: s.jobId, action: s.action, target: null, pushedAt: null, state, reportId: s.reportId, modelName: s.modelName });
  }
  const when = (j: DeviceJob): string => j.pushedAt ?? summaries.find((s) => s.reportId === j.reportId)?.createdAt ?? '';
  return {
    device,
    hw: obj(hello?.hw),
    heartbeat: obj(device.heartbeat),
    reports: summaries,
    jobs: [...jobs.values()].sort((a, b) => when(b).localeCompare(when(a)) || a.jobId.localeCompare(b.jobId)),
  };
}

/** A model on the Model list. */
export interface ModelListEntry {
  modelSha256: string;
  modelName: string | null;
  devices: string[];
  reports: number;
  tunes: number;
  lastReportAt: string;
}

/** Every model the store has reports of (by the pushed artifact's digest), most recent first. */
export function modelList(rows: readonly OperatorReportRow[], names: ReadonlyMap<string, string>): ModelListEntry[] {
  const by = new Map<string, ModelListEntry & { deviceSet: Set<string> }>();
  for (const r of rows) {
    if (!r.modelSha256) continue;
    let m = by.get(r.modelSha256);
    if (!m) {
      m = { modelSha256: r.modelSha256, modelName: names.get(r.modelSha256) ?? null, devices: [], deviceSet: new Set(), reports: 0, tunes: 0, lastReportAt: r.createdAt };
      by.set(r.modelSha256, m);
    }
    m.deviceSet.add(r.deviceId);
    m.reports++;
    if (r.action === 'tune') m.tunes++;
    if (r.createdAt > m.lastReportAt) m.lastReportAt = r.createdAt;
    if (!m.modelName) m.modelName = str(obj(parseJson(r.payload)?.artifact)?.name);
  }
  return [...by.values()]
    .map(({ deviceSet, ...m }) => ({ ...m, devices: [...deviceSet].sort() }))
    .sort((a, b) => b.lastReportAt.localeCompare(a.lastReportAt) || a.modelSha256.localeCompare(b.modelSha256));
}

/** One candidate point of a tune chart (SPEC `tune` candidate fields, with its accuracy interval). */
export interface TunePoint {
  id: string;
  methods: string[];
  latencyMs: number | null;
  sizeBytes: number | null;
  peakRssBytes: number | null;
  joulesPerInference: number | null;
  accuracyDrop: number | null;
  accuracyCi: [number, number] | null;
  judgedOn: string | null;
  pareto: boolean;
  chosen: boolean;
}

/** One tune report as a chart: every candidate, its Pareto front marked, the chosen one marked. */
export interface TuneChart {
  deviceId: string;
  reportId: string;
  createdAt: string;
  deviceProfile: string | null;
  board: string | null;
  objective: string | null;
  chosenId: string | null;
  chosenReason: string | null;
  activated: boolean | null;
  rolledBack: boolean | null;
  candidates: TunePoint[];
}

/** The candidates of a report's `tune` section as chart points (null when the report has none). */
export function tuneChart(row: OperatorReportRow, names: ReadonlyMap<string, string>): TuneChart | null {
  const summary = summarizeReport(row, names);
  if (!summary.tune) return null;
  const tune = obj(parseJson(row.payload)?.tune) ?? {};
  const front = new Set(summary.tune.front.map((c) => c.id));
  const chosenId = summary.tune.chosen?.id ?? null;
  const candidates = (Array.isArray(tune.candidates) ? tune.candidates : []).map(obj).filter((c): c is Record<string, unknown> => c !== null && typeof c.id === 'string');
  return {
    deviceId: row.deviceId,
    reportId: row.reportId,
    createdAt: row.createdAt,
    deviceProfile: summary.tune.deviceProfile,
    board: summary.tune.board,
    objective: summary.tune.objective,
    chosenId,
    chosenReason: summary.tune.chosenReason,
    activated: summary.tune.activated,
    rolledBack: summary.tune.rolledBack,
    candidates: candidates.map((c) => {
      const accuracy = obj(c.accuracy);
      const ci = Array.isArray(accuracy?.ci) && accuracy.ci.length === 2 && accuracy.ci.every((v) => typeof v === 'number') ? (accuracy.ci as [number, number]) : null;
      const id = c.id as string;
      return {
        id,
        methods: Array.isArray(c.methods) ? c.methods.filter((m): m is string => typeof m === 'string') : [],
        latencyMs: num(c.latencyMs),
        sizeBytes: num(c.sizeBytes),
        peakRssBytes: num(c.peakRssBytes),
        joulesPerInference: num(c.joulesPerInference),
        accuracyDrop: num(c.accuracyDrop),
        accuracyCi: ci,
        judgedOn: str(accuracy?.judgedOn),
        pareto: front.has(id) || c.pareto === true,
        chosen: id === chosenId,
      };
    }),
  };
}

/** The Model page: `results --model` (latest report per device and action, side by side) and each tune's chart. */
export interface ModelView {
  comparison: ModelComparison | null;
  /** The latest tune per device, device order. */
  tunes: TuneChart[];
}

/** The Model page of one model from its reports. */
export function modelView(rows: readonly OperatorReportRow[], names: ReadonlyMap<string, string>): ModelView {
  const comparison = compareAcrossDevices(rows, names)[0] ?? null;
  const latest = new Map<string, OperatorReportRow>();
  for (const r of rows) {
    if (r.action !== 'tune') continue;
    const prev = latest.get(r.deviceId);
    if (!prev || prev.createdAt <= r.createdAt) latest.set(r.deviceId, r);
  }
  const tunes = [...latest.values()]
    .sort((a, b) => a.deviceId.localeCompare(b.deviceId))
    .map((r) => tuneChart(r, names))
    .filter((t): t is TuneChart => t !== null);
  return { comparison, tunes };
}

/** A rollout on the Rollouts list. */
export interface RolloutListEntry {
  rolloutId: string;
  /** The model file's name (its path's last part). */
  modelName: string;
  modelSha256: string;
  group: string;
  action: string;
  state: RolloutStatus['state'];
  reason: string | null;
  currentStage: number;
  /** The current stage's cumulative share of the group (null: the rollout has no such stage). */
  currentPercent: number | null;
  stages: number;
  /** Devices of the rollout (offline members skipped at its start not counted) and how many succeeded / failed. */
  devices: number;
  succeeded: number;
  failed: number;
  createdAt: string;
}

/** How a stage ended for the rollout: it let the next stage start, aborted, or halted it (null: not ended). */
export type StageDecisionView = 'advanced' | 'aborted' | 'halted' | null;

/** A stage of the Rollout page: `rollout status` with the decision named and its devices' rollbacks counted. */
export interface RolloutStageView extends RolloutStageStatus {
  decision: StageDecisionView;
  /** Devices of this stage sent `rollback`: done (ok), failed, and pushed without an answer yet. */
  rollback: { ok: number; failed: number; pending: number };
}

/** The Rollout page: everything `rollout status --json` gives, the model's name and each stage's decision. */
export interface RolloutView extends Omit<RolloutStatus, 'stages'> {
  modelName: string;
  stages: RolloutStageView[];
}

type RolloutStageStatus = RolloutStatus['stages'][number];

function fileName(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}

/** The Rollouts list from every stored rollout, newest first. */
export function rolloutList(statuses: readonly RolloutStatus[]): RolloutListEntry[] {
  return statuses
    .map((s) => ({
      rolloutId: s.rolloutId,
      modelName: fileName(s.model.path),
      modelSha256: s.model.sha256,
      group: s.group,
      action: s.action,
      state: s.state,
      reason: s.reason,
      currentStage: s.currentStage,
      currentPercent: s.stages.find((st) => st.stage === s.currentStage)?.percent ?? null,
      stages: s.stages.length,
      devices: s.devices.length,
      succeeded: s.devices.filter((d) => d.outcome === 'succeeded').length,
      failed: s.devices.filter((d) => d.outcome === 'failed').length,
      createdAt: s.createdAt,
    }))
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.rolloutId.localeCompare(b.rolloutId));
}

const DECISIONS: Record<string, StageDecisionView> = { passed: 'advanced', aborted: 'aborted', halted: 'halted' };

/** The Rollout page of one rollout. */
export function rolloutView(s: RolloutStatus): RolloutView {
  return {
    ...s,
    modelName: fileName(s.model.path),
    stages: s.stages.map((st) => {
      const rollbacks = s.devices.filter((d) => d.stage === st.stage && d.rollback !== null).map((d) => d.rollback?.state ?? null);
      return {
        ...st,
        decision: DECISIONS[st.state] ?? null,
        rollback: { ok: rollbacks.filter((r) => r === 'ok').length, failed: rollbacks.filter((r) => r === 'failed').length, pending: rollbacks.filter((r) => r === null).length },
      };
    }),
  };
}
