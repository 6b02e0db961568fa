import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { OperatorStore } from '../store/operator-store.js';
import type { MqttConnection } from '../transport/mqtt-connection.js';
import { parsePrivateKey } from '../transport/signature.js';
import { Topics } from '../transport/topics.js';
import { EdgetuneError, messageOf } from '../util/errors.js';
import type { Logger } from '../agent/logger.js';
import { FleetInbox } from './fleet-inbox.js';
import { connectOperator, type OperatorBrokerOptions } from './operator-link.js';
import { pushJob } from './push-job.js';
import { lastReportSeqOf, reportGaps, resendWindows, DEFAULT_RESEND_LIMITS, type ResendWindowLimits } from './report-gaps.js';
import { countSeqs, intersectRanges, seqRanges, subtractRanges, unionRanges, type SeqRange } from '../util/seq-ranges.js';

/** Caller input for {@link resyncReports}. */
export interface ResyncOptions {
  broker: OperatorBrokerOptions;
  topicPrefix: string;
  operatorDataDir: string;
  /** ed25519 private key (PEM) that signs the `resend-reports` jobs; unsigned without it. */
  keyPath?: string;
  /** Only these devices (default: every device the operator store knows). */
  devices?: string[];
  /** Per job: how long to wait for the device's report and the reports it re-sends. */
  timeoutMs: number;
  /** Gather retained status / heartbeat for this long before computing gaps (default 1500 ms). */
  settleMs?: number;
  chunkSizeBytes: number;
  /** Devices worked on at once (default 4; each has its own push connection). */
  concurrency?: number;
  limits?: ResendWindowLimits;
  log: Logger;
}

/** One `resend-reports` job and what the device answered. */
export interface ResyncJob {
  jobId: string | null;
  fromSeq: number;
  toSeq: number;
  /** ok: the device re-sent what it has; failed: its report is a failure; no-answer: no report within the timeout. */
  outcome: 'ok' | 'failed' | 'no-answer';
  resentCount: number;
  /** Seqs in the range the device says it does not have. */
  notStored: SeqRange[];
  /** The highest seq the device had committed when the job ran (null unless ok). */
  lastReportSeq: number | null;
  error: { code: string; message: string } | null;
}

/** What resync did for one device. */
export interface DeviceResync {
  deviceId: string;
  state: 'online' | 'offline' | 'unknown';
  /** The heartbeat's `lastReportSeq` (null: the device has not said; a lost newest report cannot be seen). */
  lastReportSeq: number | null;
  missingBefore: SeqRange[];
  missingBeforeCount: number;
  jobs: ResyncJob[];
  recovered: SeqRange[];
  recoveredCount: number;
  stillMissing: SeqRange[];
  stillMissingCount: number;
  /** The device's own statement: seqs it does not have (within stillMissing). */
  notStoredOnDevice: SeqRange[];
  /** Missing seqs no job asked for (device offline, or over the per-run job limit). */
  notAsked: SeqRange[];
  note: string | null;
}

/** What {@link resyncReports} did. */
export interface ResyncResult {
  devices: DeviceResync[];
  jobsPushed: number;
  recoveredCount: number;
  stillMissingCount: number;
  seconds: number;
}

const seqRangeListSchema = z.array(z.tuple([z.number().int().min(1), z.number().int().min(1)]).refine(([from, to]) => from <= to));
const resendSchema = z.object({ resentCount: z.number(), resent: seqRangeListSchema, notStored: seqRangeListSchema, lastReportSeq: z.number() });

/** The `resend` object of a resend-reports report (null when it is not one). */
function resendOf(report: Record<string, unknown>): { resentCount: number; resent: SeqRange[]; notStored: SeqRange[]; lastReportSeq: number } | null {
  const parsed = resendSchema.safeParse(report.resend);
  return parsed.success ? parsed.data : null;
}

/**
 * Recover reports the operator store lacks: read every device's retained status and heartbeat, compute the holes in
 * its report seq (up to the heartbeat's `lastReportSeq`), push signed `resend-reports` jobs covering them, and store
 * the reports the devices re-send (de-duplicated by reportId). Offline devices are not asked.
 */
export async function resyncReports(o: ResyncOptions): Promise<ResyncResult> {
  const started = Date.now();
  if (o.keyPath !== undefined) {
    let pem: Buffer;
    try {
      pem = readFileSync(o.keyPath);
    } catch (error) {
      throw new EdgetuneError('USAGE', `--key ${o.keyPath} cannot be read: ${messageOf(error)}`, { cause: error });
    }
    parsePrivateKey(pem, o.keyPath);
  }
  const limits = o.limits ?? DEFAULT_RESEND_LIMITS;
  const topics = new Topics(o.topicPrefix);
  const store = new OperatorStore(join(o.operatorDataDir, 'operator.db'));
  const inbox = new FleetInbox(store, topics, o.log);
  // The push connections must not share a persistent session name with this listener (same client id).
  const { sessionName: _session, ...pushBroker } = o.broker;
  let listener: MqttConnection | null = null;
  try {
    listener = await connectOperator(
      o.broker,
      (m) => {
        const parsed = topics.parse(m.topic);
        if (parsed) inbox.handle(parsed, m.payload);
      },
      o.log.child('mqtt'),
    );
    const reportFilters = o.devices ? o.devices.map((d) => topics.device(d, 'reports')) : [topics.allDevices('reports')];
    await listener.subscribe([topics.allDevices('status'), topics.allDevices('heartbeat'), ...reportFilters], 1);
    await sleep(o.settleMs ?? 1500);

    const rows = new Map(store.listDevices().map((r) => [r.deviceId, r]));
    const ids = o.devices ?? [...new Set([...rows.keys(), ...store.reportDeviceIds()])].sort();
    const plans = ids.map((deviceId) => {
      const row = rows.get(deviceId);
      let heartbeat: unknown = null;
      try {
        heartbeat = row?.heartbeat ? JSON.parse(row.heartbeat) : null;
      } catch {
        heartbeat = null;
      }
      const state: DeviceResync['state'] = row?.state === 'online' || row?.state === 'offline' ? row.state : 'unknown';
      const gaps = reportGaps(store.reportSeqs(deviceId), lastReportSeqOf(heartbeat));
      return { deviceId, state, gaps };
    });

    /** One signed resend-reports job, then a wait for the reports the device says it re-sent. */
    const runResendJob = async (deviceId: string, w: { fromSeq: number; toSeq: number }): Promise<ResyncJob> => {
      const jobStarted = Date.now();
      const job: ResyncJob = { jobId: null, fromSeq: w.fromSeq, toSeq: w.toSeq, outcome: 'no-answer', resentCount: 0, notStored: [], lastReportSeq: null, error: null };
      let pushed;
      try {
        pushed = await pushJob({
          target: { device: deviceId },
          action: 'resend-reports',
          broker: pushBroker,
          topicPrefix: o.topicPrefix,
          ...(o.keyPath !== undefined ? { keyPath: o.keyPath } : {}),
          wait: true,
          timeoutMs: o.timeoutMs,
          chunkSizeBytes: o.chunkSizeBytes,
          operatorDataDir: o.operatorDataDir,
          jobOptions: { fromSeq: w.fromSeq, toSeq: w.toSeq },
          // a device in the operator store the broker no longer has a retained status for: wait for it (timed out: no answer)
          queue: true,
          log: o.log.child('push'),
        });
      } catch (error) {
        if (error instanceof EdgetuneError && error.code === 'RUNTIME_FAILED' && /timed out/.test(error.message)) {
          return { ...job, error: { code: error.code, message: error.message } };
        }
        throw error;
      }
      job.jobId = pushed.jobId;
      const report = pushed.reports.find((r) => r.deviceId === deviceId);
      if (!report) return { ...job, error: { code: 'RUNTIME_FAILED', message: `no report from ${deviceId}` } };
      if (report.state !== 'ok') return { ...job, outcome: 'failed', error: report.error ?? { code: 'RUNTIME_FAILED', message: 'failed without an error' } };
      const resend = resendOf(report as Record<string, unknown>);
      if (!resend) return { ...job, outcome: 'failed', error: { code: 'RUNTIME_FAILED', message: `report ${report.reportId} has no valid 'resend' result` } };
      // The re-sent reports were published before the job's own report; wait for any still on the way.
      const deadline = jobStarted + o.timeoutMs;
      while (subtractRanges(resend.resent, seqRanges(store.reportSeqs(deviceId))).length > 0 && Date.now() <= deadline) await sleep(100);
      return { ...job, outcome: 'ok', resentCount: resend.resentCount, notStored: resend.notStored, lastReportSeq: resend.lastReportSeq };
    };

    let jobsPushed = 0;
    const resyncOne = async (p: (typeof plans)[number]): Promise<DeviceResync> => {
      const jobs: ResyncJob[] = [];
      let notAsked: SeqRange[] = [];
      let note: string | null = null;
      if (p.gaps.missingCount > 0 && p.state === 'offline') {
        notAsked = p.gaps.missing;
        note = 'offline: not asked; run resync again when it is online';
      } else if (p.gaps.missingCount > 0) {
        const { windows, rest } = resendWindows(p.gaps.missing, limits);
        notAsked = rest;
        if (rest.length > 0) note = `more than ${limits.maxJobs} jobs' worth of holes; run resync again for the rest`;
        for (const w of windows) {
          jobsPushed++;
          jobs.push(await runResendJob(p.deviceId, w));
        }
      }
      const have = seqRanges(store.reportSeqs(p.deviceId));
      const stillMissing = subtractRanges(p.gaps.missing, have);
      const recovered = subtractRanges(p.gaps.missing, stillMissing);
      const notStoredOnDevice = intersectRanges(stillMissing, unionRanges(...jobs.map((j) => j.notStored)));
      return {
        deviceId: p.deviceId,
        state: p.state,
        lastReportSeq: p.gaps.lastReportSeq,
        missingBefore: p.gaps.missing,
        missingBeforeCount: p.gaps.missingCount,
        jobs,
        recovered,
        recoveredCount: countSeqs(recovered),
        stillMissing,
        stillMissingCount: countSeqs(stillMissing),
        notStoredOnDevice,
        notAsked,
        note,
      };
    };

    const results: DeviceResync[] = new Array(plans.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < plans.length) {
        const i = next++;
        results[i] = await resyncOne(plans[i] as (typeof plans)[number]);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 4, plans.length)) }, worker));
    return {
      devices: results,
      jobsPushed,
      recoveredCount: results.reduce((n, d) => n + d.recoveredCount, 0),
      stillMissingCount: results.reduce((n, d) => n + d.stillMissingCount, 0),
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await listener?.stop();
    store.close();
  }
}
