import { randomBytes } from 'node:crypto';
import { EdgetuneError } from '../util/errors.js';
import { openDatabase, type SqliteDatabase } from './database.js';
import { AGENT_MIGRATIONS } from './migrations.js';

/** Artifact kinds the agent stores. */
export type ArtifactKind = 'model' | 'dataset';

/** A row of `artifacts`. */
export interface ArtifactRow {
  sha256: string;
  bytes: number;
  name: string;
  kind: ArtifactKind;
  chunkSize: number | null;
  chunks: number | null;
  receivedChunks: number;
  state: 'receiving' | 'complete';
  createdAt: string;
  completedAt: string | null;
}

/** Job states: waiting (for artifacts) → queued → running → done | failed; refused never runs. */
export type JobState = 'waiting' | 'queued' | 'running' | 'done' | 'failed' | 'refused';

/** A row of `jobs`. */
export interface JobRow {
  seq: number;
  jobId: string;
  action: string;
  state: JobState;
  payload: string;
  sourceTopic: string;
  attempts: number;
  receivedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** A row of `outbox`. */
export interface OutboxRow {
  id: string;
  topic: string;
  payload: string;
  state: 'pending' | 'sent';
  attempts: number;
  createdAt: string;
}

/** A row of `reports`. */
export interface StoredReportRow {
  reportId: string;
  jobId: string;
  action: string;
  state: string;
  seq: number;
  payload: string;
  createdAt: string;
}

/** Variant roles: exactly one live (the model in service), at most one previous (for rollback). */
export type VariantRole = 'stored' | 'live' | 'previous';

/** A row of `variants`: a model file on the device, named by its sha256. */
export interface VariantRow {
  variantId: string;
  sourceSha256: string;
  method: string;
  bytes: number;
  role: VariantRole;
  details: string | null;
  createdAt: string;
}

/** A row of `profiles`. */
export interface ProfileRow {
  id: number;
  variantId: string;
  jobId: string | null;
  payload: string;
  createdAt: string;
}

/** A time-ordered unique id (48-bit ms timestamp + 80 random bits, hex): sorts by creation, never reused. */
export function newTimeOrderedId(nowMs: number = Date.now()): string {
  return `${Math.floor(nowMs).toString(16).padStart(12, '0')}${randomBytes(10).toString('hex')}`;
}

const now = (): string => new Date().toISOString();

function artifactFromRow(r: Record<string, unknown>): ArtifactRow {
  return {
    sha256: r.sha256 as string,
    bytes: r.bytes as number,
    name: r.name as string,
    kind: r.kind as ArtifactKind,
    chunkSize: (r.chunk_size as number | null) ?? null,
    chunks: (r.chunks as number | null) ?? null,
    receivedChunks: r.received_chunks as number,
    state: r.state as ArtifactRow['state'],
    createdAt: r.created_at as string,
    completedAt: (r.completed_at as string | null) ?? null,
  };
}

function jobFromRow(r: Record<string, unknown>): JobRow {
  return {
    seq: r.seq as number,
    jobId: r.job_id as string,
    action: r.action as string,
    state: r.state as JobState,
    payload: r.payload as string,
    sourceTopic: r.source_topic as string,
    attempts: r.attempts as number,
    receivedAt: r.received_at as string,
    startedAt: (r.started_at as string | null) ?? null,
    finishedAt: (r.finished_at as string | null) ?? null,
  };
}

function variantFromRow(r: Record<string, unknown>): VariantRow {
  return {
    variantId: r.variant_id as string,
    sourceSha256: r.source_sha256 as string,
    method: r.method as string,
    bytes: r.bytes as number,
    role: r.role as VariantRole,
    details: (r.details as string | null) ?? null,
    createdAt: r.created_at as string,
  };
}

/**
 * The agent's durable state in one SQLite file: artifacts and their chunk bitmap, the job queue, reports with the
 * transactional outbox, model variants (live/previous for rollback) and profiles. Writers use BEGIN IMMEDIATE.
 */
export class AgentStore {
  readonly db: SqliteDatabase;
  readonly path: string;

  constructor(path: string) {
    this.path = path;
    this.db = openDatabase(path, AGENT_MIGRATIONS);
  }

  /** Close the connection. */
  close(): void {
    if (this.db.open) this.db.close();
  }

  // ---- artifacts and chunks ----

  /** The artifact row, or undefined. */
  getArtifact(sha256: string): ArtifactRow | undefined {
    const r = this.db.prepare('SELECT * FROM artifacts WHERE sha256 = ?').get(sha256) as Record<string, unknown> | undefined;
    return r ? artifactFromRow(r) : undefined;
  }

  /** Every artifact row, newest first. */
  listArtifacts(): ArtifactRow[] {
    return (this.db.prepare('SELECT * FROM artifacts ORDER BY created_at DESC').all() as Record<string, unknown>[]).map(artifactFromRow);
  }

  /** Record that an artifact is wanted (no-op when already known). Returns the row. */
  beginArtifact(a: { sha256: string; bytes: number; name: string; kind: ArtifactKind }): ArtifactRow {
    this.db
      .prepare(`INSERT OR IGNORE INTO artifacts (sha256, bytes, name, kind, state, created_at) VALUES (?, ?, ?, ?, 'receiving', ?)`)
      .run(a.sha256, a.bytes, a.name, a.kind, now());
    return this.getArtifact(a.sha256) as ArtifactRow;
  }

  /**
   * Set the chunk layout from a manifest. If a different layout was recorded before, the received chunks no longer
   * line up: they are forgotten and `reset` is true (the caller truncates the staging file).
   */
  setArtifactLayout(sha256: string, chunkSize: number, chunks: number): { reset: boolean } {
    return this.db
      .transaction(() => {
        const a = this.getArtifact(sha256);
        if (!a) throw new EdgetuneError('STORE_FAILED', `artifact ${sha256} is not known`);
        if (a.chunkSize === chunkSize && a.chunks === chunks) return { reset: false };
        const reset = a.chunkSize !== null;
        this.db.prepare('DELETE FROM chunks WHERE sha256 = ?').run(sha256);
        this.db.prepare('UPDATE artifacts SET chunk_size = ?, chunks = ?, received_chunks = 0 WHERE sha256 = ?').run(chunkSize, chunks, sha256);
        return { reset };
      })
      .immediate();
  }

  /** Mark chunk `idx` as durably written (bitmap row + count in one transaction). Returns false if already recorded. */
  recordChunk(sha256: string, idx: number, bytes: number): boolean {
    return this.db
      .transaction(() => {
        const info = this.db.prepare('INSERT OR IGNORE INTO chunks (sha256, idx, bytes) VALUES (?, ?, ?)').run(sha256, idx, bytes);
        if (info.changes === 0) return false;
        this.db.prepare('UPDATE artifacts SET received_chunks = received_chunks + 1 WHERE sha256 = ?').run(sha256);
        return true;
      })
      .immediate();
  }

  /** Indices of the chunks recorded for an artifact, ascending. */
  receivedChunks(sha256: string): number[] {
    return (this.db.prepare('SELECT idx FROM chunks WHERE sha256 = ? ORDER BY idx').all(sha256) as Array<{ idx: number }>).map((r) => r.idx);
  }

  /** Forget every received chunk (after a failed digest check the staging file is discarded). */
  resetChunks(sha256: string): void {
    this.db
      .transaction(() => {
        this.db.prepare('DELETE FROM chunks WHERE sha256 = ?').run(sha256);
        this.db.prepare('UPDATE artifacts SET received_chunks = 0 WHERE sha256 = ?').run(sha256);
      })
      .immediate();
  }

  /** Mark an artifact complete (its file is verified and in place); drops its chunk rows. */
  completeArtifact(sha256: string): void {
    this.db
      .transaction(() => {
        this.db.prepare(`UPDATE artifacts SET state = 'complete', completed_at = ? WHERE sha256 = ?`).run(now(), sha256);
        this.db.prepare('DELETE FROM chunks WHERE sha256 = ?').run(sha256);
      })
      .immediate();
  }

  /** Delete an artifact row (and its chunk rows). */
  deleteArtifact(sha256: string): void {
    this.db.prepare('DELETE FROM artifacts WHERE sha256 = ?').run(sha256);
  }

  // ---- jobs ----

  /** Insert a job; 'duplicate' if this jobId was ever seen (replay or redelivery): it must not run again. */
  insertJob(j: { jobId: string; action: string; state: JobState; payload: string; sourceTopic: string }): 'inserted' | 'duplicate' {
    const info = this.db
      .prepare('INSERT OR IGNORE INTO jobs (job_id, action, state, payload, source_topic, received_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(j.jobId, j.action, j.state, j.payload, j.sourceTopic, now());
    return info.changes === 1 ? 'inserted' : 'duplicate';
  }

  /** The job row, or undefined. */
  getJob(jobId: string): JobRow | undefined {
    const r = this.db.prepare('SELECT * FROM jobs WHERE job_id = ?').get(jobId) as Record<string, unknown> | undefined;
    return r ? jobFromRow(r) : undefined;
  }

  /** Jobs in the given states, oldest first. */
  jobsInStates(states: readonly JobState[]): JobRow[] {
    const marks = states.map(() => '?').join(',');
    return (this.db.prepare(`SELECT * FROM jobs WHERE state IN (${marks}) ORDER BY seq`).all(...states) as Record<string, unknown>[]).map(jobFromRow);
  }

  /** Number of jobs not yet finished (waiting, queued or running). */
  openJobCount(): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM jobs WHERE state IN ('waiting', 'queued', 'running')`).get() as { n: number }).n;
  }

  /** Move a job to a new state, stamping start/finish times. */
  setJobState(jobId: string, state: JobState): void {
    const t = now();
    if (state === 'running') {
      this.db.prepare('UPDATE jobs SET state = ?, started_at = ?, attempts = attempts + 1 WHERE job_id = ?').run(state, t, jobId);
    } else if (state === 'done' || state === 'failed' || state === 'refused') {
      this.db.prepare('UPDATE jobs SET state = ?, finished_at = ? WHERE job_id = ?').run(state, t, jobId);
    } else {
      this.db.prepare('UPDATE jobs SET state = ? WHERE job_id = ?').run(state, jobId);
    }
  }

  /** Jobs that were running when the agent stopped: back to queued (attempts keeps count). */
  requeueInterruptedJobs(): JobRow[] {
    return this.db
      .transaction(() => {
        const rows = this.jobsInStates(['running']);
        this.db.prepare(`UPDATE jobs SET state = 'queued' WHERE state = 'running'`).run();
        return rows;
      })
      .immediate();
  }

  // ---- reports and the outbox ----

  /**
   * Commit a report and its outbox row in one transaction, before anything is published. `build` receives the next
   * per-device sequence number and a fresh reportId and returns the report object.
   */
  commitReport<R extends { reportId: string; jobId: string; action: string; state: string; seq: number }>(
    topic: string,
    build: (seq: number, reportId: string) => R,
    jobFinalState?: { jobId: string; state: JobState },
  ): R {
    return this.db
      .transaction(() => {
        const row = this.db.prepare(`SELECT value FROM meta WHERE key = 'report_seq'`).get() as { value: string } | undefined;
        const seq = row ? Number(row.value) + 1 : 1;
        this.db.prepare(`INSERT INTO meta (key, value) VALUES ('report_seq', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(String(seq));
        const report = build(seq, newTimeOrderedId());
        const payload = JSON.stringify(report);
        const t = now();
        this.db
          .prepare('INSERT INTO reports (report_id, job_id, action, state, seq, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(report.reportId, report.jobId, report.action, report.state, report.seq, payload, t);
        this.db.prepare(`INSERT INTO outbox (id, topic, payload, state, created_at) VALUES (?, ?, ?, 'pending', ?)`).run(report.reportId, topic, payload, t);
        if (jobFinalState) this.setJobState(jobFinalState.jobId, jobFinalState.state);
        return report;
      })
      .immediate();
  }

  /**
   * Record a refused job and its failed report in one transaction. Returns null, and writes nothing, when the jobId
   * was seen before (a redelivery or a replay must not produce a second report).
   */
  refuseJob<R extends { reportId: string; jobId: string; action: string; state: string; seq: number }>(
    j: { jobId: string; action: string; payload: string; sourceTopic: string },
    topic: string,
    build: (seq: number, reportId: string) => R,
  ): R | null {
    return this.db
      .transaction(() => {
        if (this.insertJob({ ...j, state: 'refused' }) === 'duplicate') return null;
        this.db.prepare('UPDATE jobs SET finished_at = ? WHERE job_id = ?').run(now(), j.jobId);
        return this.commitReport(topic, build);
      })
      .immediate();
  }

  /** Pending outbox rows, oldest first. */
  pendingOutbox(limit: number): OutboxRow[] {
    return (
      this.db.prepare(`SELECT * FROM outbox WHERE state = 'pending' ORDER BY created_at, rowid LIMIT ?`).all(limit) as Record<string, unknown>[]
    ).map((r) => ({
      id: r.id as string,
      topic: r.topic as string,
      payload: r.payload as string,
      state: r.state as 'pending',
      attempts: r.attempts as number,
      createdAt: r.created_at as string,
    }));
  }

  /** Count of outbox rows still pending. */
  pendingOutboxCount(): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'`).get() as { n: number }).n;
  }

  /** Count a publish attempt. */
  noteOutboxAttempt(id: string): void {
    this.db.prepare('UPDATE outbox SET attempts = attempts + 1 WHERE id = ?').run(id);
  }

  /** The broker acknowledged (PUBACK) the report: mark it sent. */
  markOutboxSent(id: string): void {
    this.db.prepare(`UPDATE outbox SET state = 'sent', sent_at = ? WHERE id = ?`).run(now(), id);
  }

  /** Stored reports, oldest first (optionally for one job). */
  listReports(jobId?: string): StoredReportRow[] {
    const rows = (
      jobId === undefined
        ? this.db.prepare('SELECT * FROM reports ORDER BY seq').all()
        : this.db.prepare('SELECT * FROM reports WHERE job_id = ? ORDER BY seq').all(jobId)
    ) as Record<string, unknown>[];
    return rows.map((r) => ({
      reportId: r.report_id as string,
      jobId: r.job_id as string,
      action: r.action as string,
      state: r.state as string,
      seq: r.seq as number,
      payload: r.payload as string,
      createdAt: r.created_at as string,
    }));
  }

  /** The highest report seq committed (0 before the first report). */
  lastReportSeq(): number {
    const row = this.db.prepare(`SELECT value FROM meta WHERE key = 'report_seq'`).get() as { value: string } | undefined;
    return row ? Number(row.value) : 0;
  }

  /**
   * Put the stored reports with seq in [fromSeq, toSeq] back into the outbox as pending, byte-identical (same id,
   * same payload); a row pruned from the outbox is inserted again on `topic`. One transaction; payloads stay in
   * SQLite. Returns the seqs re-queued (ascending) and the highest seq committed.
   */
  requeueReports(fromSeq: number, toSeq: number, topic: string): { seqs: number[]; lastReportSeq: number } {
    return this.db
      .transaction(() => {
        this.db
          .prepare(
            `INSERT INTO outbox (id, topic, payload, state, created_at)
             SELECT report_id, ?, payload, 'pending', created_at FROM reports WHERE seq BETWEEN ? AND ?
             ON CONFLICT(id) DO UPDATE SET state = 'pending', sent_at = NULL`,
          )
          .run(topic, fromSeq, toSeq);
        const seqs = (this.db.prepare('SELECT seq FROM reports WHERE seq BETWEEN ? AND ? ORDER BY seq').all(fromSeq, toSeq) as Array<{ seq: number }>).map((r) => r.seq);
        return { seqs, lastReportSeq: this.lastReportSeq() };
      })
      .immediate();
  }

  /** Delete sent outbox rows older than `beforeIso` (reports themselves are kept). Returns rows removed. */
  pruneSentOutbox(beforeIso: string): number {
    return this.db.prepare(`DELETE FROM outbox WHERE state = 'sent' AND sent_at < ?`).run(beforeIso).changes;
  }

  // ---- variants ----

  /** Record a model file (named by its sha256) as a stored variant; no-op if known. */
  addVariant(v: { variantId: string; sourceSha256: string; method: string; bytes: number; details?: unknown }): VariantRow {
    this.db
      .prepare(`INSERT OR IGNORE INTO variants (variant_id, source_sha256, method, bytes, role, details, created_at) VALUES (?, ?, ?, ?, 'stored', ?, ?)`)
      .run(v.variantId, v.sourceSha256, v.method, v.bytes, v.details === undefined ? null : JSON.stringify(v.details), now());
    return this.getVariant(v.variantId) as VariantRow;
  }

  /** The variant, or undefined. */
  getVariant(variantId: string): VariantRow | undefined {
    const r = this.db.prepare('SELECT * FROM variants WHERE variant_id = ?').get(variantId) as Record<string, unknown> | undefined;
    return r ? variantFromRow(r) : undefined;
  }

  /** The variant with the given role, or undefined. */
  variantWithRole(role: 'live' | 'previous'): VariantRow | undefined {
    const r = this.db.prepare('SELECT * FROM variants WHERE role = ?').get(role) as Record<string, unknown> | undefined;
    return r ? variantFromRow(r) : undefined;
  }

  /** Every variant, newest first. */
  listVariants(): VariantRow[] {
    return (this.db.prepare('SELECT * FROM variants ORDER BY created_at DESC, variant_id').all() as Record<string, unknown>[]).map(variantFromRow);
  }

  /** Make `variantId` live; the live one becomes previous (the old previous becomes stored). */
  activateVariant(variantId: string): { live: VariantRow; previous: VariantRow | undefined } {
    return this.db
      .transaction(() => {
        const target = this.getVariant(variantId);
        if (!target) throw new EdgetuneError('JOB_INVALID', `activate: no stored variant ${variantId}`);
        if (target.role === 'live') return { live: target, previous: this.variantWithRole('previous') };
        this.db.prepare(`UPDATE variants SET role = 'stored' WHERE role = 'previous'`).run();
        this.db.prepare(`UPDATE variants SET role = 'previous' WHERE role = 'live'`).run();
        this.db.prepare(`UPDATE variants SET role = 'live' WHERE variant_id = ?`).run(variantId);
        return { live: this.getVariant(variantId) as VariantRow, previous: this.variantWithRole('previous') };
      })
      .immediate();
  }

  /** Swap live and previous; JOB_INVALID when there is no previous variant. */
  rollbackVariant(): { live: VariantRow; previous: VariantRow } {
    return this.db
      .transaction(() => {
        const live = this.variantWithRole('live');
        const previous = this.variantWithRole('previous');
        if (!previous || !live) throw new EdgetuneError('JOB_INVALID', 'rollback: there is no previous variant to go back to');
        this.db.prepare(`UPDATE variants SET role = 'stored' WHERE variant_id = ?`).run(live.variantId);
        this.db.prepare(`UPDATE variants SET role = 'live' WHERE variant_id = ?`).run(previous.variantId);
        this.db.prepare(`UPDATE variants SET role = 'previous' WHERE variant_id = ?`).run(live.variantId);
        return { live: this.getVariant(previous.variantId) as VariantRow, previous: this.getVariant(live.variantId) as VariantRow };
      })
      .immediate();
  }

  /**
   * Put the live and previous roles back to the given variants (null: none), every other variant stored, in one
   * transaction: how a failed activation is undone exactly. JOB_INVALID when a named variant is unknown.
   */
  restoreVariantRoles(roles: { live: string | null; previous: string | null }): { live: VariantRow | undefined; previous: VariantRow | undefined } {
    return this.db
      .transaction(() => {
        for (const id of [roles.live, roles.previous]) {
          if (id !== null && !this.getVariant(id)) throw new EdgetuneError('JOB_INVALID', `restore: no stored variant ${id}`);
        }
        this.db.prepare(`UPDATE variants SET role = 'stored' WHERE role IN ('live', 'previous')`).run();
        if (roles.previous !== null) this.db.prepare(`UPDATE variants SET role = 'previous' WHERE variant_id = ?`).run(roles.previous);
        if (roles.live !== null) this.db.prepare(`UPDATE variants SET role = 'live' WHERE variant_id = ?`).run(roles.live);
        return { live: this.variantWithRole('live'), previous: this.variantWithRole('previous') };
      })
      .immediate();
  }

  /** Remove a variant row; JOB_INVALID if it is the live one. */
  deleteVariant(variantId: string): VariantRow {
    return this.db
      .transaction(() => {
        const v = this.getVariant(variantId);
        if (!v) throw new EdgetuneError('JOB_INVALID', `delete: no stored variant ${variantId}`);
        if (v.role === 'live') throw new EdgetuneError('JOB_INVALID', `delete: variant ${variantId} is live; activate another one first`);
        this.db.prepare('DELETE FROM variants WHERE variant_id = ?').run(variantId);
        return v;
      })
      .immediate();
  }

  // ---- profiles ----

  /** Store a profile result for a variant. */
  addProfile(variantId: string, jobId: string | null, profile: unknown): void {
    this.db.prepare('INSERT INTO profiles (variant_id, job_id, payload, created_at) VALUES (?, ?, ?, ?)').run(variantId, jobId, JSON.stringify(profile), now());
  }

  /** Profiles of a variant, oldest first. */
  profilesOf(variantId: string): ProfileRow[] {
    return (this.db.prepare('SELECT * FROM profiles WHERE variant_id = ? ORDER BY id').all(variantId) as Record<string, unknown>[]).map((r) => ({
      id: r.id as number,
      variantId: r.variant_id as string,
      jobId: (r.job_id as string | null) ?? null,
      payload: r.payload as string,
      createdAt: r.created_at as string,
    }));
  }

  /** WAL checkpoint (cleanup schedule): keeps the -wal file from growing without bound. */
  checkpoint(): void {
    this.db.pragma('wal_checkpoint(RESTART)');
  }
}
