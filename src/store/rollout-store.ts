import type { SqliteDatabase } from './database.js';

/** The state of a rollout as stored. */
export type RolloutState = 'running' | 'rolling-back' | 'completed' | 'aborted' | 'halted';
/** The state of one stage. */
export type RolloutStageState = 'pending' | 'running' | 'passed' | 'halted' | 'aborted';
/** How a device fared ('skipped': a member that was offline when the rollout started). */
export type RolloutDeviceOutcome = 'pending' | 'succeeded' | 'failed' | 'skipped';

/** A rollout row. */
export interface RolloutRow {
  rolloutId: string;
  group: string;
  action: string;
  modelPath: string;
  modelSha256: string;
  /** The rollout's settings (criteria, timeouts, job options …) as JSON. */
  settings: string;
  state: RolloutState;
  currentStage: number;
  reason: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A stage row. */
export interface RolloutStageRow {
  stage: number;
  percent: number;
  state: RolloutStageState;
  startedAt: string | null;
  deadlineAt: string | null;
  finishedAt: string | null;
  reason: string | null;
}

/** A device of a rollout. */
export interface RolloutDeviceRow {
  deviceId: string;
  stage: number;
  rank: number;
  jobId: string | null;
  outcome: RolloutDeviceOutcome;
  reason: string | null;
  activated: boolean;
  latencyMs: number | null;
  rollbackJobId: string | null;
  rollbackState: 'ok' | 'failed' | null;
  rollbackReason: string | null;
  updatedAt: string;
}

/**
 * The rollout tables of the operator store (migration 2): a rollout, its stages, and each device with its stage,
 * job, outcome and rollback. Every write is one short synchronous statement or transaction, so an operator killed at
 * any point leaves a state `rollout --resume` continues from.
 */
export class RolloutStore {
  constructor(private readonly db: SqliteDatabase) {}

  /** Record a new rollout with its stages and the devices of each stage (one transaction). */
  create(r: {
    rolloutId: string;
    group: string;
    action: string;
    modelPath: string;
    modelSha256: string;
    settings: unknown;
    stages: Array<{ stage: number; percent: number; devices: string[] }>;
    skipped: string[];
  }): void {
    const t = new Date().toISOString();
    this.db
      .transaction(() => {
        this.db
          .prepare('INSERT INTO rollouts (rollout_id, group_name, action, model_path, model_sha256, settings, state, current_stage, reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)')
          .run(r.rolloutId, r.group, r.action, r.modelPath, r.modelSha256, JSON.stringify(r.settings), 'running', 1, t, t);
        const stage = this.db.prepare("INSERT INTO rollout_stages (rollout_id, stage, percent, state) VALUES (?, ?, ?, 'pending')");
        const device = this.db.prepare('INSERT INTO rollout_devices (rollout_id, device_id, stage, rank, outcome, updated_at) VALUES (?, ?, ?, ?, ?, ?)');
        let rank = 0;
        for (const s of r.stages) {
          stage.run(r.rolloutId, s.stage, s.percent);
          for (const d of s.devices) device.run(r.rolloutId, d, s.stage, ++rank, 'pending', t);
        }
        for (const d of r.skipped) device.run(r.rolloutId, d, 0, 0, 'skipped', t);
      })
      .immediate();
  }

  /** A rollout by id, or undefined. */
  get(rolloutId: string): RolloutRow | undefined {
    const r = this.db.prepare('SELECT * FROM rollouts WHERE rollout_id = ?').get(rolloutId) as Record<string, unknown> | undefined;
    if (!r) return undefined;
    return {
      rolloutId: r.rollout_id as string,
      group: r.group_name as string,
      action: r.action as string,
      modelPath: r.model_path as string,
      modelSha256: r.model_sha256 as string,
      settings: r.settings as string,
      state: r.state as RolloutState,
      currentStage: r.current_stage as number,
      reason: (r.reason as string | null) ?? null,
      createdAt: r.created_at as string,
      updatedAt: r.updated_at as string,
    };
  }

  /** Every rollout id, newest first. */
  list(): string[] {
    return (this.db.prepare('SELECT rollout_id FROM rollouts ORDER BY created_at DESC').all() as Array<{ rollout_id: string }>).map((r) => r.rollout_id);
  }

  /** The stages of a rollout, in order. */
  stages(rolloutId: string): RolloutStageRow[] {
    return (this.db.prepare('SELECT * FROM rollout_stages WHERE rollout_id = ? ORDER BY stage').all(rolloutId) as Record<string, unknown>[]).map((r) => ({
      stage: r.stage as number,
      percent: r.percent as number,
      state: r.state as RolloutStageState,
      startedAt: (r.started_at as string | null) ?? null,
      deadlineAt: (r.deadline_at as string | null) ?? null,
      finishedAt: (r.finished_at as string | null) ?? null,
      reason: (r.reason as string | null) ?? null,
    }));
  }

  /** The devices of a rollout in rollout order (skipped ones last). */
  devices(rolloutId: string): RolloutDeviceRow[] {
    return (this.db.prepare('SELECT * FROM rollout_devices WHERE rollout_id = ? ORDER BY stage = 0, stage, rank, device_id').all(rolloutId) as Record<string, unknown>[]).map((r) => ({
      deviceId: r.device_id as string,
      stage: r.stage as number,
      rank: r.rank as number,
      jobId: (r.job_id as string | null) ?? null,
      outcome: r.outcome as RolloutDeviceOutcome,
      reason: (r.reason as string | null) ?? null,
      activated: r.activated === 1,
      latencyMs: (r.latency_ms as number | null) ?? null,
      rollbackJobId: (r.rollback_job_id as string | null) ?? null,
      rollbackState: (r.rollback_state as 'ok' | 'failed' | null) ?? null,
      rollbackReason: (r.rollback_reason as string | null) ?? null,
      updatedAt: r.updated_at as string,
    }));
  }

  /** Mark a stage running with its deadline (the rollout's current stage moves to it). */
  startStage(rolloutId: string, stage: number, deadlineAt: Date): void {
    const t = new Date().toISOString();
    this.db
      .transaction(() => {
        this.db.prepare("UPDATE rollout_stages SET state = 'running', started_at = COALESCE(started_at, ?), deadline_at = ? WHERE rollout_id = ? AND stage = ?").run(t, deadlineAt.toISOString(), rolloutId, stage);
        this.db.prepare('UPDATE rollouts SET current_stage = ?, updated_at = ? WHERE rollout_id = ?').run(stage, t, rolloutId);
      })
      .immediate();
  }

  /** Record how a stage ended. */
  finishStage(rolloutId: string, stage: number, state: 'passed' | 'halted' | 'aborted', reason: string | null): void {
    this.db.prepare('UPDATE rollout_stages SET state = ?, finished_at = ?, reason = ? WHERE rollout_id = ? AND stage = ?').run(state, new Date().toISOString(), reason, rolloutId, stage);
  }

  /** Set the rollout's state (and why). */
  setState(rolloutId: string, state: RolloutState, reason: string | null): void {
    this.db.prepare('UPDATE rollouts SET state = ?, reason = COALESCE(?, reason), updated_at = ? WHERE rollout_id = ?').run(state, reason, new Date().toISOString(), rolloutId);
  }

  /** Record the job pushed to a device. */
  setJob(rolloutId: string, deviceId: string, jobId: string): void {
    this.db.prepare('UPDATE rollout_devices SET job_id = ?, updated_at = ? WHERE rollout_id = ? AND device_id = ?').run(jobId, new Date().toISOString(), rolloutId, deviceId);
  }

  /** Record a device's outcome. */
  setOutcome(rolloutId: string, deviceId: string, o: { outcome: RolloutDeviceOutcome; reason: string | null; activated: boolean; latencyMs: number | null; jobId?: string | null }): void {
    this.db
      .prepare('UPDATE rollout_devices SET outcome = ?, reason = ?, activated = ?, latency_ms = ?, job_id = COALESCE(?, job_id), updated_at = ? WHERE rollout_id = ? AND device_id = ?')
      .run(o.outcome, o.reason, o.activated ? 1 : 0, o.latencyMs, o.jobId ?? null, new Date().toISOString(), rolloutId, deviceId);
  }

  /** Record the rollback job of a device and how it went (state null: pushed, no answer yet). */
  setRollback(rolloutId: string, deviceId: string, r: { jobId: string | null; state: 'ok' | 'failed' | null; reason: string | null }): void {
    this.db
      .prepare('UPDATE rollout_devices SET rollback_job_id = COALESCE(?, rollback_job_id), rollback_state = ?, rollback_reason = ?, updated_at = ? WHERE rollout_id = ? AND device_id = ?')
      .run(r.jobId, r.state, r.reason, new Date().toISOString(), rolloutId, deviceId);
  }

  /**
   * The newest job pushed to one device with this action and artifact at or after `since` (ISO time), from the
   * pushes table that push-job.ts writes as it publishes: how a resumed rollout finds a job whose push was cut off.
   */
  latestPushTo(deviceId: string, action: string, artifactSha256: string | null, since: string): string | null {
    const r = this.db
      .prepare('SELECT job_id FROM pushes WHERE target = ? AND action = ? AND artifact_sha256 IS ? AND created_at >= ? ORDER BY created_at DESC LIMIT 1')
      .get(`device:${deviceId}`, action, artifactSha256, since) as { job_id: string } | undefined;
    return r?.job_id ?? null;
  }

  /** The newest stored report of a job from one device (its JSON payload), or null. */
  reportOf(jobId: string, deviceId: string): Record<string, unknown> | null {
    const r = this.db.prepare('SELECT payload FROM reports WHERE job_id = ? AND device_id = ? ORDER BY received_at DESC LIMIT 1').get(jobId, deviceId) as { payload: string } | undefined;
    return r ? (JSON.parse(r.payload) as Record<string, unknown>) : null;
  }
}
