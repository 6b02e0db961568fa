import type { RolloutDeviceRow, RolloutRow, RolloutStageRow, RolloutStore } from '../../store/rollout-store.js';
import type { RolloutCriteria } from './rollout-plan.js';
import type { RolloutSettings } from './run-rollout.js';

/** A rollout as `rollout status --json` prints it. */
export interface RolloutStatus {
  rolloutId: string;
  group: string;
  action: string;
  model: { path: string; sha256: string };
  state: RolloutRow['state'];
  reason: string | null;
  currentStage: number;
  createdAt: string;
  updatedAt: string;
  criteria: RolloutCriteria;
  stageTimeoutS: number;
  rollbackOnAbort: boolean;
  bakeS: number;
  stages: Array<{
    stage: number;
    percent: number;
    state: string;
    devices: number;
    succeeded: number;
    failed: number;
    pending: number;
    startedAt: string | null;
    deadlineAt: string | null;
    finishedAt: string | null;
    reason: string | null;
  }>;
  devices: Array<{
    deviceId: string;
    stage: number;
    rank: number;
    jobId: string | null;
    outcome: string;
    reason: string | null;
    activated: boolean;
    latencyMs: number | null;
    rollback: { jobId: string | null; state: string | null; reason: string | null } | null;
  }>;
  /** Members of the group that were offline when the rollout started (not part of it). */
  skipped: string[];
}

/**
 * A stored rollout as data (what `rollout status --json` prints and the dashboard's Rollouts page shows), from its
 * row, stages and devices: pure, so every reader assembles it the same way.
 */
export function rolloutStatusFromRows(row: RolloutRow, stages: readonly RolloutStageRow[], devices: readonly RolloutDeviceRow[]): RolloutStatus {
  const s = JSON.parse(row.settings) as RolloutSettings;
  return {
    rolloutId: row.rolloutId,
    group: row.group,
    action: row.action,
    model: { path: row.modelPath, sha256: row.modelSha256 },
    state: row.state,
    reason: row.reason,
    currentStage: row.currentStage,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    criteria: { stagesPercent: s.stagesPercent, minSuccess: s.minSuccess, abortFailureRate: s.abortFailureRate, maxLatencyMs: s.maxLatencyMs },
    stageTimeoutS: s.stageTimeoutS,
    rollbackOnAbort: s.rollbackOnAbort,
    bakeS: s.bakeS,
    stages: stages.map((st) => {
      const mine = devices.filter((d) => d.stage === st.stage);
      return {
        ...st,
        devices: mine.length,
        succeeded: mine.filter((d) => d.outcome === 'succeeded').length,
        failed: mine.filter((d) => d.outcome === 'failed').length,
        pending: mine.filter((d) => d.outcome === 'pending').length,
      };
    }),
    devices: devices
      .filter((d) => d.outcome !== 'skipped')
      .map((d) => ({
        deviceId: d.deviceId,
        stage: d.stage,
        rank: d.rank,
        jobId: d.jobId,
        outcome: d.outcome,
        reason: d.reason,
        activated: d.activated,
        latencyMs: d.latencyMs,
        rollback: d.rollbackJobId !== null || d.rollbackState !== null ? { jobId: d.rollbackJobId, state: d.rollbackState, reason: d.rollbackReason } : null,
      })),
    skipped: devices.filter((d) => d.outcome === 'skipped').map((d) => d.deviceId),
  };
}

/** The rollout `rolloutId` as data from an open store, or null when the store has no such rollout. */
export function readRolloutStatus(rs: RolloutStore, rolloutId: string): RolloutStatus | null {
  const row = rs.get(rolloutId);
  return row ? rolloutStatusFromRows(row, rs.stages(rolloutId), rs.devices(rolloutId)) : null;
}
