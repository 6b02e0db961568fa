import type { KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import { join } from 'node:path';
import type { ResolvedAgentConfig } from '../config/load-agent-config.js';
import { AgentStore, newTimeOrderedId, type ArtifactKind } from '../store/agent-store.js';
import type { EmbeddedBroker } from '../transport/embedded-broker.js';
import { decodeMessage, encodeMessage, jobMessageSchema, type ArtifactRef, type HelloMessage, type JobMessage, type ManifestMessage, type ReportMessage } from '../transport/messages.js';
import { MqttConnection, type IncomingMessage } from '../transport/mqtt-connection.js';
import { parsePublicKey, verifyManifestSignature } from '../transport/signature.js';
import { Topics } from '../transport/topics.js';
import { EdgetuneError, messageOf } from '../util/errors.js';
import { AgentPaths } from './agent-paths.js';
import { createCliServices, type AgentServices, type HardwareJson } from './agent-services.js';
import { ArtifactReceiver } from './artifact-receiver.js';
import type { ActionResult } from './job-context.js';
import { JobValidator, type JobSource } from './job-intake.js';
import { failureReportFields } from './job-failure.js';
import { JobRunner } from './job-runner.js';
import { createGcHint } from './gc-hint.js';
import { createLogger, type Logger } from './logger.js';
import { OutboxRelay } from './outbox-relay.js';
import { Schedules } from './schedules.js';
import { edgetuneVersion } from './version.js';

/** Caller input for {@link Agent} besides the config. */
export interface AgentOptions {
  /** Compression / profiling / hardware (default: the edgetune commands run as child processes). */
  services?: AgentServices;
  log?: Logger;
  /** Injected randomness for reconnect jitter. */
  random?: () => number;
}

/** Young-generation collection after this many received chunk bytes (see gc-hint.ts). */
const GC_EVERY_BYTES = 2 * 1024 * 1024;

/** Actions whose success changes which model is live (hello is re-published after them). */
const ROLE_CHANGING = new Set(['deploy', 'activate', 'rollback', 'compress', 'tune']);

/** Parts of a job that need an artifact on the device first. */
function neededArtifacts(job: JobMessage): Array<{ ref: ArtifactRef; kind: ArtifactKind }> {
  const out: Array<{ ref: ArtifactRef; kind: ArtifactKind }> = [];
  if (job.artifact) out.push({ ref: job.artifact, kind: 'model' });
  if (job.data) out.push({ ref: job.data, kind: 'dataset' });
  return out;
}

/**
 * The edgetune agent: the composition root. start(signal) opens the store, the (embedded) broker and the MQTT
 * link, subscribes, resumes transfers and queued jobs, and schedules heartbeat / re-profile / cleanup; stop() undoes
 * that in reverse. Nothing a job or a message does can take it down: failures become reports.
 */
export class Agent {
  readonly config: ResolvedAgentConfig;
  readonly paths: AgentPaths;
  readonly topics: Topics;
  private readonly services: AgentServices;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly startedAt = new Date().toISOString();
  private storeRef: AgentStore | null = null;
  private broker: EmbeddedBroker | null = null;
  private connection: MqttConnection | null = null;
  private receiver: ArtifactReceiver | null = null;
  private runner: JobRunner | null = null;
  private relay: OutboxRelay | null = null;
  private validator: JobValidator | null = null;
  private schedules: Schedules | null = null;
  private timers: NodeJS.Timeout[] = [];
  private hardwarePromise: Promise<HardwareJson | null> | null = null;
  private hardwareJson: HardwareJson | null = null;
  private lastEventMs = new Map<string, number>();
  private readonly gcHint = createGcHint();
  private bytesSinceGc = 0;
  private running = false;
  private stopping: Promise<void> | null = null;
  /** When the agent last re-published a stale retained status as online (correctStaleOffline). */
  private lastStatusCorrectionAt = 0;
  /** Aborted by stop(): cancels the start-up hardware probe and heartbeat reads. */
  private readonly lifetime = new AbortController();

  constructor(config: ResolvedAgentConfig, options: AgentOptions = {}) {
    this.config = config;
    this.paths = new AgentPaths(config.dataDir);
    this.topics = new Topics(config.topicPrefix);
    this.services = options.services ?? createCliServices({ deviceProfile: config.deviceProfile });
    this.log = options.log ?? createLogger(config.logLevel);
    this.random = options.random ?? Math.random;
  }

  /** The agent's store (open between start and stop). */
  get store(): AgentStore {
    if (!this.storeRef) throw new EdgetuneError('STORE_FAILED', 'the agent is not started');
    return this.storeRef;
  }

  /** URL of the broker the agent uses (the embedded one's real port once started). */
  get brokerUrl(): string {
    return this.broker ? this.broker.url : this.config.broker.url;
  }

  /** True while connected to the broker. */
  get connected(): boolean {
    return this.connection?.connected ?? false;
  }

  /** Resolves once the start-up hardware probe (an `edgetune hw` child) has finished; null when it was unavailable. */
  hardwareProbed(): Promise<HardwareJson | null> {
    return this.hardware();
  }

  /** Start everything; `signal` aborting stops the agent. Throws (CONFIG_INVALID, BROKER_FAILED, STORE_FAILED) if it cannot. */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.startInner();
    } catch (error) {
      await this.stop();
      throw error;
    }
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    if (signal?.aborted) await this.stop();
  }

  /** Stop in reverse order: schedules, jobs, transfers, link (publishing `offline`), broker, store. */
  stop(): Promise<void> {
    if (!this.stopping) this.stopping = this.stopInner();
    return this.stopping;
  }

  /** Resolves when no job runs and no report waits for a flush that is possible now (tests). */
  async whenIdle(): Promise<void> {
    await this.runner?.whenIdle();
    await this.relay?.whenIdle();
  }

  private async startInner(): Promise<void> {
    const c = this.config;
    for (const dir of [c.dataDir, this.paths.stagingDir, this.paths.modelsDir, this.paths.datasetsDir, this.paths.workDir]) mkdirSync(dir, { recursive: true });
    const trusted: KeyObject[] = c.trustedKeys.map((p) => {
      try {
        return parsePublicKey(readFileSync(p), p);
      } catch (error) {
        throw new EdgetuneError('CONFIG_INVALID', `trustedKeys: ${messageOf(error)}`, { cause: error });
      }
    });
    const store = new AgentStore(this.paths.database);
    this.storeRef = store;
    this.sweepLeftovers(store);

    let url = c.broker.url;
    let protocolVersion: 4 | 5 | 'auto' = c.broker.protocolVersion ?? 'auto';
    if (url === 'embedded') {
      // aedes is loaded only for the embedded broker: a device on Mosquitto/EMQX never pays for it.
      const { startEmbeddedBroker } = await import('../transport/embedded-broker.js');
      this.broker = await startEmbeddedBroker({ host: c.broker.host, port: c.broker.port, log: this.log.child('broker') });
      url = this.broker.url;
      protocolVersion = 4;
      this.log.info(`embedded broker listening on ${this.broker.url}`);
    }
    const statusTopic = this.topics.device(c.deviceId, 'status');
    const connection = new MqttConnection({
      url,
      ...(c.broker.url !== 'embedded' && c.broker.urls !== undefined ? { urls: c.broker.urls } : {}),
      clientId: `edgetune-${c.deviceId}`,
      protocolVersion,
      clean: false,
      sessionExpirySeconds: c.broker.sessionExpirySeconds,
      keepaliveSeconds: c.broker.keepaliveSeconds,
      ...(c.broker.username !== undefined ? { username: c.broker.username } : {}),
      ...(c.broker.password !== undefined ? { password: c.broker.password } : {}),
      ...(c.broker.ca ? { ca: readFileSync(c.broker.ca) } : {}),
      ...(c.broker.cert ? { cert: readFileSync(c.broker.cert) } : {}),
      ...(c.broker.key ? { key: readFileSync(c.broker.key) } : {}),
      will: {
        topic: statusTopic,
        payload: encodeMessage('status', { state: 'offline', version: edgetuneVersion(), since: this.startedAt, deviceId: c.deviceId }),
        qos: 1,
        retain: true,
        delaySeconds: c.broker.willDelaySeconds,
      },
      reconnectInitialMs: c.broker.reconnectInitialMs,
      reconnectMaxMs: c.broker.reconnectMaxMs,
      // A chunk plus topic and header room; control messages are far smaller. Caps what an MQTT 5 broker sends us.
      maximumPacketSizeBytes: Math.max(c.limits.maxChunkBytes, c.limits.maxControlMessageBytes) + 64 * 1024,
      receiveMaximum: c.broker.receiveMaximum,
      // a refused SUBSCRIBE (an artifact's topics) fails the job: give a clustered broker a moment first
      refusedSubscribeRetryMs: 20_000,
      onMessage: (m) => this.onMessage(m),
      log: this.log.child('mqtt'),
      random: this.random,
    });
    this.connection = connection;
    this.relay = new OutboxRelay(store, connection, this.log.child('outbox'));
    this.validator = new JobValidator(c, trusted, store, this.log.child('intake'));
    this.receiver = new ArtifactReceiver({
      store,
      paths: this.paths,
      topics: this.topics,
      link: connection,
      deviceId: c.deviceId,
      limits: c.limits,
      artifactQos: c.broker.artifactQos,
      verifyManifest: (m: ManifestMessage) => {
        if (!c.allowUnsigned || (m.signature !== null && trusted.length > 0)) verifyManifestSignature(m, trusted);
      },
      log: this.log.child('transfer'),
      onComplete: (sha) => this.onArtifactComplete(sha),
      onFailed: (sha, error) => this.onArtifactFailed(sha, error),
      onProgress: (sha, received, chunks, chunkBytes) => this.onTransferProgress(sha, received, chunks, chunkBytes),
    });
    this.runner = new JobRunner({
      config: c,
      store,
      paths: this.paths,
      services: this.services,
      log: this.log.child('job'),
      hardware: () => this.hardware(),
      publishEvent: (jobId, stage, progress, message) => this.publishEvent(jobId, stage, progress, message),
      finish: (info, outcome) => this.finishJob(info, outcome),
    });

    const filters = [this.topics.device(c.deviceId, 'jobs'), ...c.groups.map((g) => this.topics.groupJobs(g))];
    await connection.subscribe(filters, 1);
    // Its own retained status, to correct a stale 'offline': a Will of an earlier link that a clustered broker stored
    // after the 'online' of the current one (NATS, while a node is lost). Optional: an ACL may give write access only.
    // QoS 0: the persistent session need not queue its own Wills while it is away (the retained one comes anyway).
    await connection.subscribe([statusTopic], 0, { optional: true });
    connection.on('connect', () => this.onConnect());
    connection.start();

    for (const row of store.requeueInterruptedJobs()) this.log.info(`job ${row.jobId} (${row.action}) was interrupted; queued again`);
    this.resumeWaitingJobs();
    this.runner.notify();

    this.timers.push(setInterval(() => this.receiver?.tick(), 1000));
    this.timers.push(setInterval(() => this.relay?.flush(), 30_000));
    this.schedules = new Schedules(this.log.child('schedule'));
    this.schedules.start([
      { name: 'heartbeat', cron: c.schedules.heartbeat, run: () => this.publishHeartbeat() },
      { name: 'reprofile', cron: c.schedules.reprofile, run: () => this.enqueueReprofile() },
      { name: 'cleanup', cron: c.schedules.cleanup, run: () => this.cleanup() },
    ]);
    this.hardwarePromise = this.probeHardware();
    this.log.info(`agent ${c.deviceId} started (groups: ${c.groups.join(', ') || 'none'}; broker ${connection.nodeUrls.join(', ')}; data ${c.dataDir})`);
  }

  private async stopInner(): Promise<void> {
    this.connection?.holdIncoming();
    this.lifetime.abort();
    for (const t of this.timers.splice(0)) clearInterval(t);
    await this.schedules?.stop();
    await this.runner?.stop();
    await this.receiver?.stop();
    if (this.connection) {
      const offline = encodeMessage('status', { state: 'offline', version: edgetuneVersion(), since: new Date().toISOString(), deviceId: this.config.deviceId });
      await this.connection.stop([{ topic: this.topics.device(this.config.deviceId, 'status'), payload: offline, qos: 1, retain: true }]);
    }
    await this.broker?.close();
    this.storeRef?.close();
    this.running = false;
    this.log.info(`agent ${this.config.deviceId} stopped`);
  }

  // ---- messages ----

  private async onMessage(m: IncomingMessage): Promise<void> {
    const parsed = this.topics.parse(m.topic);
    if (!parsed || this.stopping) return;
    try {
      switch (parsed.kind) {
        case 'jobs':
          if (parsed.deviceId === this.config.deviceId) this.takeJob(m.payload, { kind: 'device', deviceId: parsed.deviceId }, m.topic);
          break;
        case 'group-jobs':
          if (this.config.groups.includes(parsed.group)) this.takeJob(m.payload, { kind: 'group', group: parsed.group }, m.topic);
          break;
        case 'manifest':
          await this.receiver?.handleManifest(parsed.sha256, m.payload);
          break;
        case 'chunk':
          await this.receiver?.handleChunk(parsed.sha256, parsed.index, m.payload);
          break;
        case 'device-chunk':
          if (parsed.deviceId === this.config.deviceId) await this.receiver?.handleChunk(parsed.sha256, parsed.index, m.payload);
          break;
        case 'status':
          if (parsed.deviceId === this.config.deviceId) this.correctStaleOffline(m.payload);
          break;
        default:
          break;
      }
    } catch (error) {
      // Only unexpected failures get here (bad input already became a report): typically the store could not
      // write. Not acknowledging lets the broker deliver the message again to the next session.
      this.log.error(`message on ${m.topic} not handled: ${messageOf(error)}`);
      throw error;
    }
  }

  /** Validate, persist (before the PUBACK goes out), and queue or refuse a job. */
  private takeJob(payload: Buffer, source: JobSource, topic: string): void {
    const store = this.store;
    const v = (this.validator as JobValidator).validate(payload, source);
    if (v.outcome === 'refused') {
      const jobId = v.jobId || `invalid-${newTimeOrderedId()}`;
      const report = store.refuseJob({ jobId, action: v.action, payload: v.payloadText, sourceTopic: topic }, this.reportsTopic(), (seq, reportId) =>
        this.buildReport(seq, reportId, { jobId, action: v.action, job: v.job }, { error: v.error }),
      );
      if (report === null) this.log.info(`job ${jobId} seen before; ignored (redelivery or replay)`);
      else this.log.warn(`job ${jobId} refused: ${v.error.message} [${v.error.code}]`);
      this.relay?.flush();
      return;
    }
    const job = v.job;
    const pending = neededArtifacts(job).filter((n) => !(this.receiver as ArtifactReceiver).isComplete(n.ref.sha256));
    const inserted = store.insertJob({ jobId: job.jobId, action: job.action, state: pending.length > 0 ? 'waiting' : 'queued', payload: payload.toString('utf8'), sourceTopic: topic });
    if (inserted === 'duplicate') {
      this.log.info(`job ${job.jobId} seen before; ignored (redelivery or replay)`);
      return;
    }
    this.log.info(`job ${job.jobId} (${job.action}) accepted${pending.length > 0 ? `; waiting for ${pending.length} artifact(s)` : ''}`);
    this.publishEvent(job.jobId, pending.length > 0 ? 'transfer' : 'queued', 0);
    const pendingShas = new Set(pending.map((n) => n.ref.sha256));
    for (const n of neededArtifacts(job)) if (!pendingShas.has(n.ref.sha256)) this.receiver?.announceComplete(n.ref.sha256);
    this.startTransfers(job, pending);
    this.runner?.notify();
  }

  private startTransfers(job: JobMessage, pending: Array<{ ref: ArtifactRef; kind: ArtifactKind }>): void {
    for (const n of pending) {
      (this.receiver as ArtifactReceiver).want(n.ref, n.kind).catch((error: unknown) => {
        const e = error instanceof EdgetuneError ? error : new EdgetuneError('IO_FAILED', messageOf(error));
        this.failWaitingJob(job, e);
      });
    }
  }

  private resumeWaitingJobs(): void {
    for (const row of this.store.jobsInStates(['waiting'])) {
      let job: JobMessage;
      try {
        job = jobMessageSchema.parse(JSON.parse(row.payload));
      } catch (error) {
        this.finishJob({ jobId: row.jobId, action: row.action, job: null }, { error: new EdgetuneError('JOB_INVALID', `stored job unreadable: ${messageOf(error)}`) });
        continue;
      }
      const pending = neededArtifacts(job).filter((n) => !(this.receiver as ArtifactReceiver).isComplete(n.ref.sha256));
      if (pending.length === 0) this.store.setJobState(job.jobId, 'queued');
      else {
        this.log.info(`job ${job.jobId}: resuming transfer of ${pending.length} artifact(s)`);
        this.startTransfers(job, pending);
      }
    }
  }

  private onArtifactComplete(sha256: string): void {
    for (const row of this.store.jobsInStates(['waiting'])) {
      try {
        const job = jobMessageSchema.parse(JSON.parse(row.payload));
        const needs = neededArtifacts(job);
        if (!needs.some((n) => n.ref.sha256 === sha256)) continue;
        if (needs.every((n) => (this.receiver as ArtifactReceiver).isComplete(n.ref.sha256))) {
          this.store.setJobState(job.jobId, 'queued');
          this.publishEvent(job.jobId, 'queued', 0);
        }
      } catch (error) {
        this.log.warn(`job ${row.jobId}: ${messageOf(error)}`);
      }
    }
    this.runner?.notify();
  }

  private onArtifactFailed(sha256: string, error: EdgetuneError): void {
    for (const row of this.store.jobsInStates(['waiting'])) {
      try {
        const job = jobMessageSchema.parse(JSON.parse(row.payload));
        if (neededArtifacts(job).some((n) => n.ref.sha256 === sha256)) this.failWaitingJob(job, error);
      } catch (e) {
        this.log.warn(`job ${row.jobId}: ${messageOf(e)}`);
      }
    }
  }

  private failWaitingJob(job: JobMessage, error: EdgetuneError): void {
    const row = this.store.getJob(job.jobId);
    if (!row || row.state !== 'waiting') return;
    this.finishJob({ jobId: job.jobId, action: job.action, job }, { error });
    this.log.warn(`job ${job.jobId} failed: ${error.message} [${error.code}]`);
  }

  private onTransferProgress(sha256: string, received: number, chunks: number, chunkBytes: number): void {
    this.bytesSinceGc += chunkBytes;
    if (this.gcHint && this.bytesSinceGc >= GC_EVERY_BYTES) {
      this.bytesSinceGc = 0;
      this.gcHint('minor');
    }
    const now = Date.now();
    const last = this.lastEventMs.get(sha256) ?? 0;
    if (received !== chunks && now - last < 500) return;
    this.lastEventMs.set(sha256, now);
    for (const row of this.store.jobsInStates(['waiting'])) {
      if (row.payload.includes(sha256)) this.publishEvent(row.jobId, 'transfer', chunks === 0 ? 1 : received / chunks, `${received}/${chunks} chunks`);
    }
  }

  // ---- reports ----

  private reportsTopic(): string {
    return this.topics.device(this.config.deviceId, 'reports');
  }

  private buildReport(
    seq: number,
    reportId: string,
    info: { jobId: string; action: string; job: JobMessage | null },
    outcome: { result: ActionResult } | { error: EdgetuneError },
  ): ReportMessage {
    const result = 'result' in outcome ? outcome.result : failureReportFields(outcome.error);
    return {
      ...result,
      reportId,
      jobId: info.jobId,
      action: info.action,
      deviceId: this.config.deviceId,
      seq,
      state: 'error' in outcome ? 'failed' : 'ok',
      createdAt: new Date().toISOString(),
      artifact: info.job?.artifact ?? null,
      data: info.job?.data ?? null,
      error: 'error' in outcome ? { code: outcome.error.code, message: outcome.error.message } : null,
      agentVersion: edgetuneVersion(),
    };
  }

  /** Commit the final report and job state in one transaction, then hand it to the outbox relay. */
  private finishJob(info: { jobId: string; action: string; job: JobMessage | null }, outcome: { result: ActionResult } | { error: EdgetuneError }): void {
    this.store.commitReport(this.reportsTopic(), (seq, reportId) => this.buildReport(seq, reportId, info, outcome), {
      jobId: info.jobId,
      state: 'error' in outcome ? 'failed' : 'done',
    });
    this.relay?.flush();
    if ('result' in outcome && ROLE_CHANGING.has(info.action)) this.publishHello();
  }

  // ---- presence, events, heartbeat ----

  private onConnect(): void {
    this.publishOnline();
    this.publishHello();
    this.publishHeartbeat();
    this.relay?.flush();
    this.receiver?.onConnect();
  }

  /**
   * The broker holds 'offline' for this device while it is connected: a Will of an earlier link (or run) stored after
   * this link's 'online'. Publish 'online' again (at most once a second, so that nothing can make a loop of it).
   */
  private correctStaleOffline(payload: Buffer): void {
    let state: string;
    try {
      state = decodeMessage('status', payload, 64 * 1024).state;
    } catch {
      return;
    }
    if (state !== 'offline' || !this.connection?.connected || this.stopping) return;
    const now = Date.now();
    if (now - this.lastStatusCorrectionAt < 1000) return;
    this.lastStatusCorrectionAt = now;
    this.log.info(`status: the broker held 'offline' for this device while it is connected (a Will of an earlier link or run); publishing 'online' again`);
    this.publishOnline();
  }

  /** The retained 'online' status (on each connect, and to correct a stale 'offline'). */
  private publishOnline(): void {
    const c = this.config;
    const status = encodeMessage('status', { state: 'online', version: edgetuneVersion(), since: new Date().toISOString(), deviceId: c.deviceId });
    this.connection?.publish(this.topics.device(c.deviceId, 'status'), status, { qos: 1, retain: true }).catch((e: unknown) => this.log.debug(`status: ${messageOf(e)}`));
  }

  private publishHello(): void {
    if (!this.connection?.connected || !this.storeRef) return;
    const c = this.config;
    const live = this.storeRef.variantWithRole('live');
    const profile = this.hardwareJson && typeof this.hardwareJson.profile === 'string' ? this.hardwareJson.profile : null;
    const hello: HelloMessage = {
      deviceId: c.deviceId,
      groups: c.groups,
      version: edgetuneVersion(),
      startedAt: this.startedAt,
      hw: this.hardwareJson,
      profile,
      activeModel: live ? { sha256: live.variantId, variantId: live.variantId, method: live.method, bytes: live.bytes, sourceSha256: live.sourceSha256 } : null,
    };
    this.connection.publish(this.topics.device(c.deviceId, 'hello'), encodeMessage('hello', hello), { qos: 1, retain: true }).catch((e: unknown) => this.log.debug(`hello: ${messageOf(e)}`));
  }

  private publishEvent(jobId: string, stage: string, progress: number | null, message?: string): void {
    if (!this.connection?.connected) return;
    const event = { jobId, stage, progress: progress === null ? null : Math.min(1, Math.max(0, progress)), ...(message ? { message } : {}), at: new Date().toISOString() };
    this.connection.publish(this.topics.device(this.config.deviceId, 'events'), encodeMessage('events', event), { qos: 0 }).catch(() => undefined);
  }

  private async publishHeartbeat(): Promise<void> {
    if (!this.connection?.connected || !this.storeRef) return;
    let telemetry = { load1: null as number | null, temperatureC: null as number | null, throttled: null as boolean | null };
    try {
      telemetry = await this.services.telemetry({ signal: AbortSignal.any([this.lifetime.signal, AbortSignal.timeout(10_000)]), timeoutMs: 10_000, workDir: this.paths.workDir });
    } catch (error) {
      this.log.debug(`heartbeat telemetry: ${messageOf(error)}`);
    }
    if (!this.storeRef || !this.connection?.connected) return;
    const beat = {
      deviceId: this.config.deviceId,
      at: new Date().toISOString(),
      uptimeSeconds: Math.round(process.uptime()),
      load1: telemetry.load1,
      memoryFreeBytes: freemem(),
      memoryTotalBytes: totalmem(),
      agentRssBytes: process.memoryUsage().rss,
      temperatureC: telemetry.temperatureC,
      throttled: telemetry.throttled,
      queuedJobs: this.storeRef.openJobCount(),
      pendingReports: this.storeRef.pendingOutboxCount(),
      lastReportSeq: this.storeRef.lastReportSeq(),
      ...nextBeat(this.schedules?.nextRunOf('heartbeat') ?? null),
    };
    await this.connection.publish(this.topics.device(this.config.deviceId, 'heartbeat'), encodeMessage('heartbeat', beat), { qos: 0, retain: true });
  }

  // ---- hardware, schedules, cleanup ----

  private hardware(): Promise<HardwareJson | null> {
    return this.hardwarePromise ?? Promise.resolve(null);
  }

  private async probeHardware(): Promise<HardwareJson | null> {
    try {
      const hw = await this.services.probeHardware({ signal: this.lifetime.signal, timeoutMs: 60_000, workDir: this.paths.workDir });
      this.hardwareJson = hw;
      this.publishHello();
      return hw;
    } catch (error) {
      this.log.info(`hardware probe not available: ${messageOf(error)}`);
      return null;
    }
  }

  /** Queue a profile of the live model (the re-profile schedule: drift over time). */
  private enqueueReprofile(): void {
    const live = this.store.variantWithRole('live');
    if (!live) return;
    if (this.store.jobsInStates(['queued', 'running']).some((j) => j.jobId.startsWith('reprofile-'))) return; // one at a time
    const jobId = `reprofile-${newTimeOrderedId()}`;
    const job: JobMessage = {
      jobId,
      action: 'profile',
      target: { device: this.config.deviceId },
      options: { variantId: live.variantId },
      issuedAt: new Date().toISOString(),
      signature: null,
    };
    this.store.insertJob({ jobId, action: 'profile', state: 'queued', payload: JSON.stringify(job), sourceTopic: 'schedule:reprofile' });
    this.log.info(`re-profile of live variant ${live.variantId.slice(0, 12)} queued as ${jobId}`);
    this.runner?.notify();
  }

  private cleanup(): void {
    const store = this.store;
    store.checkpoint();
    const removed = store.pruneSentOutbox(new Date(Date.now() - 7 * 24 * 3600 * 1000).toISOString());
    this.sweepLeftovers(store);
    this.log.debug(`cleanup: ${removed} sent outbox rows pruned`);
  }

  /** Remove files no row accounts for: stale temp files, staging files of unknown artifacts, child scratch files. */
  private sweepLeftovers(store: AgentStore): void {
    const receiving = new Set(store.listArtifacts().filter((a) => a.state === 'receiving').map((a) => a.sha256));
    const active = new Set(this.receiver?.activeTransfers() ?? []);
    const sweep = (dir: string, keep: (name: string) => boolean): void => {
      if (!existsSync(dir)) return;
      for (const name of readdirSync(dir)) {
        if (keep(name)) continue;
        rmSync(join(dir, name), { recursive: true, force: true });
        this.log.debug(`cleanup: removed ${join(dir, name)}`);
      }
    };
    sweep(this.paths.stagingDir, (n) => {
      const sha = n.replace(/\.partial$/, '');
      return n.endsWith('.partial') && (receiving.has(sha) || active.has(sha));
    });
    sweep(this.paths.modelsDir, (n) => !n.startsWith('.edgetune-tmp-'));
    sweep(this.paths.datasetsDir, (n) => !n.includes('.tmp-') && !n.endsWith('.bundle'));
    const jobRunning = store.jobsInStates(['running']).length > 0 && this.runner !== null;
    if (!jobRunning) sweep(this.paths.workDir, () => false);
  }
}

/** The heartbeat's `nextAt` field: when the next one is due (omitted when the schedule cannot say). */
function nextBeat(next: Date | null): { nextAt?: string } {
  return next !== null && Number.isFinite(next.getTime()) ? { nextAt: next.toISOString() } : {};
}
