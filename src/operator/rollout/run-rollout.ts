import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256OfFile } from '../../agent/artifact-receiver.js';
import type { Logger } from '../../agent/logger.js';
import { jobOptionProblems } from '../../agent/actions/job-option-schemas.js';
import { DEVICE_ID_PATTERN } from '../../config/agent-config-schema.js';
import { decodeModel } from '../../onnx/model-codec.js';
import { OperatorStore } from '../../store/operator-store.js';
import { RolloutStore, type RolloutDeviceRow, type RolloutRow } from '../../store/rollout-store.js';
import { decodeMessage, type JobAction, type RequestMessage } from '../../transport/messages.js';
import type { MqttConnection } from '../../transport/mqtt-connection.js';
import { parsePrivateKey } from '../../transport/signature.js';
import { Topics } from '../../transport/topics.js';
import { EdgetuneError, errorCodeOf, messageOf } from '../../util/errors.js';
import { ArtifactServer } from '../artifact-server.js';
import { FleetInbox, MAX_DEVICE_MESSAGE_BYTES } from '../fleet-inbox.js';
import { connectOperator, type OperatorBrokerOptions } from '../operator-link.js';
import { pushJob } from '../push-job.js';
import { checkRolloutCriteria, decideStage, judgeReport, planStages, type RolloutCriteria } from './rollout-plan.js';
import { readRolloutStatus, type RolloutStatus } from './rollout-status.js';

export type { RolloutStatus } from './rollout-status.js';

/** Actions a rollout can stage: both make a model live on the device and report how it went. */
export const ROLLOUT_ACTIONS = ['deploy', 'tune'] as const;
/** An action a rollout stages. */
export type RolloutAction = (typeof ROLLOUT_ACTIONS)[number];

/** What a rollout keeps in its store row besides the model and group: everything a resume needs. */
export interface RolloutSettings extends RolloutCriteria {
  stageTimeoutS: number;
  rollbackOnAbort: boolean;
  /** Seconds to wait after a stage passes before the next one starts (a soak time; 0: none). */
  bakeS: number;
  jobOptions: Record<string, unknown>;
  dataDir: string | null;
  keyPath: string | null;
}

/** How the rollout reaches the broker and the store (given again on a resume). */
export interface RolloutConnection {
  broker: OperatorBrokerOptions;
  topicPrefix: string;
  chunkSizeBytes: number;
  /** The operator's store directory (operator.db holds the rollout). */
  operatorDataDir: string;
  log: Logger;
  /** One line per step (stage started, passed, device failed, rollback …), for stderr. */
  onEvent?: (line: string) => void;
  signal?: AbortSignal;
}

/** Caller input for {@link startRollout}. */
export interface StartRolloutOptions extends RolloutConnection, Omit<RolloutSettings, 'keyPath' | 'dataDir'> {
  /** Rollout id (default: generated); `[A-Za-z0-9_-]{1,64}`, unique in the store. */
  rolloutId?: string;
  modelPath: string;
  group: string;
  action: RolloutAction;
  dataDir?: string;
  keyPath?: string;
  /** How long to gather retained hello/status to learn the group's members (default 1500 ms). */
  discoveryMs?: number;
}

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

function settingsOf(row: RolloutRow): RolloutSettings {
  return JSON.parse(row.settings) as RolloutSettings;
}

/** The stored rollout as data; USAGE when the store has no such rollout. */
export function rolloutStatus(operatorDataDir: string, rolloutId: string): RolloutStatus {
  const store = openStoreForRead(operatorDataDir, rolloutId);
  try {
    return statusOf(new RolloutStore(store.db), rolloutId);
  } finally {
    store.close();
  }
}

function openStoreForRead(operatorDataDir: string, rolloutId: string): OperatorStore {
  const path = join(operatorDataDir, 'operator.db');
  if (!existsSync(path)) throw new EdgetuneError('USAGE', `rollout: no rollout '${rolloutId}': there is no operator store at ${path} (--data-dir names it); nothing was pushed`);
  let store: OperatorStore;
  try {
    store = new OperatorStore(path);
  } catch (error) {
    throw new EdgetuneError('USAGE', `rollout: no rollout '${rolloutId}': the operator store ${path} cannot be opened (${messageOf(error)})`, { cause: error });
  }
  if (!new RolloutStore(store.db).get(rolloutId)) {
    const known = new RolloutStore(store.db).list().slice(0, 5);
    store.close();
    throw new EdgetuneError('USAGE', `rollout: no rollout '${rolloutId}' in ${path}${known.length > 0 ? ` (newest: ${known.join(', ')})` : ' (it holds no rollouts)'}; nothing was pushed`);
  }
  return store;
}

/** The stored rollout (it exists: the caller created or found it). */
function statusOf(rs: RolloutStore, rolloutId: string): RolloutStatus {
  return readRolloutStatus(rs, rolloutId) as RolloutStatus;
}

/** MODEL must be a readable ONNX model in one file (the rollout pushes one file): USAGE / MODEL_INVALID otherwise. */
function checkModel(path: string): void {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new EdgetuneError('USAGE', `rollout: MODEL ${path} cannot be read: ${messageOf(error)}; nothing was pushed`, { cause: error });
  }
  try {
    if (bytes.length === 0) throw new EdgetuneError('MODEL_INVALID', 'the file is empty');
    decodeModel(bytes, {
      readExternal: (location) => {
        throw new EdgetuneError('MODEL_INVALID', `it keeps tensor data in the separate file '${location}'`);
      },
    });
  } catch (error) {
    throw new EdgetuneError('MODEL_INVALID', `rollout: MODEL ${path} is not an ONNX model a rollout can push: ${messageOf(error)}; nothing was pushed`, { cause: error });
  }
}

/** Check everything about a new rollout that needs no broker: USAGE (or MODEL_INVALID) naming the problem. */
export function checkRolloutInput(o: Pick<StartRolloutOptions, 'rolloutId' | 'modelPath' | 'group' | 'action' | 'stagesPercent' | 'minSuccess' | 'abortFailureRate' | 'maxLatencyMs' | 'stageTimeoutS' | 'bakeS' | 'jobOptions' | 'keyPath'>): void {
  if (!DEVICE_ID_PATTERN.test(o.group)) throw new EdgetuneError('USAGE', `rollout: --group '${o.group}' must match [A-Za-z0-9_-]{1,64}`);
  if (o.rolloutId !== undefined && !ID_PATTERN.test(o.rolloutId)) throw new EdgetuneError('USAGE', `rollout: --rollout-id '${o.rolloutId}' must match [A-Za-z0-9_-]{1,64}`);
  if (!(ROLLOUT_ACTIONS as readonly string[]).includes(o.action)) throw new EdgetuneError('USAGE', `rollout: --action ${o.action} is not one of ${ROLLOUT_ACTIONS.join(', ')} (the actions that make a model live)`);
  checkRolloutCriteria(o);
  if (!(Number.isFinite(o.stageTimeoutS) && o.stageTimeoutS > 0)) throw new EdgetuneError('USAGE', `rollout: --stage-timeout-s ${String(o.stageTimeoutS)} must be a positive number of seconds`);
  if (!(Number.isFinite(o.bakeS) && o.bakeS >= 0)) throw new EdgetuneError('USAGE', `rollout: --bake-s ${String(o.bakeS)} must be a non-negative number of seconds`);
  const problems = jobOptionProblems(o.action, o.jobOptions);
  if (problems.length > 0) throw new EdgetuneError('USAGE', `rollout: ${o.action}: ${problems.map((p) => p.message).join('; ')}; nothing was pushed`);
  if (o.keyPath !== undefined) {
    let pem: Buffer;
    try {
      pem = readFileSync(o.keyPath);
    } catch (error) {
      throw new EdgetuneError('USAGE', `rollout: --key ${o.keyPath} cannot be read: ${messageOf(error)}`, { cause: error });
    }
    parsePrivateKey(pem, o.keyPath);
  }
  checkModel(o.modelPath);
}

/** The group's members from their retained hello (groups) and status (online), gathered for `discoveryMs`. */
async function discoverGroup(o: RolloutConnection, group: string, discoveryMs: number): Promise<{ online: string[]; offline: string[] }> {
  const topics = new Topics(o.topicPrefix);
  const store = new OperatorStore(join(o.operatorDataDir, 'operator.db'));
  const inbox = new FleetInbox(store, topics, o.log);
  const seen = new Map<string, { groups: string[]; online: boolean }>();
  let connection: MqttConnection | null = null;
  try {
    connection = await connectOperator({ ...o.broker, sessionName: undefined }, (m) => {
      const parsed = topics.parse(m.topic);
      if (!parsed || !('deviceId' in parsed) || (parsed.kind !== 'hello' && parsed.kind !== 'status') || m.payload.length === 0) return;
      inbox.handle(parsed, m.payload);
      try {
        const v = JSON.parse(m.payload.toString('utf8')) as { groups?: unknown; state?: unknown };
        const h = seen.get(parsed.deviceId) ?? { groups: [], online: false };
        if (parsed.kind === 'hello' && Array.isArray(v.groups)) h.groups = v.groups.filter((g): g is string => typeof g === 'string');
        if (parsed.kind === 'status') h.online = v.state === 'online';
        seen.set(parsed.deviceId, h);
      } catch {
        // a malformed retained message: FleetInbox logged it
      }
    }, o.log.child('mqtt'));
    await connection.subscribe([topics.allDevices('hello'), topics.allDevices('status')], 1);
    await sleep(discoveryMs, o.signal);
  } finally {
    await connection?.stop();
    store.close();
  }
  const members = [...seen].filter(([, h]) => h.groups.includes(group));
  return { online: members.filter(([, h]) => h.online).map(([id]) => id).sort(), offline: members.filter(([, h]) => !h.online).map(([id]) => id).sort() };
}

/**
 * Start a staged rollout: check the input, learn the group's online members from the broker, order them by a hash of
 * the rollout id and device id, cut the order into the stages, record all of it in the operator store, then run the
 * stages ({@link resumeRollout} does the same for a rollout already stored). Nothing is pushed when a check fails.
 */
export async function startRollout(o: StartRolloutOptions): Promise<RolloutStatus> {
  checkRolloutInput(o);
  const rolloutId = o.rolloutId ?? `ro-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  {
    const store = new OperatorStore(join(o.operatorDataDir, 'operator.db'));
    try {
      if (new RolloutStore(store.db).get(rolloutId)) throw new EdgetuneError('USAGE', `rollout: a rollout '${rolloutId}' exists already in this store (rollout --resume ${rolloutId} continues it); nothing was pushed`);
    } finally {
      store.close();
    }
  }
  const { online, offline } = await discoverGroup(o, o.group, o.discoveryMs ?? 1500);
  if (online.length === 0) {
    throw new EdgetuneError(
      'USAGE',
      offline.length === 0
        ? `rollout: no device announces group '${o.group}' on this broker (no retained hello lists it); nothing was pushed. \`npx edgetune devices\` lists the devices and their groups`
        : `rollout: none of the ${offline.length} members of group '${o.group}' is online (${offline.join(', ')}); nothing was pushed`,
    );
  }
  const settings: RolloutSettings = {
    stagesPercent: o.stagesPercent,
    minSuccess: o.minSuccess,
    abortFailureRate: o.abortFailureRate,
    maxLatencyMs: o.maxLatencyMs,
    stageTimeoutS: o.stageTimeoutS,
    rollbackOnAbort: o.rollbackOnAbort,
    bakeS: o.bakeS,
    jobOptions: o.jobOptions,
    dataDir: o.dataDir ?? null,
    keyPath: o.keyPath ?? null,
  };
  const stages = planStages(rolloutId, online, o.stagesPercent);
  const store = new OperatorStore(join(o.operatorDataDir, 'operator.db'));
  try {
    new RolloutStore(store.db).create({ rolloutId, group: o.group, action: o.action, modelPath: o.modelPath, modelSha256: await sha256OfFile(o.modelPath), settings, stages, skipped: offline });
  } finally {
    store.close();
  }
  o.onEvent?.(`rollout ${rolloutId}: ${online.length} online member(s) of group ${o.group}${offline.length > 0 ? ` (${offline.length} offline, skipped: ${offline.join(', ')})` : ''}; stages ${stages.map((s) => `${s.percent}% (+${s.devices.length})`).join(', ')}`);
  return runRollout(o, rolloutId);
}

/** Caller input for {@link resumeRollout}. */
export interface ResumeRolloutOptions extends RolloutConnection {
  rolloutId: string;
  /** Signing key for the rest of the rollout (default: the one it started with). */
  keyPath?: string;
}

/**
 * Continue a stored rollout where it stopped: devices that reported are judged from the store and not pushed to
 * again; a device whose job was published but not answered is waited for (its push session at the broker kept the
 * report); the rest are pushed. A finished rollout is not run again (USAGE), an unknown one is USAGE.
 */
export async function resumeRollout(o: ResumeRolloutOptions): Promise<RolloutStatus> {
  if (!ID_PATTERN.test(o.rolloutId)) throw new EdgetuneError('USAGE', `rollout: --resume '${o.rolloutId}' must match [A-Za-z0-9_-]{1,64}`);
  const store = openStoreForRead(o.operatorDataDir, o.rolloutId);
  try {
    const row = new RolloutStore(store.db).get(o.rolloutId) as RolloutRow;
    if (row.state === 'completed' || row.state === 'aborted' || row.state === 'halted') {
      throw new EdgetuneError('USAGE', `rollout: ${o.rolloutId} has ${row.state === 'completed' ? 'completed' : `${row.state}${row.reason ? ` (${row.reason})` : ''}`}; there is nothing to resume (rollout status ${o.rolloutId} shows it); nothing was pushed`);
    }
    if (o.keyPath !== undefined) {
      const s = settingsOf(row);
      s.keyPath = o.keyPath;
      store.db.prepare('UPDATE rollouts SET settings = ? WHERE rollout_id = ?').run(JSON.stringify(s), o.rolloutId);
    }
  } finally {
    store.close();
  }
  o.onEvent?.(`rollout ${o.rolloutId}: resuming`);
  return runRollout(o, o.rolloutId);
}

/** Run the stored rollout's remaining stages (and its rollback) to an end state. */
async function runRollout(c: RolloutConnection, rolloutId: string): Promise<RolloutStatus> {
  const store = new OperatorStore(join(c.operatorDataDir, 'operator.db'));
  const rs = new RolloutStore(store.db);
  try {
    const row = rs.get(rolloutId) as RolloutRow;
    const s = settingsOf(row);
    const ctx: RunContext = { c, rs, row, s, topics: new Topics(c.topicPrefix) };
    if (row.state === 'running') {
      let previousFinishedAt: string | null = null;
      for (const stage of rs.stages(rolloutId)) {
        if (stage.state === 'passed') {
          previousFinishedAt = stage.finishedAt;
          continue;
        }
        if (previousFinishedAt !== null && s.bakeS > 0 && stage.state === 'pending') {
          const waitMs = Date.parse(previousFinishedAt) + s.bakeS * 1000 - Date.now();
          if (waitMs > 0) {
            c.onEvent?.(`stage ${stage.stage}: waiting ${(waitMs / 1000).toFixed(1)} s (--bake-s ${s.bakeS}) before it starts`);
            await sleep(waitMs, c.signal);
          }
        }
        if (c.signal?.aborted) throw new EdgetuneError('ABORTED', `rollout ${rolloutId}: interrupted; rollout --resume ${rolloutId} continues it`);
        const decision = await runStage(ctx, stage.stage, stage.percent);
        if (decision.decision === 'passed') {
          rs.finishStage(rolloutId, stage.stage, 'passed', null);
          c.onEvent?.(`stage ${stage.stage} (${stage.percent}%) passed: ${decision.succeeded} succeeded, ${decision.failed} failed`);
          previousFinishedAt = new Date().toISOString();
          continue;
        }
        if (decision.decision === 'halted') {
          rs.finishStage(rolloutId, stage.stage, 'halted', decision.reason);
          rs.setState(rolloutId, 'halted', `stage ${stage.stage}: ${decision.reason}`);
          c.onEvent?.(`stage ${stage.stage} (${stage.percent}%) halted the rollout: ${decision.reason}`);
          return statusOf(rs, rolloutId);
        }
        if (decision.decision === 'abort') {
          rs.finishStage(rolloutId, stage.stage, 'aborted', decision.reason);
          c.onEvent?.(`stage ${stage.stage} (${stage.percent}%) aborted the rollout: ${decision.reason}`);
          if (!s.rollbackOnAbort) {
            rs.setState(rolloutId, 'aborted', `stage ${stage.stage}: ${decision.reason}`);
            return statusOf(rs, rolloutId);
          }
          rs.setState(rolloutId, 'rolling-back', `stage ${stage.stage}: ${decision.reason}`);
          break;
        }
      }
      if ((rs.get(rolloutId) as RolloutRow).state === 'running') {
        rs.setState(rolloutId, 'completed', null);
        c.onEvent?.(`rollout ${rolloutId} completed`);
        return statusOf(rs, rolloutId);
      }
    }
    if ((rs.get(rolloutId) as RolloutRow).state === 'rolling-back') {
      await rollBack(ctx);
      rs.setState(rolloutId, 'aborted', null);
    }
    return statusOf(rs, rolloutId);
  } finally {
    store.close();
  }
}

interface RunContext {
  c: RolloutConnection;
  rs: RolloutStore;
  row: RolloutRow;
  s: RolloutSettings;
  topics: Topics;
}

/** Push the stage's pending devices (or wait for the jobs they have), judge their reports, decide. */
async function runStage(ctx: RunContext, stage: number, percent: number): Promise<ReturnType<typeof decideStage>> {
  const { c, rs, row, s } = ctx;
  const deadline = Date.now() + s.stageTimeoutS * 1000;
  rs.startStage(row.rolloutId, stage, new Date(deadline));
  const startedAt = rs.stages(row.rolloutId).find((x) => x.stage === stage)?.startedAt ?? row.createdAt;
  const mine = rs.devices(row.rolloutId).filter((d) => d.stage === stage);
  const pending = mine.filter((d) => d.outcome === 'pending');
  const published = pending.filter((d) => (d.jobId ?? rs.latestPushTo(d.deviceId, row.action, row.modelSha256, startedAt)) !== null).length;
  c.onEvent?.(
    `stage ${stage} (${percent}%): ${mine.length} device(s): ${pending.length - published} to push` +
      `${published > 0 ? `, ${published} pushed before (their reports are read from the store or waited for, not pushed again)` : ''}${mine.length > pending.length ? `, ${mine.length - pending.length} done` : ''}`,
  );
  await Promise.all(pending.map((d) => settleDevice(ctx, d, startedAt, deadline)));
  const after = rs.devices(row.rolloutId).filter((d) => d.stage === stage);
  const timedOut = after.some((d) => d.outcome === 'pending');
  const decision = decideStage(
    after.map((d) => (d.outcome === 'skipped' ? 'failed' : d.outcome)),
    { timedOut, minSuccess: s.minSuccess, abortFailureRate: s.abortFailureRate },
  );
  for (const d of after.filter((x) => x.outcome === 'pending')) {
    rs.setOutcome(row.rolloutId, d.deviceId, { outcome: 'failed', reason: `no report within --stage-timeout-s ${s.stageTimeoutS}`, activated: false, latencyMs: null });
    c.onEvent?.(`  ${d.deviceId}: failed: no report within --stage-timeout-s ${s.stageTimeoutS}`);
  }
  return decision;
}

/** Record a device's report as its outcome. */
function recordReport(ctx: RunContext, deviceId: string, jobId: string, report: Record<string, unknown>): void {
  const j = judgeReport(report, { maxLatencyMs: ctx.s.maxLatencyMs });
  ctx.rs.setOutcome(ctx.row.rolloutId, deviceId, { outcome: j.outcome, reason: j.reason, activated: j.activated, latencyMs: j.latencyMs, jobId });
  ctx.c.onEvent?.(`  ${deviceId}: ${j.outcome}${j.latencyMs !== null ? ` (p50 ${j.latencyMs.toFixed(3)} ms)` : ''}${j.reason ? `: ${j.reason}` : ''}`);
}

/** One device of a running stage: judged from the store, waited for, or pushed. Leaves it pending on a timeout. */
async function settleDevice(ctx: RunContext, d: RolloutDeviceRow, stageStartedAt: string, deadline: number): Promise<void> {
  const { c, rs, row, s } = ctx;
  const jobId = d.jobId ?? rs.latestPushTo(d.deviceId, row.action, row.modelSha256, stageStartedAt);
  if (jobId !== null) {
    if (d.jobId === null) rs.setJob(row.rolloutId, d.deviceId, jobId);
    const stored = rs.reportOf(jobId, d.deviceId);
    const report = stored ?? (await collectReport(ctx, d.deviceId, jobId, deadline));
    if (report) recordReport(ctx, d.deviceId, jobId, report);
    return;
  }
  try {
    const result = await pushJob({
      modelPath: row.modelPath,
      target: { device: d.deviceId },
      action: row.action as JobAction,
      ...(s.dataDir !== null ? { dataDir: s.dataDir } : {}),
      broker: c.broker,
      topicPrefix: c.topicPrefix,
      ...(s.keyPath !== null ? { keyPath: s.keyPath } : {}),
      wait: true,
      timeoutMs: Math.max(1000, deadline - Date.now()),
      chunkSizeBytes: c.chunkSizeBytes,
      operatorDataDir: c.operatorDataDir,
      jobOptions: s.jobOptions,
      log: c.log,
      ...(c.signal ? { signal: c.signal } : {}),
    });
    rs.setJob(row.rolloutId, d.deviceId, result.jobId);
    const report = rs.reportOf(result.jobId, d.deviceId) ?? (result.reports.find((r) => r.deviceId === d.deviceId) as Record<string, unknown> | undefined);
    if (report) recordReport(ctx, d.deviceId, result.jobId, report);
  } catch (error) {
    const published = rs.latestPushTo(d.deviceId, row.action, row.modelSha256, stageStartedAt);
    if (published !== null) rs.setJob(row.rolloutId, d.deviceId, published);
    if (published !== null && Date.now() >= deadline - 50) return; // no report in time: the stage counts it failed
    rs.setOutcome(row.rolloutId, d.deviceId, { outcome: 'failed', reason: `${messageOf(error)} [${errorCodeOf(error)}]`, activated: false, latencyMs: null, jobId: published });
    c.onEvent?.(`  ${d.deviceId}: failed: ${messageOf(error)} [${errorCodeOf(error)}]`);
  }
}

/**
 * Wait for the report of a job published earlier (by an operator process that died): through the push's own
 * persistent session (`push-JOBID`, push-job.ts), where the broker queued the reports and chunk requests published
 * meanwhile, and live. A device still receiving the artifacts (the operator died mid-transfer) is served the rest:
 * the model file, or a dataset bundle the push left in the store's bundles/ directory, in the chunk layout of the
 * retained manifest (artifact-server.ts; the agent asks again after a stall). The report is stored (FleetInbox); null
 * when none came before `deadline`.
 */
async function collectReport(ctx: RunContext, deviceId: string, jobId: string, deadline: number): Promise<Record<string, unknown> | null> {
  const { c, topics, row } = ctx;
  const store = new OperatorStore(join(c.operatorDataDir, 'operator.db'));
  const inbox = new FleetInbox(store, topics, c.log);
  let found: Record<string, unknown> | null = null;
  let wake: (() => void) | null = null;
  let connection: MqttConnection | null = null;
  let server: ArtifactServer | null = null;
  const added = new Set<string>();
  const manifestsAsked = new Set<string>();
  const early: RequestMessage[] = [];
  const pathOf = (sha256: string): string | null => {
    if (sha256 === row.modelSha256) return row.modelPath;
    const bundle = join(c.operatorDataDir, 'bundles', `${sha256}.bundle`);
    return existsSync(bundle) ? bundle : null;
  };
  const sessionName = `push-${jobId}`;
  const filters = [topics.device(deviceId, 'reports'), topics.device(deviceId, 'requests')];
  try {
    connection = await connectOperator(
      { ...c.broker, ...(c.broker.sessionName === undefined && ID_PATTERN.test(sessionName) ? { sessionName, sessionExpirySeconds: Math.max(60, Math.ceil((deadline - Date.now()) / 1000)) } : {}) },
      (m) => {
        const parsed = topics.parse(m.topic);
        if (!parsed) return;
        try {
          if (parsed.kind === 'manifest') {
            if (m.payload.length === 0 || added.has(parsed.sha256)) return;
            const path = pathOf(parsed.sha256);
            if (path === null) return;
            const manifest = decodeMessage('manifest', m.payload, MAX_DEVICE_MESSAGE_BYTES);
            server?.add({ sha256: manifest.sha256, path, bytes: manifest.bytes, chunkSize: manifest.chunkSize, chunks: manifest.chunks }, [deviceId]);
            added.add(parsed.sha256);
            // requests that came before the manifest (queued in the session while no operator was there)
            for (const req of early.filter((r) => r.sha256 === parsed.sha256)) server?.handleRequest(deviceId, req);
          } else if (parsed.kind === 'requests' && 'deviceId' in parsed && parsed.deviceId === deviceId) {
            const req = decodeMessage('requests', m.payload, MAX_DEVICE_MESSAGE_BYTES);
            if (!added.has(req.sha256) && !manifestsAsked.has(req.sha256) && pathOf(req.sha256) !== null) {
              manifestsAsked.add(req.sha256);
              void connection?.subscribe([topics.manifest(req.sha256)], 1).catch(() => undefined); // its retained copy arrives, then the next request is served
            }
            if (added.has(req.sha256)) server?.handleRequest(deviceId, req);
            else early.push(req);
          } else if (parsed.kind === 'reports' && 'deviceId' in parsed) {
            const r = inbox.handle(parsed, m.payload);
            if (r && r.report.jobId === jobId) {
              found = JSON.parse(m.payload.toString('utf8')) as Record<string, unknown>;
              wake?.();
            }
          }
        } catch (error) {
          c.log.debug(`${m.topic}: ${messageOf(error)}`);
        }
      },
      c.log.child('mqtt'),
    );
    const link = connection;
    server = new ArtifactServer(link, topics, c.log.child('serve'));
    link.on('connect', () => server?.resume());
    manifestsAsked.add(row.modelSha256);
    await link.subscribe([topics.manifest(row.modelSha256), ...filters], 1);
    while (found === null && Date.now() < deadline && !c.signal?.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(250, Math.max(1, deadline - Date.now())));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return found;
  } finally {
    await server?.close();
    if (connection?.connected) await connection.unsubscribe(filters).catch(() => undefined);
    await connection?.stop();
    store.close();
  }
}

/**
 * Send `rollback` to every device of the rollout that made its model live, and record each answer. A device that
 * was sent a rollback already (this process or one that died: the pushes table says) is not sent another, because a
 * second rollback would swap the model back.
 */
async function rollBack(ctx: RunContext): Promise<void> {
  const { c, rs, row, s } = ctx;
  const since = rs.stages(row.rolloutId).find((x) => x.state === 'aborted')?.finishedAt ?? row.createdAt;
  const targets = rs.devices(row.rolloutId).filter((d) => d.activated && d.rollbackState === null);
  c.onEvent?.(`rolling back ${targets.length} device(s) that made the model live: ${targets.map((d) => d.deviceId).join(', ') || '(none)'}`);
  const deadline = Date.now() + s.stageTimeoutS * 1000;
  await Promise.all(
    targets.map(async (d) => {
      const earlier = d.rollbackJobId ?? rs.latestPushTo(d.deviceId, 'rollback', null, since);
      let jobId = earlier;
      let report: Record<string, unknown> | null = null;
      try {
        if (earlier !== null) {
          report = rs.reportOf(earlier, d.deviceId) ?? (await collectReport(ctx, d.deviceId, earlier, deadline));
        } else {
          const result = await pushJob({
            target: { device: d.deviceId },
            action: 'rollback',
            broker: c.broker,
            topicPrefix: c.topicPrefix,
            ...(s.keyPath !== null ? { keyPath: s.keyPath } : {}),
            wait: true,
            timeoutMs: Math.max(1000, deadline - Date.now()),
            chunkSizeBytes: c.chunkSizeBytes,
            operatorDataDir: c.operatorDataDir,
            log: c.log,
            ...(c.signal ? { signal: c.signal } : {}),
          });
          jobId = result.jobId;
          report = rs.reportOf(result.jobId, d.deviceId) ?? ((result.reports[0] as Record<string, unknown> | undefined) ?? null);
        }
      } catch (error) {
        jobId = jobId ?? rs.latestPushTo(d.deviceId, 'rollback', null, since);
        rs.setRollback(row.rolloutId, d.deviceId, { jobId, state: 'failed', reason: `${messageOf(error)} [${errorCodeOf(error)}]` });
        c.onEvent?.(`  ${d.deviceId}: rollback failed: ${messageOf(error)}`);
        return;
      }
      if (report === null) {
        rs.setRollback(row.rolloutId, d.deviceId, { jobId, state: 'failed', reason: 'no report of the rollback job in time' });
        c.onEvent?.(`  ${d.deviceId}: rollback unanswered`);
        return;
      }
      const ok = report.state === 'ok';
      const error = (report.error ?? {}) as { message?: unknown; code?: unknown };
      const reason = ok ? null : `${String(error.message ?? 'failed')} [${String(error.code ?? '?')}]`;
      rs.setRollback(row.rolloutId, d.deviceId, { jobId, state: ok ? 'ok' : 'failed', reason });
      c.onEvent?.(`  ${d.deviceId}: rollback ${ok ? 'ok' : `failed: ${reason}`}`);
    }),
  );
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
