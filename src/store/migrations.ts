import type { Migration } from './database.js';

/** Schema of the agent's store (dataDir/agent.db). */
export const AGENT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    describe: 'artifacts, chunks, jobs, reports, outbox, variants, profiles, meta',
    sql: `
      CREATE TABLE artifacts (
        sha256 TEXT PRIMARY KEY,
        bytes INTEGER NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('model', 'dataset')),
        chunk_size INTEGER,
        chunks INTEGER,
        received_chunks INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL CHECK (state IN ('receiving', 'complete')),
        created_at TEXT NOT NULL,
        completed_at TEXT
      );
      -- The received-chunk bitmap: one row per chunk on disk, written in the same transaction as the count.
      CREATE TABLE chunks (
        sha256 TEXT NOT NULL REFERENCES artifacts(sha256) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        PRIMARY KEY (sha256, idx)
      ) WITHOUT ROWID;
      CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL UNIQUE,
        action TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('waiting', 'queued', 'running', 'done', 'failed', 'refused')),
        payload TEXT NOT NULL,
        source_topic TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        received_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT
      );
      CREATE INDEX jobs_state ON jobs(state, seq);
      CREATE TABLE reports (
        report_id TEXT PRIMARY KEY,
        job_id TEXT NOT NULL,
        action TEXT NOT NULL,
        state TEXT NOT NULL,
        seq INTEGER NOT NULL UNIQUE,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX reports_job ON reports(job_id);
      CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        topic TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'sent')),
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        sent_at TEXT
      );
      CREATE INDEX outbox_pending ON outbox(state, created_at);
      CREATE TABLE variants (
        variant_id TEXT PRIMARY KEY,
        source_sha256 TEXT NOT NULL,
        method TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('stored', 'live', 'previous')),
        details TEXT,
        created_at TEXT NOT NULL
      );
      CREATE UNIQUE INDEX variants_one_live ON variants(role) WHERE role = 'live';
      CREATE UNIQUE INDEX variants_one_previous ON variants(role) WHERE role = 'previous';
      CREATE TABLE profiles (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        variant_id TEXT NOT NULL,
        job_id TEXT,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX profiles_variant ON profiles(variant_id, id);
      CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
];

/** Schema of the operator's store (--data-dir/operator.db). */
export const OPERATOR_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    describe: 'reports (de-duplicated by reportId), devices, pushes',
    sql: `
      CREATE TABLE reports (
        report_id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        action TEXT NOT NULL,
        state TEXT NOT NULL,
        model_sha256 TEXT,
        seq INTEGER NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        received_at TEXT NOT NULL
      );
      CREATE INDEX reports_device ON reports(device_id, created_at);
      CREATE INDEX reports_model ON reports(model_sha256, created_at);
      CREATE INDEX reports_job ON reports(job_id);
      CREATE TABLE devices (
        device_id TEXT PRIMARY KEY,
        state TEXT,
        status TEXT,
        hello TEXT,
        heartbeat TEXT,
        last_seen TEXT NOT NULL
      );
      CREATE TABLE pushes (
        job_id TEXT PRIMARY KEY,
        target TEXT NOT NULL,
        action TEXT NOT NULL,
        artifact_sha256 TEXT,
        artifact_name TEXT,
        created_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    describe: 'staged rollouts (issue 18): rollouts, their stages, each device and its job',
    sql: `
      CREATE TABLE rollouts (
        rollout_id TEXT PRIMARY KEY,
        group_name TEXT NOT NULL,
        action TEXT NOT NULL,
        model_path TEXT NOT NULL,
        model_sha256 TEXT NOT NULL,
        settings TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('running', 'rolling-back', 'completed', 'aborted', 'halted')),
        current_stage INTEGER NOT NULL,
        reason TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE rollout_stages (
        rollout_id TEXT NOT NULL REFERENCES rollouts(rollout_id) ON DELETE CASCADE,
        stage INTEGER NOT NULL,
        percent REAL NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'passed', 'halted', 'aborted')),
        started_at TEXT,
        deadline_at TEXT,
        finished_at TEXT,
        reason TEXT,
        PRIMARY KEY (rollout_id, stage)
      ) WITHOUT ROWID;
      CREATE TABLE rollout_devices (
        rollout_id TEXT NOT NULL REFERENCES rollouts(rollout_id) ON DELETE CASCADE,
        device_id TEXT NOT NULL,
        stage INTEGER NOT NULL,
        rank INTEGER NOT NULL,
        job_id TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN ('pending', 'succeeded', 'failed', 'skipped')),
        reason TEXT,
        activated INTEGER NOT NULL DEFAULT 0,
        latency_ms REAL,
        rollback_job_id TEXT,
        rollback_state TEXT CHECK (rollback_state IN ('ok', 'failed')),
        rollback_reason TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (rollout_id, device_id)
      ) WITHOUT ROWID;
      CREATE INDEX rollout_devices_stage ON rollout_devices(rollout_id, stage, rank);
      CREATE INDEX pushes_target ON pushes(target, created_at);
    `,
  },
];
