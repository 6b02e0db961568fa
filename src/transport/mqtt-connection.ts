import { EventEmitter } from 'node:events';
import { connect, Store, type IClientOptions, type IPublishPacket, type MqttClient, type PacketCallback } from 'mqtt';
import { EdgetuneError, messageOf } from '../util/errors.js';
import { reconnectDelayMs } from './backoff.js';

/** Minimal logger the transport writes to (the agent passes its own). */
export interface TransportLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** A message delivered by the broker. */
export interface IncomingMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
}

/** The Last Will: published by the broker when the connection dies without a clean DISCONNECT. */
export interface WillOptions {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  retain: boolean;
  /** MQTT 5 Will Delay: a reconnect within this time suppresses the Will (ignored with 3.1.1). */
  delaySeconds?: number;
}

/** Caller input for {@link MqttConnection}. */
export interface MqttConnectionOptions {
  /** mqtt:// or mqtts:// URL (the first node when `urls` is given). */
  url: string;
  /**
   * The nodes of a clustered broker, tried in order: a lost or refused connection moves to the next node (and round
   * to the first again), so a node loss costs one reconnect. Default: [url].
   */
  urls?: readonly string[];
  clientId: string;
  /** 4 = MQTT 3.1.1 (aedes speaks only this), 5 = MQTT 5, 'auto' = try 5 and fall back to 4 if the broker refuses. */
  protocolVersion: 4 | 5 | 'auto';
  /** false keeps a persistent session (with MQTT 5 also needs sessionExpirySeconds > 0). */
  clean: boolean;
  sessionExpirySeconds: number;
  keepaliveSeconds: number;
  username?: string;
  password?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  will?: WillOptions;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  connectTimeoutMs?: number;
  /** MQTT 5: the largest packet we accept; the broker drops bigger ones instead of sending them (3.1.1 has no such cap). */
  maximumPacketSizeBytes?: number;
  /**
   * MQTT 5 Receive Maximum: at most this many QoS 1 messages unacknowledged from the broker to us. Brokers hold a
   * copy of each in-flight packet per client, so this caps what a slow device costs the broker (3.1.1 has none).
   */
  receiveMaximum?: number;
  /**
   * Called for every incoming PUBLISH, one at a time. For QoS 1 the PUBACK is sent only after the returned promise
   * resolves (ack after persist). If it rejects, the message is not acknowledged and the broker delivers it again to
   * the next session; handlers turn bad input into data themselves and reject only when they could not persist.
   */
  onMessage: (message: IncomingMessage) => void | Promise<void>;
  log: TransportLogger;
  /**
   * How long a SUBSCRIBE that a live broker refuses (SUBACK 0x80) is sent again (doubling pauses from 250 ms) before
   * `subscribe` rejects; default 0. NATS refuses some under load or while it moves state off a lost node (its
   * JetStream consumer for the subscription could not be made in time) and grants them a moment later; an ACL that
   * forbids a filter refuses every time, and only costs this long.
   */
  refusedSubscribeRetryMs?: number;
  /** Injected randomness for the reconnect jitter (default Math.random). */
  random?: () => number;
}

/** Events: 'connect' (sessionPresent: boolean), 'disconnect' (reason: string). */
export interface MqttConnectionEvents {
  connect: [sessionPresent: boolean];
  disconnect: [reason: string];
}

interface PendingPublish {
  reject: (error: Error) => void;
}

/**
 * One MQTT link with our own reconnect loop (jittered exponential backoff; MQTT.js's fixed interval makes a
 * thundering herd), ack-after-persist via handleMessage, no offline queue (publish rejects while disconnected),
 * and subscriptions re-sent whenever the broker has no session for us. The only importer of `mqtt`.
 */
export class MqttConnection extends EventEmitter<MqttConnectionEvents> {
  private readonly options: MqttConnectionOptions;
  private client: MqttClient | null = null;
  private readonly subscriptions = new Map<string, 0 | 1>();
  /** Filters whose refusal by the broker is logged, not fatal to the link (see subscribe). */
  private readonly optionalFilters = new Set<string>();
  private readonly optionalRefusalLogged = new Set<string>();
  private readonly pending = new Map<MqttClient, Set<PendingPublish>>();
  private reconnectTimer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private stopped = true;
  private holding = false;
  private isConnected = false;
  private negotiatedVersion: 4 | 5;
  private readonly urls: readonly string[];
  private urlIndex = 0;
  private downgradeLogged = false;
  /** Per node, the last reason a connection to it failed (cleared when it connects). */
  private readonly nodeFailures = new Map<string, string>();

  constructor(options: MqttConnectionOptions) {
    super();
    const urls = options.urls && options.urls.length > 0 ? options.urls : [options.url];
    for (const u of urls) if (!/^mqtts?:\/\/[^\s,]+$/.test(u)) throw new RangeError(`broker url '${u}' must start with mqtt:// or mqtts://`);
    this.options = options;
    this.urls = [...urls];
    this.negotiatedVersion = options.protocolVersion === 4 ? 4 : 5;
  }

  /** The node in use (or tried next while disconnected). */
  get url(): string {
    return this.urls[this.urlIndex] as string;
  }

  /** Every node of the broker, in the order they are tried. */
  get nodeUrls(): readonly string[] {
    return this.urls;
  }

  /** Per node, why the last connection to it failed; a node that connected since has no entry. */
  failures(): ReadonlyMap<string, string> {
    return this.nodeFailures;
  }

  /** True while a CONNACK-accepted connection is open. */
  get connected(): boolean {
    return this.isConnected;
  }

  /** The MQTT protocol level in use (after 'auto' fell back, 4). */
  get protocolVersion(): 4 | 5 {
    return this.negotiatedVersion;
  }

  /** Begin connecting (and keep reconnecting until stop()). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.holding = false;
    this.openClient();
  }

  /** Resolve when connected; reject with BROKER_FAILED after `timeoutMs` or when `signal` aborts. */
  waitForConnection(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.isConnected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('connect', onConnect);
        signal?.removeEventListener('abort', onAbort);
      };
      const onConnect = (): void => {
        cleanup();
        resolve();
      };
      const onAbort = (): void => {
        cleanup();
        reject(new EdgetuneError('ABORTED', 'aborted while waiting for the broker'));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new EdgetuneError('BROKER_FAILED', `no connection to ${this.urls.join(', ')} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('connect', onConnect);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Publish; resolves on PUBACK for QoS 1 (on write for QoS 0). Rejects with BROKER_FAILED while disconnected. */
  publish(topic: string, payload: Buffer | string, opts: { qos: 0 | 1; retain?: boolean }): Promise<void> {
    const client = this.client;
    if (!client || !this.isConnected) {
      return Promise.reject(new EdgetuneError('BROKER_FAILED', `not connected to the broker; ${topic} not published`));
    }
    return new Promise<void>((resolve, reject) => {
      let set = this.pending.get(client);
      if (!set) {
        set = new Set();
        this.pending.set(client, set);
      }
      const entry: PendingPublish = { reject };
      set.add(entry);
      client.publish(topic, payload, { qos: opts.qos, retain: opts.retain ?? false }, (error) => {
        set.delete(entry);
        if (error) reject(new EdgetuneError('BROKER_FAILED', `publish to ${topic} failed: ${messageOf(error)}`, { cause: error }));
        else resolve();
      });
    });
  }

  /**
   * Publish through a broker restart or network cut: wait for the connection (at most `timeoutMs` in all) and
   * publish again if the connection dropped before the PUBACK. QoS 1 is at-least-once anyway, so the receiver may
   * see the message twice (retained messages and jobIds make that harmless for our topics).
   */
  async publishWhenConnected(topic: string, payload: Buffer | string, opts: { qos: 0 | 1; retain?: boolean }, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.isConnected) {
        try {
          await this.publish(topic, payload, opts);
          return;
        } catch (error) {
          if (this.isConnected || this.stopped) throw error; // refused by a live broker, or we are shutting down
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new EdgetuneError('BROKER_FAILED', `no connection to ${this.urls.join(', ')} for ${timeoutMs} ms; ${topic} not published`);
      await this.waitForConnection(left, signal);
    }
  }

  /**
   * Subscribe (remembered and re-sent on every connect); resolves on SUBACK, or at once while offline, or when the
   * connection drops before the SUBACK (the next connect sends it again). A live broker's refusal rejects, except for
   * `optional` filters (one the broker's ACL may deny): their refusal is logged once and the link stays up.
   */
  async subscribe(filters: readonly string[], qos: 0 | 1, opts: { optional?: boolean } = {}): Promise<void> {
    const fresh = filters.filter((f) => this.subscriptions.get(f) !== qos);
    for (const f of fresh) this.subscriptions.set(f, qos);
    if (opts.optional) for (const f of filters) this.optionalFilters.add(f);
    const client = this.client;
    if (fresh.length === 0 || !client || !this.isConnected) return;
    const deadline = Date.now() + (this.options.refusedSubscribeRetryMs ?? 0);
    for (let pauseMs = 250; ; pauseMs *= 2) {
      try {
        await this.sendSubscribe(client, fresh.map((f) => [f, qos]));
        return;
      } catch (error) {
        if (!(this.isConnected && this.client === client)) {
          this.options.log.debug(`mqtt: connection lost before the SUBACK for ${fresh.join(', ')}; re-sent on reconnect`);
          return;
        }
        if (Date.now() + pauseMs > deadline || this.stopped) throw error;
        this.options.log.info(`mqtt: ${messageOf(error)}; subscribing again in ${pauseMs} ms`);
        await new Promise((r) => setTimeout(r, pauseMs));
        if (!(this.isConnected && this.client === client) || !fresh.every((f) => this.subscriptions.get(f) === qos)) return;
      }
    }
  }

  /** Unsubscribe and forget the filters. */
  async unsubscribe(filters: readonly string[]): Promise<void> {
    const known = filters.filter((f) => this.subscriptions.delete(f));
    if (known.length === 0 || !this.client || !this.isConnected) return;
    const client = this.client;
    await new Promise<void>((resolve) => {
      client.unsubscribe(known, (error) => {
        if (error) this.options.log.warn(`mqtt: unsubscribe ${known.join(', ')} failed: ${messageOf(error)}`);
        resolve();
      });
    });
  }

  /**
   * From now on incoming PUBLISHes are neither handled nor acknowledged: the broker keeps them for the next session.
   * The first step of a shutdown, so that nothing is acknowledged that will not be processed.
   */
  holdIncoming(): void {
    this.holding = true;
  }

  /**
   * Stop: publish `finalMessages` (e.g. a retained `offline` status, since a clean DISCONNECT discards the Will)
   * if connected, then disconnect cleanly and stop reconnecting.
   */
  async stop(finalMessages: ReadonlyArray<{ topic: string; payload: Buffer; qos: 0 | 1; retain: boolean }> = []): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const client = this.client;
    if (!client) return;
    if (this.isConnected) {
      for (const m of finalMessages) {
        try {
          await withTimeout(this.publish(m.topic, m.payload, { qos: m.qos, retain: m.retain }), 5000);
        } catch (error) {
          this.options.log.warn(`mqtt: final message to ${m.topic} not acknowledged: ${messageOf(error)}`);
        }
      }
    }
    this.client = null;
    this.isConnected = false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        client.end(true);
        resolve();
      }, 3000);
      client.end(false, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.failPending(client, 'connection closed by stop()');
  }

  /**
   * After stop(): make the broker forget this client id's persistent session, by one clean connect and DISCONNECT
   * (MQTT 3.1.1 has no session expiry, so a session nobody resumes stays for good; under MQTT 5 the expiry does it
   * and this is not needed). Resolves either way; false when no node answered within `timeoutMs`.
   */
  async discardSession(timeoutMs = 5000): Promise<boolean> {
    if (!this.stopped) throw new Error('discardSession() is for a stopped connection');
    for (const url of [this.url, ...this.urls.filter((u) => u !== this.url)]) {
      const opts: IClientOptions = { ...this.clientOptions(), clean: true, reconnectPeriod: 0, connectTimeout: timeoutMs };
      delete opts.will;
      if (opts.properties) opts.properties = { sessionExpiryInterval: 0 };
      const client = connect(url, opts);
      const ok = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        client.once('connect', () => {
          clearTimeout(timer);
          resolve(true);
        });
        client.once('error', () => undefined);
        client.once('close', () => {
          clearTimeout(timer);
          resolve(false);
        });
      });
      await new Promise<void>((resolve) => client.end(!ok, {}, () => resolve()));
      if (ok) return true;
    }
    return false;
  }

  private clientOptions(): IClientOptions {
    const o = this.options;
    const v5 = this.negotiatedVersion === 5;
    const opts: IClientOptions = {
      clientId: o.clientId,
      protocolVersion: this.negotiatedVersion,
      clean: o.clean,
      keepalive: o.keepaliveSeconds,
      reconnectPeriod: 0,
      // With several nodes a node that accepts TCP but never answers CONNECT (a NATS node whose JetStream has no
      // quorum yet) is given up sooner, so that the next node is tried.
      connectTimeout: o.connectTimeoutMs ?? (this.urls.length > 1 ? 10_000 : 30_000),
      queueQoSZero: false,
      resubscribe: false,
      incomingStore: new ClosedSafeStore(),
      outgoingStore: new ClosedSafeStore(),
      rejectUnauthorized: true,
    };
    if (v5) {
      opts.properties = { sessionExpiryInterval: o.clean ? 0 : o.sessionExpirySeconds };
      if (o.maximumPacketSizeBytes !== undefined) opts.properties.maximumPacketSize = o.maximumPacketSizeBytes;
      if (o.receiveMaximum !== undefined) opts.properties.receiveMaximum = o.receiveMaximum;
    }
    if (o.username !== undefined) opts.username = o.username;
    if (o.password !== undefined) opts.password = o.password;
    if (o.ca) opts.ca = o.ca;
    if (o.cert) opts.cert = o.cert;
    if (o.key) opts.key = o.key;
    if (o.will) {
      opts.will = { topic: o.will.topic, payload: o.will.payload, qos: o.will.qos, retain: o.will.retain };
      if (v5 && o.will.delaySeconds) opts.will.properties = { willDelayInterval: o.will.delaySeconds };
    }
    return opts;
  }

  private openClient(): void {
    if (this.stopped) return;
    const url = this.url;
    const client = connect(url, this.clientOptions());
    this.client = client;
    let refusedProtocol = false;
    let lastError: string | null = null;
    client.handleMessage = (packet: IPublishPacket, callback: (error?: Error) => void): void => {
      // MQTT.js: calling back with an error skips the PUBACK and goes on with the next packet; the broker
      // redelivers the message to the next session.
      if (this.holding || this.stopped) {
        callback(new Error('not accepting messages (shutting down)'));
        return;
      }
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      const message: IncomingMessage = { topic: packet.topic, payload, qos: packet.qos, retain: packet.retain };
      Promise.resolve()
        .then(() => this.options.onMessage(message))
        .then(
          () => callback(),
          (error: unknown) => {
            this.options.log.error(`mqtt: handler for ${packet.topic} failed, message not acknowledged: ${messageOf(error)}`);
            callback(error instanceof Error ? error : new Error(String(error)));
          },
        );
    };
    client.on('connect', (connack) => {
      if (this.client !== client) return;
      // The backoff restarts only once the link is usable: a broker that accepts CONNECT and then refuses the
      // SUBSCRIBEs (NATS under a connect storm) would otherwise be hammered at the initial delay forever.
      if (this.subscriptions.size === 0) this.attempt = 0;
      this.isConnected = true;
      this.nodeFailures.delete(url);
      const sessionPresent = connack.sessionPresent === true && !this.options.clean;
      const node = this.urls.length > 1 ? ` (node ${this.urlIndex + 1} of ${this.urls.length})` : '';
      this.options.log.info(`mqtt: connected to ${url}${node} (MQTT ${this.negotiatedVersion === 5 ? '5' : '3.1.1'}, session ${sessionPresent ? 'resumed' : 'new'})`);
      if (this.negotiatedVersion === 4) this.logDowngrade();
      // Re-send every subscription on each connect: a resumed session may lack ones added while offline, and
      // SUBSCRIBE is idempotent (retained messages come again; handlers tolerate that). A refused or unanswered
      // SUBSCRIBE drops the connection so that the next connect (the next node) tries again: a clustered broker
      // can refuse one while it moves its state off a lost node, and a link without its subscriptions is deaf.
      if (this.subscriptions.size > 0) {
        const all = [...this.subscriptions.entries()];
        withTimeout(this.sendSubscribe(client, all), this.options.connectTimeoutMs ?? 30_000).then(() => {
          if (this.client === client) this.attempt = 0;
        }, (error: unknown) => {
          if (this.client !== client) return;
          this.options.log.warn(`mqtt: resubscribe on ${url} failed (${messageOf(error)}); reconnecting`);
          client.stream?.destroy();
        });
      }
      this.emit('connect', sessionPresent);
    });
    client.on('error', (error: Error & { code?: number | string }) => {
      if (this.client !== client) return;
      const text = messageOf(error);
      lastError = typeof error.code === 'string' ? `${error.code}` : text;
      if (this.options.protocolVersion === 'auto' && this.negotiatedVersion === 5 && /unacceptable protocol|unsupported protocol/i.test(text)) {
        refusedProtocol = true;
        this.options.log.debug(`mqtt: ${text} (falling back to MQTT 3.1.1)`);
        return;
      }
      this.options.log.warn(`mqtt: ${text}`);
    });
    client.on('close', () => {
      if (this.client !== client) return;
      const wasConnected = this.isConnected;
      this.isConnected = false;
      this.client = null;
      client.removeAllListeners('connect');
      client.end(true);
      this.failPending(client, 'connection lost before PUBACK');
      if (wasConnected) this.emit('disconnect', 'connection closed');
      if (this.stopped) return;
      if (!wasConnected && this.options.protocolVersion === 'auto' && this.negotiatedVersion === 5 && refusedProtocol) {
        this.options.log.info(`mqtt: ${url} refused MQTT 5; retrying with MQTT 3.1.1`);
        this.negotiatedVersion = 4;
        this.openClient();
        return;
      }
      if (!wasConnected) this.nodeFailures.set(url, lastError ?? 'no CONNACK');
      if (this.urls.length > 1) {
        // Fail over: the next node, and round to the first again after the last.
        this.urlIndex = (this.urlIndex + 1) % this.urls.length;
        this.options.log.info(`mqtt: ${wasConnected ? 'lost' : 'no connection to'} ${url}; next node ${this.url}`);
      }
      const delay = reconnectDelayMs(this.attempt, this.options.reconnectInitialMs, this.options.reconnectMaxMs, this.options.random ?? Math.random);
      this.attempt += 1;
      this.options.log.debug(`mqtt: reconnecting in ${delay} ms (attempt ${this.attempt})`);
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        this.openClient();
      }, delay);
    });
  }

  /**
   * One line, once, naming what MQTT 3.1.1 cannot carry of what the caller asked for, and the equivalent where the
   * broker has one.
   */
  private logDowngrade(): void {
    if (this.downgradeLogged) return;
    this.downgradeLogged = true;
    const o = this.options;
    const off: string[] = [];
    if (o.receiveMaximum !== undefined) off.push(`Receive Maximum ${o.receiveMaximum} (the broker's own in-flight limit applies: NATS mqtt.max_ack_pending, Mosquitto max_inflight_messages)`);
    if (!o.clean && o.sessionExpirySeconds > 0) off.push(`session expiry ${o.sessionExpirySeconds} s (the persistent session lasts until a clean connect)`);
    if (o.will?.delaySeconds) off.push(`Will Delay ${o.will.delaySeconds} s (the Will is published as soon as the link drops)`);
    if (o.maximumPacketSizeBytes !== undefined) off.push('Maximum Packet Size (the broker\'s own limit applies)');
    if (off.length === 0) return;
    o.log.info(`mqtt: MQTT 3.1.1 (${o.protocolVersion === 'auto' ? 'the broker refused 5' : 'configured'}), so these MQTT 5 features are off: ${off.join('; ')}`);
  }

  private sendSubscribe(client: MqttClient, entries: Array<[string, 0 | 1]>): Promise<void> {
    const map: Record<string, { qos: 0 | 1 }> = {};
    for (const [f, qos] of entries) map[f] = { qos };
    return new Promise((resolve, reject) => {
      client.subscribe(map, (error, granted) => {
        if (error) {
          reject(new EdgetuneError('BROKER_FAILED', `subscribe failed: ${messageOf(error)}`, { cause: error }));
          return;
        }
        const refusedAll = (granted ?? []).filter((g) => g.qos >= 128); // 0x80 (3.1.1) or an MQTT 5 reason code ≥ 0x80
        for (const g of refusedAll) {
          if (!this.optionalFilters.has(g.topic) || this.optionalRefusalLogged.has(g.topic)) continue;
          this.optionalRefusalLogged.add(g.topic);
          this.options.log.warn(`mqtt: the broker refused the optional subscription to ${g.topic} (an ACL without read access?); going on without it`);
        }
        const refused = refusedAll.filter((g) => !this.optionalFilters.has(g.topic));
        if (refused.length > 0) {
          reject(new EdgetuneError('BROKER_FAILED', `broker refused subscription to ${refused.map((g) => g.topic).join(', ')}`));
          return;
        }
        resolve();
      });
    });
  }

  private failPending(client: MqttClient, reason: string): void {
    const set = this.pending.get(client);
    if (!set) return;
    this.pending.delete(client);
    for (const p of set) p.reject(new EdgetuneError('BROKER_FAILED', reason));
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<T>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * MQTT.js's in-memory packet store, made safe to use after close(). A link that drops calls `end(true)`, which
 * closes the client's stores; a PUBACK that MQTT.js had already read and queued is then handled against a closed
 * store and threw `TypeError: Cannot read properties of null (reading 'get')` from inside MQTT.js — uncaught, it
 * killed the process (8 fleet-bench worker processes of 62 agents each, in a 500-device push through NATS). After
 * close every call answers with an error instead; MQTT.js hands it to the publish callback, which the link has
 * already failed.
 */
export class ClosedSafeStore extends Store {
  private closed = false;

  override put(packet: Parameters<Store['put']>[0], cb: Parameters<Store['put']>[1]): this {
    if (this.closed) {
      cb(new Error('mqtt store closed'));
      return this;
    }
    return super.put(packet, cb);
  }

  override del(packet: Parameters<Store['del']>[0], cb: PacketCallback): this {
    if (this.closed) {
      cb(new Error('mqtt store closed'));
      return this;
    }
    return super.del(packet, cb);
  }

  override get(packet: Parameters<Store['get']>[0], cb: PacketCallback): this {
    if (this.closed) {
      cb(new Error('mqtt store closed'));
      return this;
    }
    return super.get(packet, cb);
  }

  override createStream(): ReturnType<Store['createStream']> {
    if (this.closed) {
      const empty = new Store();
      return empty.createStream();
    }
    return super.createStream();
  }

  override close(cb: Parameters<Store['close']>[0]): void {
    if (this.closed) {
      cb?.();
      return;
    }
    this.closed = true;
    super.close(cb);
  }
}
