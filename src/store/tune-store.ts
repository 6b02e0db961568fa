/**
 * The tune store: a SQLite file of its own (`<workDir>/tune.sqlite`, WAL, synchronous=FULL on every open) that
 * keeps every finished tune candidate keyed by (model sha256, candidate id, options key), and the built model files
 * by the key of their step prefix, so that an interrupted tune continues where it stopped.
 */
import { openDatabase, type Migration, type SqliteDatabase } from './database.js';

/** Schema of the tune store, by user_version. */
export const TUNE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    describe: 'tune candidates, built artifacts, runs',
    sql: `
      CREATE TABLE tune_candidates (
        model_sha256 TEXT NOT NULL,
        candidate_id TEXT NOT NULL,
        options_key TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed', 'rejected', 'skipped')),
        attempts INTEGER NOT NULL DEFAULT 0,
        result TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        PRIMARY KEY (model_sha256, candidate_id, options_key)
      );
      CREATE TABLE tune_artifacts (
        artifact_key TEXT PRIMARY KEY,
        model_sha256 TEXT NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        report TEXT,
        created_at TEXT NOT NULL
      );
      CREATE TABLE tune_runs (
        run_id INTEGER PRIMARY KEY AUTOINCREMENT,
        model_sha256 TEXT NOT NULL,
        settings TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        state TEXT NOT NULL CHECK (state IN ('running', 'done', 'interrupted')),
        result TEXT
      );
      CREATE INDEX tune_runs_model ON tune_runs (model_sha256, run_id);
    `,
  },
];

/** Candidate states: running (started, not finished), then done | failed | rejected (accuracy bound) | skipped. */
export type TuneCandidateState = 'running' | 'done' | 'failed' | 'rejected' | 'skipped';

/** A stored candidate. */
export interface TuneCandidateRow {
  modelSha256: string;
  candidateId: string;
  optionsKey: string;
  state: TuneCandidateState;
  attempts: number;
  /** The candidate's result JSON (null while running). */
  result: unknown;
  startedAt: string;
  finishedAt: string | null;
}

/** A built model file. */
export interface TuneArtifactRow {
  artifactKey: string;
  modelSha256: string;
  path: string;
  sha256: string;
  bytes: number;
  report: unknown;
  createdAt: string;
}

/** A tune run. */
export interface TuneRunRow {
  runId: number;
  modelSha256: string;
  settings: unknown;
  startedAt: string;
  finishedAt: string | null;
  state: 'running' | 'done' | 'interrupted';
  result: unknown;
}

interface CandidateDbRow {
  model_sha256: string;
  candidate_id: string;
  options_key: string;
  state: TuneCandidateState;
  attempts: number;
  result: string | null;
  started_at: string;
  finished_at: string | null;
}

/** The tune store. Every write is one short synchronous transaction. */
export class TuneStore {
  private constructor(
    private readonly db: SqliteDatabase,
    /** The SQLite file. */
    readonly path: string,
  ) {}

  /** Open (creating and migrating) the tune store at `path`. */
  static open(path: string): TuneStore {
    return new TuneStore(openDatabase(path, TUNE_MIGRATIONS), path);
  }

  /** The stored candidate, or null. */
  getCandidate(modelSha256: string, candidateId: string, optionsKey: string): TuneCandidateRow | null {
    const row = this.db
      .prepare('SELECT * FROM tune_candidates WHERE model_sha256 = ? AND candidate_id = ? AND options_key = ?')
      .get(modelSha256, candidateId, optionsKey) as CandidateDbRow | undefined;
    return row ? toCandidate(row) : null;
  }

  /** Mark a candidate as running (attempts + 1); returns the new attempt count. */
  markRunning(modelSha256: string, candidateId: string, optionsKey: string): number {
    const now = new Date().toISOString();
    return this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO tune_candidates (model_sha256, candidate_id, options_key, state, attempts, result, started_at, finished_at)
           VALUES (?, ?, ?, 'running', 1, NULL, ?, NULL)
           ON CONFLICT (model_sha256, candidate_id, options_key)
           DO UPDATE SET state = 'running', attempts = attempts + 1, started_at = excluded.started_at, finished_at = NULL`,
        )
        .run(modelSha256, candidateId, optionsKey, now);
      const row = this.db
        .prepare('SELECT attempts FROM tune_candidates WHERE model_sha256 = ? AND candidate_id = ? AND options_key = ?')
        .get(modelSha256, candidateId, optionsKey) as { attempts: number };
      return row.attempts;
    })();
  }

  /** Record a candidate's final state and result. */
  finishCandidate(modelSha256: string, candidateId: string, optionsKey: string, state: Exclude<TuneCandidateState, 'running'>, result: unknown): void {
    const now = new Date().toISOString();
    this.db
      .prepare(
        `INSERT INTO tune_candidates (model_sha256, candidate_id, options_key, state, attempts, result, started_at, finished_at)
         VALUES (?, ?, ?, ?, 1, ?, ?, ?)
         ON CONFLICT (model_sha256, candidate_id, options_key)
         DO UPDATE SET state = excluded.state, result = excluded.result, finished_at = excluded.finished_at`,
      )
      .run(modelSha256, candidateId, optionsKey, state, JSON.stringify(result), now, now);
  }

  /** Forget a running mark (the candidate was interrupted on purpose, not by a crash). */
  clearRunning(modelSha256: string, candidateId: string, optionsKey: string): void {
    this.db
      .prepare(
        `UPDATE tune_candidates SET state = 'running', attempts = MAX(0, attempts - 1)
         WHERE model_sha256 = ? AND candidate_id = ? AND options_key = ? AND state = 'running'`,
      )
      .run(modelSha256, candidateId, optionsKey);
  }

  /** Every stored candidate of a model (any options), in insertion order. */
  candidatesOf(modelSha256: string): TuneCandidateRow[] {
    const rows = this.db.prepare('SELECT * FROM tune_candidates WHERE model_sha256 = ? ORDER BY rowid').all(modelSha256) as CandidateDbRow[];
    return rows.map(toCandidate);
  }

  /** Forget every stored candidate and artifact row of a model (`--fresh`); returns the artifact paths dropped. */
  forgetModel(modelSha256: string): string[] {
    return this.db.transaction(() => {
      const paths = (this.db.prepare('SELECT path FROM tune_artifacts WHERE model_sha256 = ?').all(modelSha256) as Array<{ path: string }>).map((r) => r.path);
      this.db.prepare('DELETE FROM tune_candidates WHERE model_sha256 = ?').run(modelSha256);
      this.db.prepare('DELETE FROM tune_artifacts WHERE model_sha256 = ?').run(modelSha256);
      return paths;
    })();
  }

  /** The built artifact for a step-prefix key, or null. */
  getArtifact(artifactKey: string): TuneArtifactRow | null {
    const row = this.db.prepare('SELECT * FROM tune_artifacts WHERE artifact_key = ?').get(artifactKey) as
      | { artifact_key: string; model_sha256: string; path: string; sha256: string; bytes: number; report: string | null; created_at: string }
      | undefined;
    if (!row) return null;
    return {
      artifactKey: row.artifact_key,
      modelSha256: row.model_sha256,
      path: row.path,
      sha256: row.sha256,
      bytes: row.bytes,
      report: row.report === null ? null : (JSON.parse(row.report) as unknown),
      createdAt: row.created_at,
    };
  }

  /** Record a built artifact (after its file is written). */
  putArtifact(row: Omit<TuneArtifactRow, 'createdAt'>): void {
    this.db
      .prepare(
        `INSERT INTO tune_artifacts (artifact_key, model_sha256, path, sha256, bytes, report, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (artifact_key) DO UPDATE SET path = excluded.path, sha256 = excluded.sha256, bytes = excluded.bytes, report = excluded.report`,
      )
      .run(row.artifactKey, row.modelSha256, row.path, row.sha256, row.bytes, JSON.stringify(row.report ?? null), new Date().toISOString());
  }

  /** Forget an artifact whose file has gone. */
  dropArtifact(artifactKey: string): void {
    this.db.prepare('DELETE FROM tune_artifacts WHERE artifact_key = ?').run(artifactKey);
  }

  /** Record the start of a run; returns its id. */
  startRun(modelSha256: string, settings: unknown): number {
    const info = this.db
      .prepare(`INSERT INTO tune_runs (model_sha256, settings, started_at, state) VALUES (?, ?, ?, 'running')`)
      .run(modelSha256, JSON.stringify(settings), new Date().toISOString());
    return Number(info.lastInsertRowid);
  }

  /** Record the end of a run. */
  finishRun(runId: number, state: 'done' | 'interrupted', result: unknown): void {
    this.db
      .prepare('UPDATE tune_runs SET state = ?, finished_at = ?, result = ? WHERE run_id = ?')
      .run(state, new Date().toISOString(), result === undefined ? null : JSON.stringify(result), runId);
  }

  /** Runs of a model, newest first. */
  runsOf(modelSha256: string): TuneRunRow[] {
    const rows = this.db.prepare('SELECT * FROM tune_runs WHERE model_sha256 = ? ORDER BY run_id DESC').all(modelSha256) as Array<{
      run_id: number;
      model_sha256: string;
      settings: string;
      started_at: string;
      finished_at: string | null;
      state: TuneRunRow['state'];
      result: string | null;
    }>;
    return rows.map((r) => ({
      runId: r.run_id,
      modelSha256: r.model_sha256,
      settings: JSON.parse(r.settings) as unknown,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      state: r.state,
      result: r.result === null ? null : (JSON.parse(r.result) as unknown),
    }));
  }

  /** journal_mode and synchronous as SQLite reports them (for tests). */
  pragmas(): { journalMode: string; synchronous: number } {
    return {
      journalMode: String(this.db.pragma('journal_mode', { simple: true })),
      synchronous: Number(this.db.pragma('synchronous', { simple: true })),
    };
  }

  /** Close the file. */
  close(): void {
    if (this.db.open) this.db.close();
  }
}

function toCandidate(row: CandidateDbRow): TuneCandidateRow {
  return {
    modelSha256: row.model_sha256,
    candidateId: row.candidate_id,
    optionsKey: row.options_key,
    state: row.state,
    attempts: row.attempts,
    result: row.result === null ? null : (JSON.parse(row.result) as unknown),
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}
