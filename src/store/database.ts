import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { EdgetuneError, messageOf } from '../util/errors.js';

/** An open better-sqlite3 connection (the type, for the store classes in this directory). */
export type SqliteDatabase = Database.Database;

/** One schema step; `user_version` records how many have run. */
export interface Migration {
  /** Target user_version after this step (1, 2, ...). */
  version: number;
  describe: string;
  sql: string;
}

/** Options for {@link openDatabase}. */
export interface OpenDatabaseOptions {
  readonly?: boolean;
  /** busy_timeout in ms (default 5000). */
  busyTimeoutMs?: number;
}

/**
 * Open a SQLite file with the settings edgetune relies on: WAL, synchronous=FULL on every open (better-sqlite3
 * reopens WAL databases at NORMAL), foreign keys on, busy_timeout; then run pending migrations in one transaction.
 */
export function openDatabase(path: string, migrations: readonly Migration[], options: OpenDatabaseOptions = {}): SqliteDatabase {
  let db: SqliteDatabase;
  try {
    if (!options.readonly) mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false, timeout: options.busyTimeoutMs ?? 5000 });
  } catch (error) {
    throw new EdgetuneError('STORE_FAILED', `cannot open SQLite store ${path}: ${messageOf(error)}`, { cause: error });
  }
  try {
    if (!options.readonly) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    if (!options.readonly) migrate(db, migrations, path);
  } catch (error) {
    db.close();
    if (error instanceof EdgetuneError) throw error;
    throw new EdgetuneError('STORE_FAILED', `cannot prepare SQLite store ${path}: ${messageOf(error)}`, { cause: error });
  }
  return db;
}

/** Apply the migrations above the file's user_version, in order, atomically. */
export function migrate(db: SqliteDatabase, migrations: readonly Migration[], label: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
  if (current > latest) {
    throw new EdgetuneError('STORE_FAILED', `${label} has schema version ${current}, newer than this edgetune (${latest}); upgrade edgetune`);
  }
  const pending = [...migrations].filter((m) => m.version > current).sort((a, b) => a.version - b.version);
  if (pending.length === 0) return;
  db.transaction(() => {
    for (const m of pending) {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }
  }).immediate();
}
