import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from './database.js';
import { EdgetuneError, messageOf } from '../util/errors.js';

/** The tables every operator store has had since its first schema version (migrations.ts OPERATOR_MIGRATIONS v1). */
const OPERATOR_TABLES = ['reports', 'devices', 'pushes'] as const;

/** What {@link checkOperatorStore} found: a store to open, or an empty (or absent) directory where one may start. */
export interface OperatorStoreCheck {
  /** `--data-dir/operator.db`. */
  path: string;
  /** true: operator.db exists and is an operator store; false: the directory is empty or absent, a new store starts there. */
  exists: boolean;
}

/**
 * Check, without writing anything, that `dataDir` is an operator store (its operator.db is SQLite with the operator
 * tables) or an empty / absent directory where one can start. Anything else (a file, an agent's data dir, a
 * database of another schema) is USAGE naming what was found, so that no migration ever runs on a stranger's file.
 */
export function checkOperatorStore(dataDir: string): OperatorStoreCheck {
  const path = join(dataDir, 'operator.db');
  if (!existsSync(dataDir)) return { path, exists: false };
  if (!statSync(dataDir).isDirectory()) throw new EdgetuneError('USAGE', `--data-dir ${dataDir} is not a directory (it should hold the operator store, operator.db)`);
  if (!existsSync(path)) {
    const entries = readdirSync(dataDir);
    if (entries.length === 0) return { path, exists: false };
    const agent = entries.includes('agent.db') ? "; it holds agent.db: this is an agent's data dir, not the operator's" : '';
    throw new EdgetuneError('USAGE', `--data-dir ${dataDir} is not an operator store: it has no operator.db but ${entries.length} other entr${entries.length === 1 ? 'y' : 'ies'} (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''})${agent}`);
  }
  // Reading a WAL database makes SQLite create its -wal / -shm files; a refused file gets them removed again.
  const sidecars = ['-wal', '-shm'].map((suffix) => `${path}${suffix}`).filter((p) => !existsSync(p));
  const refuse = (message: string, cause?: unknown): EdgetuneError => {
    for (const p of sidecars) rmSync(p, { force: true });
    return new EdgetuneError('USAGE', message, cause === undefined ? undefined : { cause });
  };
  let tables: string[];
  try {
    const db = openDatabase(path, [], { readonly: true });
    try {
      tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((r) => r.name);
    } finally {
      db.close();
    }
  } catch (error) {
    throw refuse(`--data-dir ${dataDir} is not an operator store: ${path} cannot be read as SQLite (${messageOf(error)})`, error);
  }
  const missing = OPERATOR_TABLES.filter((t) => !tables.includes(t));
  if (missing.length > 0) {
    throw refuse(`--data-dir ${dataDir} is not an operator store: ${path} lacks the table${missing.length === 1 ? '' : 's'} ${missing.join(', ')}`);
  }
  return { path, exists: true };
}

/** A push the operator recorded (the pushes table). */
export interface PushRow {
  jobId: string;
  /** `device:ID` or `group:G`. */
  target: string;
  action: string;
  artifactSha256: string | null;
  artifactName: string | null;
  createdAt: string;
}

/** Every recorded push, newest first (at most `limit`). Read-only; the store's own methods write them. */
export function listPushes(store: { db: { prepare(sql: string): { all(...args: unknown[]): unknown[] } } }, limit = 1000): PushRow[] {
  const rows = store.db.prepare('SELECT job_id, target, action, artifact_sha256, artifact_name, created_at FROM pushes ORDER BY created_at DESC LIMIT ?').all(limit) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    jobId: r.job_id as string,
    target: r.target as string,
    action: r.action as string,
    artifactSha256: (r.artifact_sha256 as string | null) ?? null,
    artifactName: (r.artifact_name as string | null) ?? null,
    createdAt: r.created_at as string,
  }));
}
