import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../agent/logger.js';
import { OperatorStore } from '../../store/operator-store.js';
import { RolloutStore } from '../../store/rollout-store.js';
import { checkOperatorStore, listPushes } from '../../store/operator-store-reads.js';
import type { MqttConnection } from '../../transport/mqtt-connection.js';
import { decodeMessage } from '../../transport/messages.js';
import { parsePrivateKey } from '../../transport/signature.js';
import { Topics } from '../../transport/topics.js';
import { EdgetuneError, errorCodeOf, messageOf } from '../../util/errors.js';
import { FleetInbox, MAX_DEVICE_MESSAGE_BYTES, reportModelSha } from '../fleet-inbox.js';
import { connectOperator, type OperatorBrokerOptions } from '../operator-link.js';
import { resyncReports } from '../resync-reports.js';
import { readRolloutStatus, type RolloutStatus } from '../rollout/rollout-status.js';
import { isLoopbackHost, newDashboardToken } from './dashboard-access.js';
import { listenDashboard, type DashboardAssets, type DashboardBackend, type DashboardHttpServer } from './dashboard-http.js';
import { DashboardPushes, type PushRunView } from './dashboard-pushes.js';
import { deviceView, fleetView, modelList, modelView, rolloutList, rolloutView } from './dashboard-views.js';

/** What the live stream tells the page; the page re-reads the view an event concerns. */
export type LiveEvent =
  | { type: 'device'; deviceId: string; kind: 'status' | 'hello' | 'heartbeat' }
  | { type: 'report'; deviceId: string; reportId: string; jobId: string; action: string; state: string; modelSha256: string | null }
  | { type: 'job-event'; deviceId: string; jobId: string; stage: string; progress: number | null }
  | { type: 'push'; run: PushRunView }
  | { type: 'resync'; deviceId: string; state: 'running' | 'done' | 'failed'; message: string }
  | { type: 'broker'; connected: boolean }
  /** Another process (`edgetune rollout`, `push`) wrote to the operator store: a rollout's page re-reads it. */
  | { type: 'store' };

/** Caller input for {@link Dashboard}. */
export interface DashboardOptions {
  /** The operator store directory (`--data-dir`): operator.db, uploads/, bundles/. */
  dataDir: string;
  broker: OperatorBrokerOptions;
  topicPrefix: string;
  chunkSizeBytes: number;
  /** ed25519 private key (PEM) that signs pushes and resyncs on the server side; unsigned without it. */
  keyPath?: string;
  host: string;
  /** 0: any free port. */
  port: number;
  /** Directory with the bundled page (index.html, app.js, app.css); default: built beside this module. */
  assetsDir?: string;
  /** How long a push from the page waits for its reports (default 10 min). */
  pushTimeoutMs?: number;
  /** How long a resync waits for each device's answer (default 60 s). */
  resyncTimeoutMs?: number;
  /** How often to look for writes to the store by other processes, such as a rollout's progress (default 1000 ms). */
  storeWatchMs?: number;
  log: Logger;
}

/** Where `npm run build` puts the bundled page: beside the compiled module, or (running from src/) in dist/. */
export function defaultAssetsDir(): string {
  const here = import.meta.dirname;
  const candidates = [join(here, 'web'), join(here, '../../../dist/operator/dashboard/web')];
  return candidates.find((d) => existsSync(join(d, 'app.js'))) ?? (candidates[0] as string);
}

/** Read the bundled page into memory: only these files are ever served, whatever a request asks for. */
export function loadDashboardAssets(dir: string): DashboardAssets {
  const read = (name: string): Buffer => {
    try {
      return readFileSync(join(dir, name));
    } catch (error) {
      throw new EdgetuneError('IO_FAILED', `the dashboard page is not built (${join(dir, name)}: ${messageOf(error)}); run npm run build`, { cause: error });
    }
  };
  return { indexHtml: read('index.html'), appJs: read('app.js'), appCss: read('app.css') };
}

/** Where a started dashboard listens. */
export interface DashboardAddress {
  /** The URL to open (with `?token=` when bound beyond loopback). */
  url: string;
  host: string;
  port: number;
  /** Null when bound to loopback. */
  token: string | null;
}

/**
 * The operator dashboard: a local web server over the operator store, connected to the broker so that status,
 * hello, heartbeats and reports land in the store (FleetInbox) and reach open pages at once (server-sent events).
 * Pushes and resyncs started from the page are signed here with the operator key. start() checks everything it can
 * (store, key, page, port, broker) before it writes anything; stop() undoes start() in reverse.
 */
export class Dashboard {
  private readonly o: DashboardOptions;
  private readonly topics: Topics;
  private readonly listeners = new Set<(e: LiveEvent) => void>();
  private readonly resyncs = new Map<string, Promise<void>>();
  private store: OperatorStore | null = null;
  private inbox: FleetInbox | null = null;
  private connection: MqttConnection | null = null;
  private http: DashboardHttpServer | null = null;
  private pushes: DashboardPushes | null = null;
  private storeWatch: NodeJS.Timeout | null = null;

  constructor(o: DashboardOptions) {
    this.o = o;
    this.topics = new Topics(o.topicPrefix);
  }

  /** Check the store, key and page, listen, connect to the broker, subscribe; the address to open. */
  async start(): Promise<DashboardAddress> {
    const o = this.o;
    const dirExisted = existsSync(o.dataDir);
    const check = checkOperatorStore(o.dataDir);
    if (o.keyPath !== undefined) {
      let pem: Buffer;
      try {
        pem = readFileSync(o.keyPath);
      } catch (error) {
        throw new EdgetuneError('USAGE', `--key ${o.keyPath} cannot be read: ${messageOf(error)}`, { cause: error });
      }
      parsePrivateKey(pem, o.keyPath);
    }
    const assets = loadDashboardAssets(o.assetsDir ?? defaultAssetsDir());
    const token = isLoopbackHost(o.host) ? null : newDashboardToken();
    const { sessionName: _session, ...pushBroker } = o.broker;
    this.pushes = new DashboardPushes({
      dataDir: o.dataDir,
      broker: pushBroker,
      topicPrefix: o.topicPrefix,
      chunkSizeBytes: o.chunkSizeBytes,
      ...(o.keyPath !== undefined ? { keyPath: o.keyPath } : {}),
      timeoutMs: o.pushTimeoutMs ?? 600_000,
      log: o.log.child('push'),
      onChange: (run) => this.emit({ type: 'push', run }),
    });
    this.http = await listenDashboard({ host: o.host, port: o.port, token, assets, backend: this.backend(), log: o.log.child('http') });
    try {
      // The store is open before the link: a persistent session's queued reports arrive right after CONNACK.
      this.store = new OperatorStore(check.path);
      this.inbox = new FleetInbox(this.store, this.topics, o.log.child('inbox'));
      this.connection = await connectOperator(o.broker, (m) => this.onMessage(m.topic, m.payload), o.log.child('mqtt'));
      this.connection.on('connect', () => this.emit({ type: 'broker', connected: true }));
      this.connection.on('disconnect', () => this.emit({ type: 'broker', connected: false }));
      if (!check.exists) o.log.info(`a new operator store starts at ${check.path}`);
      this.watchStore(this.store);
      const k = this.topics;
      await this.connection.subscribe([k.allDevices('status'), k.allDevices('hello'), k.allDevices('heartbeat'), k.allDevices('reports'), k.allDevices('events')], 1);
    } catch (error) {
      await this.stop();
      // nothing half-done: a store this start created goes again
      if (!dirExisted) rmSync(o.dataDir, { recursive: true, force: true });
      else if (!check.exists) for (const suffix of ['', '-wal', '-shm']) rmSync(`${check.path}${suffix}`, { force: true });
      throw error;
    }
    const shownHost = o.host.includes(':') ? `[${o.host}]` : o.host;
    const base = `http://${shownHost === '0.0.0.0' || shownHost === '[::]' ? '127.0.0.1' : shownHost}:${this.http.port}/`;
    return { url: token ? `${base}?token=${token}` : base, host: o.host, port: this.http.port, token };
  }

  /** Abort running pushes, wait briefly for resyncs, disconnect, stop listening, close the store. */
  async stop(): Promise<void> {
    if (this.storeWatch) clearInterval(this.storeWatch);
    this.storeWatch = null;
    await this.pushes?.stop();
    await Promise.race([Promise.allSettled([...this.resyncs.values()]), new Promise((r) => setTimeout(r, 5000).unref())]);
    await this.connection?.stop();
    this.connection = null;
    await this.http?.close();
    this.http = null;
    this.inbox = null;
    this.store?.close();
    this.store = null;
    this.listeners.clear();
  }

  /** Tell open pages when another process commits to the store (a rollout writes its progress there, not to MQTT). */
  private watchStore(store: OperatorStore): void {
    let seen = store.dataVersion();
    this.storeWatch = setInterval(() => {
      try {
        const now = store.dataVersion();
        if (now === seen) return;
        seen = now;
        if (this.listeners.size > 0) this.emit({ type: 'store' });
      } catch (error) {
        this.o.log.debug(`store watch: ${messageOf(error)}`);
      }
    }, this.o.storeWatchMs ?? 1000);
    this.storeWatch.unref();
  }

  private emit(e: LiveEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (error) {
        this.o.log.debug(`live listener: ${messageOf(error)}`);
      }
    }
  }

  private onMessage(topic: string, payload: Buffer): void {
    const store = this.store;
    const parsed = this.topics.parse(topic);
    if (!store || !parsed || !('deviceId' in parsed)) return;
    const deviceId = parsed.deviceId;
    if (parsed.kind === 'events') {
      try {
        const ev = decodeMessage('events', payload, MAX_DEVICE_MESSAGE_BYTES);
        this.emit({ type: 'job-event', deviceId, jobId: ev.jobId, stage: ev.stage, progress: ev.progress });
      } catch (error) {
        this.o.log.debug(`${topic}: ${messageOf(error)}`);
      }
      return;
    }
    const r = this.inbox?.handle(parsed, payload) ?? null;
    if (r) {
      if (r.isNew) {
        const { report } = r;
        this.emit({ type: 'report', deviceId, reportId: report.reportId, jobId: report.jobId, action: report.action, state: report.state, modelSha256: reportModelSha(report) });
      }
    } else if (parsed.kind === 'status' || parsed.kind === 'hello' || parsed.kind === 'heartbeat') {
      this.emit({ type: 'device', deviceId, kind: parsed.kind });
    }
  }

  private requireStore(): OperatorStore {
    if (!this.store) throw new EdgetuneError('RUNTIME_FAILED', 'the dashboard is not connected to its store yet');
    return this.store;
  }

  private startResync(deviceId: string): void {
    if (this.resyncs.has(deviceId)) throw new EdgetuneError('USAGE', `resync of ${deviceId} is already running`);
    const store = this.requireStore();
    if (!store.listDevices().some((d) => d.deviceId === deviceId) && !store.reportDeviceIds().includes(deviceId)) {
      throw new EdgetuneError('USAGE', `resync: no device '${deviceId}' in this operator store`);
    }
    const { sessionName: _session, ...broker } = this.o.broker;
    this.emit({ type: 'resync', deviceId, state: 'running', message: `asking ${deviceId} to re-send the reports this store lacks` });
    const run = resyncReports({
      broker,
      topicPrefix: this.o.topicPrefix,
      operatorDataDir: this.o.dataDir,
      ...(this.o.keyPath !== undefined ? { keyPath: this.o.keyPath } : {}),
      devices: [deviceId],
      timeoutMs: this.o.resyncTimeoutMs ?? 60_000,
      settleMs: 1000,
      chunkSizeBytes: this.o.chunkSizeBytes,
      log: this.o.log.child('resync'),
    })
      .then((result) => {
        const d = result.devices[0];
        const state = result.stillMissingCount === 0 ? 'done' : 'failed';
        const message = d ? `${d.recoveredCount} recovered, ${d.stillMissingCount} still missing${d.note ? ` (${d.note})` : ''}` : 'nothing to do';
        this.o.log.info(`resync ${deviceId}: ${message}`);
        this.emit({ type: 'resync', deviceId, state, message });
      })
      .catch((error: unknown) => {
        this.o.log.warn(`resync ${deviceId}: ${messageOf(error)} [${errorCodeOf(error)}]`);
        this.emit({ type: 'resync', deviceId, state: 'failed', message: `${messageOf(error)} [${errorCodeOf(error)}]` });
      })
      .finally(() => {
        this.resyncs.delete(deviceId);
        this.emit({ type: 'device', deviceId, kind: 'status' });
      });
    this.resyncs.set(deviceId, run);
  }

  private backend(): DashboardBackend {
    return {
      summary: () => ({
        broker: { url: this.o.broker.url, connected: this.connection?.connected ?? false },
        signed: this.o.keyPath !== undefined,
        dataDir: this.o.dataDir,
        resyncing: [...this.resyncs.keys()],
      }),
      fleet: () => {
        const store = this.requireStore();
        return fleetView(store.listDevices(), (id) => store.reportSeqs(id), store.artifactNames());
      },
      device: (deviceId) => {
        const store = this.requireStore();
        const row = store.listDevices().find((d) => d.deviceId === deviceId) ?? null;
        const reports = store.listReports({ deviceId });
        if (!row && reports.length === 0) return null;
        return deviceView(deviceId, row, reports, listPushes(store), store.artifactNames());
      },
      models: () => {
        const store = this.requireStore();
        return modelList(store.listReports(), store.artifactNames());
      },
      model: (sha256) => {
        const store = this.requireStore();
        const rows = store.listReports({ modelSha256: sha256 });
        return rows.length === 0 ? null : modelView(rows, store.artifactNames());
      },
      rollouts: () => {
        const rs = new RolloutStore(this.requireStore().db);
        return rolloutList(rs.list().map((id) => readRolloutStatus(rs, id)).filter((x): x is RolloutStatus => x !== null));
      },
      rollout: (rolloutId) => {
        const status = readRolloutStatus(new RolloutStore(this.requireStore().db), rolloutId);
        return status ? rolloutView(status) : null;
      },
      pushes: () => this.pushes?.list() ?? [],
      datasets: () => this.pushes?.datasets() ?? [],
      submitPush: (s) => {
        if (!this.pushes) throw new EdgetuneError('RUNTIME_FAILED', 'the dashboard is stopping');
        return this.pushes.submit(s);
      },
      resync: (deviceId) => this.startResync(deviceId),
      subscribe: (listener) => {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
      },
    };
  }
}
