import { openDatabase, type SqliteDatabase } from './database.js';
import { OPERATOR_MIGRATIONS } from './migrations.js';

/** A report as the operator stored it. */
export interface OperatorReportRow {
  reportId: string;
  deviceId: string;
  jobId: string;
  action: string;
  state: string;
  modelSha256: string | null;
  seq: number;
  payload: string;
  createdAt: string;
  receivedAt: string;
}

/** A device as last seen through its retained topics. */
export interface DeviceRow {
  deviceId: string;
  state: string | null;
  status: string | null;
  hello: string | null;
  heartbeat: string | null;
  lastSeen: string;
}

/** Fields of a report the operator indexes. */
export interface OperatorReportInput {
  reportId: string;
  deviceId: string;
  jobId: string;
  action: string;
  state: string;
  seq: number;
  createdAt: string;
  modelSha256: string | null;
  payload: string;
}

function reportFromRow(r: Record<string, unknown>): OperatorReportRow {
  return {
    reportId: r.report_id as string,
    deviceId: r.device_id as string,
    jobId: r.job_id as string,
    action: r.action as string,
    state: r.state as string,
    modelSha256: (r.model_sha256 as string | null) ?? null,
    seq: r.seq as number,
    payload: r.payload as string,
    createdAt: r.created_at as string,
    receivedAt: r.received_at as string,
  };
}

/** The operator's store (reports de-duplicated by reportId, devices, pushes). */
export class OperatorStore {
  readonly db: SqliteDatabase;

  constructor(path: string, options: { readonly?: boolean } = {}) {
    this.db = openDatabase(path, OPERATOR_MIGRATIONS, options);
  }

  /** Close the connection. */
  close(): void {
    if (this.db.open) this.db.close();
  }

  /**
   * SQLite's `PRAGMA data_version`: it changes when another connection (an `edgetune rollout` or `push` process)
   * commits to the store, not when this one does.
   */
  dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  /** Insert a report unless its reportId is already stored (redelivery): true when it was new. */
  insertReport(r: OperatorReportInput): boolean {
    const info = this.db
      .prepare(
        `INSERT INTO reports (report_id, device_id, job_id, action, state, model_sha256, seq, payload, created_at, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(report_id) DO NOTHING`,
      )
      .run(r.reportId, r.deviceId, r.jobId, r.action, r.state, r.modelSha256, r.seq, r.payload, r.createdAt, new Date().toISOString());
    return info.changes === 1;
  }

  /** Reports filtered by device and/or model sha256, oldest first. */
  listReports(filter: { deviceId?: string; modelSha256?: string; jobId?: string } = {}): OperatorReportRow[] {
    const where: string[] = [];
    const args: string[] = [];
    if (filter.deviceId !== undefined) {
      where.push('device_id = ?');
      args.push(filter.deviceId);
    }
    if (filter.modelSha256 !== undefined) {
      where.push('model_sha256 = ?');
      args.push(filter.modelSha256);
    }
    if (filter.jobId !== undefined) {
      where.push('job_id = ?');
      args.push(filter.jobId);
    }
    const sql = `SELECT * FROM reports ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, device_id, seq`;
    return (this.db.prepare(sql).all(...args) as Record<string, unknown>[]).map(reportFromRow);
  }

  /** The distinct report seqs stored for a device, ascending. */
  reportSeqs(deviceId: string): number[] {
    return (this.db.prepare('SELECT DISTINCT seq FROM reports WHERE device_id = ? ORDER BY seq').all(deviceId) as Array<{ seq: number }>).map((r) => r.seq);
  }

  /** Ids of the devices that have reports stored, sorted. */
  reportDeviceIds(): string[] {
    return (this.db.prepare('SELECT DISTINCT device_id FROM reports ORDER BY device_id').all() as Array<{ device_id: string }>).map((r) => r.device_id);
  }

  /** Record what a device's retained topics say. */
  upsertDevice(deviceId: string, update: { state?: string; status?: string; hello?: string; heartbeat?: string }): void {
    const t = new Date().toISOString();
    this.db
      .prepare(
        `INSERT INTO devices (device_id, state, status, hello, heartbeat, last_seen) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(device_id) DO UPDATE SET
           state = COALESCE(excluded.state, devices.state),
           status = COALESCE(excluded.status, devices.status),
           hello = COALESCE(excluded.hello, devices.hello),
           heartbeat = COALESCE(excluded.heartbeat, devices.heartbeat),
           last_seen = excluded.last_seen`,
      )
      .run(deviceId, update.state ?? null, update.status ?? null, update.hello ?? null, update.heartbeat ?? null, t);
  }

  /** Every device seen, by id. */
  listDevices(): DeviceRow[] {
    return (this.db.prepare('SELECT * FROM devices ORDER BY device_id').all() as Record<string, unknown>[]).map((r) => ({
      deviceId: r.device_id as string,
      state: (r.state as string | null) ?? null,
      status: (r.status as string | null) ?? null,
      hello: (r.hello as string | null) ?? null,
      heartbeat: (r.heartbeat as string | null) ?? null,
      lastSeen: r.last_seen as string,
    }));
  }

  /** Remember a push (for `results` to name models). */
  recordPush(p: { jobId: string; target: string; action: string; artifactSha256: string | null; artifactName: string | null }): void {
    this.db
      .prepare('INSERT OR IGNORE INTO pushes (job_id, target, action, artifact_sha256, artifact_name, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(p.jobId, p.target, p.action, p.artifactSha256, p.artifactName, new Date().toISOString());
  }

  /** Model names the operator pushed, by sha256. */
  artifactNames(): Map<string, string> {
    const rows = this.db.prepare('SELECT artifact_sha256, artifact_name FROM pushes WHERE artifact_sha256 IS NOT NULL ORDER BY created_at').all() as Array<{
      artifact_sha256: string;
      artifact_name: string | null;
    }>;
    const out = new Map<string, string>();
    for (const r of rows) if (r.artifact_name) out.set(r.artifact_sha256, r.artifact_name);
    return out;
  }
}
