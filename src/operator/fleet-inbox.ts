import type { OperatorStore } from '../store/operator-store.js';
import { decodeMessage, type ReportMessage } from '../transport/messages.js';
import type { Topics, ParsedTopic } from '../transport/topics.js';
import { messageOf } from '../util/errors.js';
import type { Logger } from '../agent/logger.js';

/** Largest report accepted (reports may carry per-op profiles). */
export const MAX_REPORT_BYTES = 16 * 1024 * 1024;
/** Largest status/hello/heartbeat accepted. */
export const MAX_DEVICE_MESSAGE_BYTES = 1024 * 1024;

/** The model a report is about, for comparisons: the pushed artifact, else the variant's source. */
export function reportModelSha(report: ReportMessage): string | null {
  if (report.artifact?.sha256) return report.artifact.sha256;
  const variant = (report as { variant?: { sourceSha256?: unknown } }).variant;
  return typeof variant?.sourceSha256 === 'string' ? variant.sourceSha256 : null;
}

/**
 * Stores what devices publish: reports (INSERT OR IGNORE by reportId, so redeliveries are harmless) and the
 * retained status / hello / heartbeat. Malformed messages are logged and dropped.
 */
export class FleetInbox {
  private readonly store: OperatorStore;
  private readonly topics: Topics;
  private readonly log: Logger;

  constructor(store: OperatorStore, topics: Topics, log: Logger) {
    this.store = store;
    this.topics = topics;
    this.log = log;
  }

  /** Handle one device message; returns the report if it was one (new or not) from the topic's device. */
  handle(parsed: ParsedTopic, payload: Buffer): { report: ReportMessage; isNew: boolean } | null {
    if (!('deviceId' in parsed) || parsed.kind === 'device-chunk') return null;
    const deviceId = parsed.deviceId;
    try {
      switch (parsed.kind) {
        case 'reports': {
          const report = decodeMessage('reports', payload, MAX_REPORT_BYTES);
          if (report.deviceId !== deviceId) {
            this.log.warn(`report ${report.reportId} on ${deviceId}'s topic claims device ${report.deviceId}; dropped`);
            return null;
          }
          const isNew = this.store.insertReport({
            reportId: report.reportId,
            deviceId,
            jobId: report.jobId,
            action: report.action,
            state: report.state,
            seq: report.seq,
            createdAt: report.createdAt,
            modelSha256: reportModelSha(report),
            payload: payload.toString('utf8'),
          });
          return { report, isNew };
        }
        case 'status': {
          if (payload.length === 0) return null;
          const status = decodeMessage('status', payload, MAX_DEVICE_MESSAGE_BYTES);
          this.store.upsertDevice(deviceId, { state: status.state, status: payload.toString('utf8') });
          return null;
        }
        case 'hello':
          if (payload.length === 0) return null;
          decodeMessage('hello', payload, MAX_DEVICE_MESSAGE_BYTES);
          this.store.upsertDevice(deviceId, { hello: payload.toString('utf8') });
          return null;
        case 'heartbeat':
          if (payload.length === 0) return null;
          decodeMessage('heartbeat', payload, MAX_DEVICE_MESSAGE_BYTES);
          this.store.upsertDevice(deviceId, { heartbeat: payload.toString('utf8') });
          return null;
        default:
          return null;
      }
    } catch (error) {
      this.log.warn(`${this.topics.device(deviceId, parsed.kind)}: ${messageOf(error)}; dropped`);
      return null;
    }
  }
}
