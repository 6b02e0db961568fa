import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { OperatorStore } from '../store/operator-store.js';
import { chunkCount } from '../transport/chunk-layout.js';
import { JOB_ACTIONS, decodeMessage, encodeMessage, type ArtifactRef, type JobAction, type JobMessage, type ManifestMessage, type ReportMessage } from '../transport/messages.js';
import type { MqttConnection } from '../transport/mqtt-connection.js';
import { parsePrivateKey, signJob, signManifest } from '../transport/signature.js';
import { Topics } from '../transport/topics.js';
import { EdgetuneError, messageOf } from '../util/errors.js';
import { sha256OfFile } from '../agent/artifact-receiver.js';
import { packDatasetBundle } from '../agent/dataset-bundle.js';
import { jobOptionProblems, optionNamesOf } from '../agent/actions/job-option-schemas.js';
import { decodeModel } from '../onnx/model-codec.js';
import type { DetectionTaskFiles } from '../detect/load-detection-task.js';
import { detectionJobOption, preparePushData, resolveJobDetection, type DetectionSources, type JobDetectionOption } from './detection-push.js';
import type { Logger } from '../agent/logger.js';
import { ArtifactServer, type DeviceTransferState } from './artifact-server.js';
import { FleetInbox, MAX_DEVICE_MESSAGE_BYTES } from './fleet-inbox.js';
import { connectOperator, type OperatorBrokerOptions } from './operator-link.js';

/** Where a push goes. */
export type PushTarget = { device: string } | { group: string };

/** Caller input for {@link pushJob}. */
export interface PushOptions {
  /** Model file (required for deploy/profile/compress/eval/tune unless the job acts on the live model). */
  modelPath?: string;
  target: PushTarget;
  action: JobAction;
  /**
   * Dataset directory in the ONNX test-data layout, sent along as a bundle; with a detector task also a folder of
   * JPEG/PNG images, converted here (fitted to MODEL's input by the decoder's preset, one set with a `meta.json` per
   * image) into a temporary directory that is removed once bundled.
   */
  dataDir?: string;
  /**
   * A detector (`--task detection --decoder NAME [--decoder-config F.json] [--labels coco.json] [--ref-conf X]`):
   * the files are read here and sent inline as `options.detection` (deploy, compress, tune, eval).
   */
  detection?: DetectionTaskFiles;
  broker: OperatorBrokerOptions;
  topicPrefix: string;
  /** ed25519 private key (PEM) to sign the job and manifests; unsigned without it. */
  keyPath?: string;
  /** Wait for every target's report (else only for the transfer). */
  wait: boolean;
  timeoutMs: number;
  chunkSizeBytes: number;
  /**
   * QoS the chunks are published at (default 1). 0 for devices with `broker.artifactQos: 0` on a clustered broker
   * (NATS): nothing is stored per chunk; the devices ask again for what they lost.
   */
  chunkQos?: 0 | 1;
  /** The operator's store directory (reports land in operator.db; dataset bundles are built here). */
  operatorDataDir: string;
  /** Job options passed to the device's action (checked against the action's schema, job-option-schemas.ts). */
  jobOptions?: Record<string, unknown>;
  /** Concrete shapes of inputs with symbolic dims (`--shape NAME=DxDxD`), sent as `options.shapes` (profile, deploy, tune). */
  shapes?: Record<string, number[]>;
  /**
   * Check before anything is sent (default true): the options parse by the action's schema, and MODEL decodes as
   * ONNX (except for `ping`, a transfer check that carries any bytes). false sends them as given: tests of the
   * agent's own refusals.
   */
  preflight?: boolean;
  /**
   * A device the broker has no retained status or hello for has never connected there, and a broker keeps no job
   * for a device without a session: without `queue` the push refuses it at once (USAGE); with it, the push waits (up
   * to the timeout) for the device to come online and sends the job then.
   */
  queue?: boolean;
  /** Job expiry (default 7 days). */
  expiresInSeconds?: number;
  /** How long to gather retained hello/status to learn a group's members or that a device exists (default 1500 ms). */
  discoveryMs?: number;
  log: Logger;
  onProgress?: (snapshot: PushProgress) => void;
  signal?: AbortSignal;
}

/** Progress of a push: per device, transfer state and whether it reported. */
export interface PushProgress {
  jobId: string;
  devices: Array<{ deviceId: string; received: number; chunks: number; complete: boolean; reported: boolean }>;
  chunksSent: number;
}

/** What a push did. */
export interface PushResult {
  jobId: string;
  action: JobAction;
  target: PushTarget;
  artifact: ArtifactRef | null;
  data: ArtifactRef | null;
  /** Devices that were expected to take the job. */
  devices: string[];
  /** Reports received for this job (all of them with --wait). */
  reports: ReportMessage[];
  /** Chunks published: each chunk broadcast once to the devices subscribed then, plus `chunksResent`. */
  chunksSent: number;
  /** Chunks re-sent to a single device (it joined after the broadcast, or lost a delivery). */
  chunksResent: number;
  bytesSent: number;
  /** First chunk sent → last expected device said it has every artifact verified (null when nothing was sent). */
  transferSeconds: number | null;
  /** The whole push: connect, transfer, and with `wait` the job until its last report. */
  seconds: number;
  /** The target device had never been seen on the broker when the push started (`queue`: the job waited for it). */
  unseenDevice: boolean;
}

/** Actions that send the model file along. */
const SENDS_MODEL: ReadonlySet<JobAction> = new Set<JobAction>(['deploy', 'profile', 'compress', 'eval', 'tune', 'ping', 'activate']);
/** Actions that act on the device's stored variants alone: a MODEL means nothing to them. */
const TAKES_NO_MODEL: ReadonlySet<JobAction> = new Set<JobAction>(['rollback', 'resend-reports']);

/** MODEL must decode as an ONNX model, in one file (the push sends one file): MODEL_INVALID naming it otherwise. */
function checkOnnxModel(path: string): void {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new EdgetuneError('USAGE', `MODEL ${path} cannot be read: ${messageOf(error)}`, { cause: error });
  }
  try {
    if (bytes.length === 0) throw new EdgetuneError('MODEL_INVALID', 'the file is empty');
    decodeModel(bytes, {
      readExternal: (location, _offset, _length, tensorName) => {
        throw new EdgetuneError('MODEL_INVALID', `tensor '${tensorName}' keeps its data in the separate file '${location}', and push sends one file: save the model with its weights inside`);
      },
    });
  } catch (error) {
    throw new EdgetuneError('MODEL_INVALID', `push: MODEL ${path} is not an ONNX model push can send: ${messageOf(error)}; nothing was sent`, { cause: error });
  }
}

function jobIdNow(): string {
  return `job-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
}

async function describeFile(path: string, what: string): Promise<{ bytes: number; sha256: string }> {
  let st;
  try {
    st = statSync(path);
  } catch (error) {
    throw new EdgetuneError('USAGE', `${what} ${path} cannot be read: ${messageOf(error)}`, { cause: error });
  }
  if (!st.isFile()) throw new EdgetuneError('USAGE', `${what} ${path} is not a file`);
  return { bytes: st.size, sha256: await sha256OfFile(path) };
}

/**
 * Push a job: publish the retained, signed manifest(s), the signed job, then serve chunk requests until every
 * expected device has the artifacts (and with `wait`, until each has reported). Reports are stored in the
 * operator's SQLite store as they arrive.
 */
export async function pushJob(o: PushOptions): Promise<PushResult> {
  const started = Date.now();
  const topics = new Topics(o.topicPrefix);
  if (o.action === 'deploy' && !o.modelPath) throw new EdgetuneError('USAGE', 'push: deploy needs a MODEL file');
  if (o.action === 'eval' && !o.dataDir) throw new EdgetuneError('USAGE', 'push: eval needs --data DIR');
  if (o.queue && 'group' in o.target) throw new EdgetuneError('USAGE', 'push: --queue applies to --device (a group push publishes for the members it finds)');
  if (o.modelPath && TAKES_NO_MODEL.has(o.action)) throw new EdgetuneError('USAGE', `push: ${o.action} acts on the variants stored on the device and takes no MODEL`);
  const preflight = o.preflight ?? true;
  let privateKey: KeyObject | null = null;
  if (o.keyPath) {
    let pem: Buffer;
    try {
      pem = readFileSync(o.keyPath);
    } catch (error) {
      throw new EdgetuneError('USAGE', `--key ${o.keyPath} cannot be read: ${messageOf(error)}`, { cause: error });
    }
    privateKey = parsePrivateKey(pem, o.keyPath);
  }
  mkdirSync(o.operatorDataDir, { recursive: true });

  const served: Array<{ ref: ArtifactRef; path: string; kind: 'model' | 'dataset' }> = [];
  let artifact: ArtifactRef | null = null;
  const jobOptions: Record<string, unknown> = { ...(o.jobOptions ?? {}) };
  if (o.shapes && Object.keys(o.shapes).length > 0) {
    if (!optionNamesOf(o.action).includes('shapes')) {
      throw new EdgetuneError('USAGE', `push: --shape applies to ${JOB_ACTIONS.filter((a) => optionNamesOf(a).includes('shapes')).join(', ')}, not to ${o.action}`);
    }
    if (jobOptions.shapes !== undefined) throw new EdgetuneError('USAGE', 'push: give input shapes with --shape or with --option shapes=…, not both');
    jobOptions.shapes = o.shapes;
  }
  let detectionSources: DetectionSources = {};
  if (o.detection) {
    if (jobOptions.detection !== undefined) throw new EdgetuneError('USAGE', 'push: give the detector task with --task detection or with --option detection=…, not both');
    const { option, sources } = detectionJobOption(o.action, o.detection);
    jobOptions.detection = option;
    detectionSources = sources;
  }
  if (o.modelPath) {
    const d = await describeFile(o.modelPath, 'MODEL');
    const name = o.modelPath.split(/[\\/]/).pop()?.slice(0, 256) ?? 'model.onnx';
    if (SENDS_MODEL.has(o.action)) {
      artifact = { sha256: d.sha256, bytes: d.bytes, name };
      served.push({ ref: artifact, path: o.modelPath, kind: 'model' });
    } else if (jobOptions.variantId === undefined) {
      jobOptions.variantId = d.sha256; // delete: name the stored model by digest, send nothing
    }
  }
  if (preflight) {
    if (o.action === 'delete' && jobOptions.variantId === undefined) throw new EdgetuneError('USAGE', 'push: delete needs MODEL (its sha256 names the stored variant) or --option variantId=SHA256');
    const problems = jobOptionProblems(o.action, jobOptions);
    if (problems.length > 0) throw new EdgetuneError('USAGE', `push: ${o.action}: ${problems.map((p) => p.message).join('; ')}; nothing was sent`);
    if (o.modelPath && o.action !== 'ping') checkOnnxModel(o.modelPath);
  }
  // The detector task as the device will resolve it: a bad decoder, config or labels is refused here, before sending.
  const detectionOption = jobOptions.detection as JobDetectionOption | undefined;
  const task = detectionOption !== undefined && (preflight || (o.dataDir !== undefined && o.modelPath !== undefined)) ? resolveJobDetection(detectionOption, detectionSources) : null;
  let data: ArtifactRef | null = null;
  /** The bundle this push wrote (removed again when the job is refused below). */
  let newBundle: string | null = null;
  if (o.dataDir) {
    const bundlesDir = join(o.operatorDataDir, 'bundles');
    const temp = join(bundlesDir, `pack-${randomBytes(6).toString('hex')}.bundle`);
    // Converted images go to a temporary directory beside the bundles (removed once packed, or on a refusal).
    const prepared = preparePushData({ dataDir: o.dataDir, modelPath: SENDS_MODEL.has(o.action) ? o.modelPath : undefined, task, tempRoot: bundlesDir });
    try {
      packDatasetBundle(prepared.dataDir, temp);
    } finally {
      prepared.cleanup();
    }
    if (prepared.fromImages) o.log.info(`push: ${prepared.images} images of ${o.dataDir} fitted to the model's input by the ${detectionOption?.decoder} preset and bundled as test-data sets`);
    const d = await describeFile(temp, 'dataset bundle');
    const final = join(bundlesDir, `${d.sha256}.bundle`);
    if (existsSync(final)) rmSync(temp, { force: true });
    else {
      renameSync(temp, final);
      newBundle = final;
    }
    data = { sha256: d.sha256, bytes: d.bytes, name: o.dataDir.split(/[\\/]/).filter(Boolean).pop()?.slice(0, 256) ?? 'dataset' };
    served.push({ ref: data, path: final, kind: 'dataset' });
  }

  const issuedAt = new Date();
  let job: JobMessage = {
    jobId: jobIdNow(),
    action: o.action,
    target: o.target,
    ...(artifact ? { artifact } : {}),
    ...(data ? { data } : {}),
    options: jobOptions,
    issuedAt: issuedAt.toISOString(),
    expiresAt: new Date(issuedAt.getTime() + (o.expiresInSeconds ?? 7 * 24 * 3600) * 1000).toISOString(),
    signature: null,
  };
  if (privateKey) job = signJob(job, privateKey);
  const jobBytes = encodeMessage('jobs', job);
  if (jobBytes.length > 64 * 1024) {
    if (newBundle) rmSync(newBundle, { force: true });
    const labels = detectionOption?.labels !== undefined ? `; options.detection.labels is ${Buffer.byteLength(JSON.stringify(detectionOption.labels))} bytes of it (label fewer images)` : '';
    throw new EdgetuneError('USAGE', `push: the job is ${jobBytes.length} bytes; agents accept at most 64 KiB (fewer options${labels}); nothing was sent`);
  }

  const store = new OperatorStore(join(o.operatorDataDir, 'operator.db'));
  const inbox = new FleetInbox(store, topics, o.log);
  const reports = new Map<string, ReportMessage>();
  const hellos = new Map<string, { groups: string[]; online: boolean }>();
  let server: ArtifactServer | null = null;
  let connection: MqttConnection | null = null;
  let wake: (() => void) | null = null;
  let lastCompleteAtMs: number | null = null;
  const poke = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };

  const onMessage = (topic: string, payload: Buffer): void => {
    const parsed = topics.parse(topic);
    if (!parsed || !('deviceId' in parsed)) return;
    const id = parsed.deviceId;
    try {
      if (parsed.kind === 'requests') {
        const req = decodeMessage('requests', payload, MAX_DEVICE_MESSAGE_BYTES);
        server?.handleRequest(id, req);
        if (req.complete) lastCompleteAtMs = Date.now();
        poke();
      } else if (parsed.kind === 'reports') {
        const r = inbox.handle(parsed, payload);
        if (r && r.report.jobId === job.jobId) {
          reports.set(id, r.report);
          poke();
        }
      } else if (parsed.kind === 'hello' || parsed.kind === 'status') {
        inbox.handle(parsed, payload);
        if (payload.length === 0) return;
        const v = JSON.parse(payload.toString('utf8')) as { groups?: unknown; state?: unknown };
        const h = hellos.get(id) ?? { groups: [], online: false };
        if (parsed.kind === 'hello' && Array.isArray(v.groups)) h.groups = v.groups.filter((g): g is string => typeof g === 'string');
        if (parsed.kind === 'status') h.online = v.state === 'online';
        hellos.set(id, h);
        poke();
      }
    } catch (error) {
      o.log.debug(`${topic}: ${messageOf(error)}`);
    }
  };

  // A session of its own that outlives a lost connection (unless the caller named one): reports and chunk requests
  // that devices publish while this push reconnects (after a broker restart the devices are often back first) wait
  // for it at the broker instead of being dropped. It is emptied (unsubscribed) at the end and expires by itself.
  const ownSession = o.broker.sessionName === undefined;
  // A refused SUBSCRIBE is sent again for a while (up to a minute, within the push's timeout): a clustered broker
  // (NATS 2.9) refuses them under load, and while hundreds of devices connect it refused the push's four filters
  // for longer than the 10 s this used to wait. An ACL that forbids them costs the wait, then fails the push.
  const refusedSubscribeRetryMs = Math.min(60_000, Math.max(1000, Math.round(o.timeoutMs / 2)));
  const brokerOptions: OperatorBrokerOptions = ownSession
    ? { refusedSubscribeRetryMs, ...o.broker, sessionName: `push-${job.jobId}`, sessionExpirySeconds: Math.max(60, Math.ceil(o.timeoutMs / 1000)) }
    : { refusedSubscribeRetryMs, ...o.broker };
  const filters: string[] = [];
  const deadline = started + o.timeoutMs;
  /** Wait until `cond` holds (woken by each message that may change it) or `untilMs` passes; its last value. */
  const until = async (cond: () => boolean, untilMs: number): Promise<boolean> => {
    while (!cond()) {
      const left = untilMs - Date.now();
      if (left <= 0 || o.signal?.aborted) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return true;
  };
  let unseenDevice = false;
  try {
    connection = await connectOperator(brokerOptions, (m) => onMessage(m.topic, m.payload), o.log.child('mqtt'));
    const link = connection;
    server = new ArtifactServer(link, topics, o.log.child('serve'), { chunkQos: o.chunkQos ?? 1 });
    link.on('connect', () => server?.resume());
    const isGroup = 'group' in o.target;
    const deviceFilter = (kind: 'requests' | 'reports' | 'hello' | 'status'): string => ('device' in o.target ? topics.device(o.target.device, kind) : topics.allDevices(kind));
    filters.push(deviceFilter('requests'), deviceFilter('reports'), deviceFilter('hello'), deviceFilter('status'));
    await link.subscribe(filters, 1);
    if (isGroup) {
      await sleep(o.discoveryMs ?? 1500, o.signal);
    } else {
      // A device that ever connected left a retained status (its Last Will at least) and hello; they arrive right
      // after the subscription. Without them the broker has no session for it either, and would drop the job.
      const device = (o.target as { device: string }).device;
      const seen = (): boolean => hellos.has(device);
      if (!(await until(seen, Math.min(deadline, Date.now() + (o.discoveryMs ?? 1500))))) {
        unseenDevice = true;
        if (!o.queue) {
          throw new EdgetuneError(
            'USAGE',
            `push: device '${device}' has never been seen on this broker (no retained status or hello under ${topics.device(device, 'status').replace(/\/status$/, '')}); nothing was sent. ` +
              `\`npx edgetune devices\` lists the devices it knows (with the same broker settings); --queue waits for '${device}' to come online and sends the job then`,
          );
        }
        o.log.warn(`push: device '${device}' has not been seen on this broker yet; the job is queued here and sent when it comes online (waiting up to ${Math.round((deadline - Date.now()) / 1000)} s, --timeout)`);
        if (!(await until(seen, deadline))) {
          if (o.signal?.aborted) throw new EdgetuneError('ABORTED', 'push: aborted');
          throw new EdgetuneError(
            'RUNTIME_FAILED',
            `push: timed out after ${Math.round(o.timeoutMs / 1000)} s waiting for device '${device}' to come online; job ${job.jobId} was not sent (a broker keeps jobs only for devices that have connected to it)`,
          );
        }
        o.log.warn(`push: device '${device}' came online; sending job ${job.jobId}`);
      }
    }
    const expected = new Set<string>();
    if ('device' in o.target) expected.add(o.target.device);
    else {
      const group = o.target.group;
      for (const [id, h] of hellos) if (h.online && h.groups.includes(group)) expected.add(id);
      if (expected.size === 0) {
        o.log.warn(`push: no online device announces group ${group}; the job is published for members that come online later`);
      }
    }

    for (const s of served) {
      const chunkSize = o.chunkSizeBytes;
      let manifest: ManifestMessage = { sha256: s.ref.sha256, bytes: s.ref.bytes, chunkSize, chunks: chunkCount(s.ref.bytes, chunkSize), name: s.ref.name, kind: s.kind, signature: null };
      if (privateKey) manifest = signManifest(manifest, privateKey);
      server.add({ sha256: s.ref.sha256, path: s.path, bytes: s.ref.bytes, chunkSize, chunks: manifest.chunks }, expected);
      // Through a broker restart or cut during the first seconds: wait for the link (within the push's timeout).
      await connection.publishWhenConnected(topics.manifest(s.ref.sha256), encodeMessage('manifest', manifest), { qos: 1, retain: true }, Math.max(1, deadline - Date.now()), o.signal);
    }
    const jobTopic = 'device' in o.target ? topics.device(o.target.device, 'jobs') : topics.groupJobs(o.target.group);
    await connection.publishWhenConnected(jobTopic, jobBytes, { qos: 1 }, Math.max(1, deadline - Date.now()), o.signal);
    store.recordPush({ jobId: job.jobId, target: 'device' in o.target ? `device:${o.target.device}` : `group:${o.target.group}`, action: o.action, artifactSha256: artifact?.sha256 ?? null, artifactName: artifact?.name ?? null });
    o.log.info(`push: job ${job.jobId} (${o.action}) published to ${jobTopic}${privateKey ? ' (signed)' : ' (unsigned)'}`);

    const shas = served.map((s) => s.ref.sha256);
    const transferDone = (id: string): boolean => {
      const t = server?.transfers().get(id);
      return shas.every((sha) => t?.get(sha)?.complete === true);
    };
    const finished = (): boolean => {
      if (isGroup) {
        // Members whose retained hello/status arrived late, and any device that asked for chunks or reported.
        for (const [id, h] of hellos) if (h.online && h.groups.includes((o.target as { group: string }).group)) expected.add(id);
        for (const id of server?.transfers().keys() ?? []) expected.add(id);
        for (const id of reports.keys()) expected.add(id);
      }
      if (expected.size === 0) return !o.wait;
      for (const id of expected) {
        const done = o.wait ? reports.has(id) : reports.has(id) || transferDone(id);
        if (!done) return false;
      }
      return true;
    };
    for (;;) {
      o.onProgress?.(snapshot(job.jobId, expected, server.transfers(), reports, server.chunksSent, shas));
      if (finished()) break;
      if (o.signal?.aborted) throw new EdgetuneError('ABORTED', 'push: aborted');
      const left = deadline - Date.now();
      if (left <= 0) {
        const missing = [...expected].filter((id) => !reports.has(id));
        throw new EdgetuneError(
          'RUNTIME_FAILED',
          `push: timed out after ${Math.round(o.timeoutMs / 1000)} s; ${o.wait ? 'no report' : 'transfer not finished'} from ${missing.join(', ') || '(no device answered)'}; job ${job.jobId} stays queued on the broker`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return {
      jobId: job.jobId,
      action: o.action,
      target: o.target,
      artifact,
      data,
      devices: [...expected].sort(),
      reports: [...reports.values()].sort((a, b) => a.deviceId.localeCompare(b.deviceId)),
      chunksSent: server.chunksSent,
      chunksResent: server.chunksResent,
      bytesSent: server.bytesSent,
      transferSeconds: server.firstChunkAtMs !== null && lastCompleteAtMs !== null ? (lastCompleteAtMs - server.firstChunkAtMs) / 1000 : null,
      seconds: (Date.now() - started) / 1000,
      unseenDevice,
    };
  } finally {
    await server?.close();
    if (ownSession && connection?.connected) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([connection.unsubscribe(filters).catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 5000)))]);
      clearTimeout(timer);
    }
    const linkUp = connection?.connected === true;
    await connection?.stop();
    // MQTT 3.1.1 (NATS, aedes) has no session expiry: the push's own session would stay at the broker for good
    if (ownSession && linkUp && connection?.protocolVersion === 4) await connection.discardSession();
    store.close();
  }
}

function snapshot(
  jobId: string,
  expected: Set<string>,
  transfers: Map<string, Map<string, DeviceTransferState>>,
  reports: Map<string, ReportMessage>,
  chunksSent: number,
  shas: string[],
): PushProgress {
  const ids = new Set([...expected, ...transfers.keys(), ...reports.keys()]);
  return {
    jobId,
    chunksSent,
    devices: [...ids].sort().map((id) => {
      const t = transfers.get(id);
      let received = 0;
      let chunks = 0;
      for (const sha of shas) {
        const s = t?.get(sha);
        received += s?.received ?? 0;
        chunks += s?.chunks ?? 0;
      }
      return { deviceId: id, received, chunks, complete: shas.every((sha) => t?.get(sha)?.complete === true), reported: reports.has(id) };
    }),
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
