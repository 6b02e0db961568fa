import { join } from 'node:path';
import { OperatorStore, type DeviceRow } from '../store/operator-store.js';
import { Topics } from '../transport/topics.js';
import type { MqttConnection } from '../transport/mqtt-connection.js';
import type { Logger } from '../agent/logger.js';
import { FleetInbox } from './fleet-inbox.js';
import { connectOperator, type OperatorBrokerOptions } from './operator-link.js';
import { lastReportSeqOf, reportGaps } from './report-gaps.js';
import type { SeqRange } from '../util/seq-ranges.js';

/** A device as `edgetune devices` shows it. */
export interface DeviceSummary {
  deviceId: string;
  state: 'online' | 'offline' | 'unknown';
  since: string | null;
  version: string | null;
  board: string | null;
  profile: string | null;
  /** The hello's `hw.emulated`: the device runs under user-mode emulation (issue 16), its timings are not a device's; null when not said. */
  emulated: boolean | null;
  groups: string[];
  activeModel: unknown;
  lastSeen: string;
  heartbeat: unknown;
  /** The highest report seq the device's last heartbeat says it committed (null: not said). */
  lastReportSeq: number | null;
  /** Reports of this device the operator store lacks (holes in its seq, up to lastReportSeq); `edgetune resync` asks for them. */
  missingReports: number;
  /** The missing seqs as inclusive ranges. */
  missingReportSeqs: SeqRange[];
  /**
   * Seconds since the device's next heartbeat was due (its heartbeat's `nextAt`), once that is more than one
   * heartbeat period and at least {@link HEARTBEAT_GRACE_S} late; null when not overdue, offline, or not said. An
   * "online" device with an overdue heartbeat has stopped without its Last Will reaching the operator.
   */
  heartbeatOverdueSeconds: number | null;
}

/** The least lateness (seconds past `nextAt`) that counts as a missed heartbeat: jitter of a busy device is not. */
export const HEARTBEAT_GRACE_S = 5;

/** Seconds past due of an online device's heartbeat, by the rule of {@link DeviceSummary.heartbeatOverdueSeconds}. */
export function heartbeatOverdueSeconds(heartbeat: Record<string, unknown> | null, nowMs: number): number | null {
  const at = typeof heartbeat?.at === 'string' ? Date.parse(heartbeat.at) : Number.NaN;
  const next = typeof heartbeat?.nextAt === 'string' ? Date.parse(heartbeat.nextAt) : Number.NaN;
  if (!Number.isFinite(at) || !Number.isFinite(next) || next < at) return null;
  const lateMs = nowMs - next;
  return lateMs > Math.max(next - at, HEARTBEAT_GRACE_S * 1000) ? Math.round(lateMs / 1000) : null;
}

function parse(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The summary of a stored device row, with the report seqs the operator store holds for it, as of `nowMs`. */
export function summarizeDevice(row: DeviceRow, storedSeqs: readonly number[], nowMs: number = Date.now()): DeviceSummary {
  const status = parse(row.status);
  const heartbeat = parse(row.heartbeat);
  const gaps = reportGaps(storedSeqs, lastReportSeqOf(heartbeat));
  const hello = parse(row.hello);
  const hw = hello && typeof hello.hw === 'object' && hello.hw !== null ? (hello.hw as Record<string, unknown>) : null;
  const state = row.state === 'online' || row.state === 'offline' ? row.state : 'unknown';
  return {
    deviceId: row.deviceId,
    state,
    since: typeof status?.since === 'string' ? status.since : null,
    version: typeof status?.version === 'string' ? status.version : typeof hello?.version === 'string' ? hello.version : null,
    board: typeof hw?.board === 'string' ? hw.board : null,
    profile: typeof hello?.profile === 'string' ? hello.profile : typeof hw?.profile === 'string' ? hw.profile : null,
    emulated: typeof hw?.emulated === 'boolean' ? hw.emulated : null,
    groups: Array.isArray(hello?.groups) ? (hello.groups as unknown[]).filter((g): g is string => typeof g === 'string') : [],
    activeModel: hello?.activeModel ?? null,
    lastSeen: row.lastSeen,
    heartbeat,
    lastReportSeq: gaps.lastReportSeq,
    missingReports: gaps.missingCount,
    missingReportSeqs: gaps.missing,
    heartbeatOverdueSeconds: state === 'online' ? heartbeatOverdueSeconds(heartbeat, nowMs) : null,
  };
}

/** Caller input for {@link listDevices}. */
export interface ListDevicesOptions {
  broker: OperatorBrokerOptions;
  topicPrefix: string;
  operatorDataDir: string;
  /** Gather retained messages for this long after subscribing (default 1500 ms). */
  settleMs?: number;
  log: Logger;
}

/** Read every device's retained status / hello / heartbeat from the broker into the operator store; list them. */
export async function listDevices(o: ListDevicesOptions): Promise<DeviceSummary[]> {
  const topics = new Topics(o.topicPrefix);
  const store = new OperatorStore(join(o.operatorDataDir, 'operator.db'));
  const inbox = new FleetInbox(store, topics, o.log);
  let connection: MqttConnection | null = null;
  try {
    connection = await connectOperator(
      o.broker,
      (m) => {
        const parsed = topics.parse(m.topic);
        if (parsed) inbox.handle(parsed, m.payload);
      },
      o.log.child('mqtt'),
    );
    await connection.subscribe([topics.allDevices('status'), topics.allDevices('hello'), topics.allDevices('heartbeat')], 1);
    await new Promise((r) => setTimeout(r, o.settleMs ?? 1500));
    return store.listDevices().map((row) => summarizeDevice(row, store.reportSeqs(row.deviceId)));
  } finally {
    await connection?.stop();
    store.close();
  }
}
