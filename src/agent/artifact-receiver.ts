import { createHash } from 'node:crypto';
import { createReadStream, closeSync, existsSync, fdatasyncSync, fsyncSync, ftruncateSync, mkdirSync, openSync, renameSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AgentStore, ArtifactKind } from '../store/agent-store.js';
import { chunkCount, chunkLength, missingChunks, nextRequestBatch } from '../transport/chunk-layout.js';
import { decodeMessage, encodeMessage, type ArtifactRef, type ManifestMessage, type RequestMessage } from '../transport/messages.js';
import type { Topics } from '../transport/topics.js';
import { fsyncDirectory } from '../util/atomic-file.js';
import { EdgetuneError, messageOf } from '../util/errors.js';
import type { AgentPaths } from './agent-paths.js';
import { unpackDatasetBundle } from './dataset-bundle.js';
import type { Logger } from './logger.js';

/** What the receiver needs from the MQTT link (MqttConnection satisfies it). */
export interface PublishLink {
  readonly connected: boolean;
  publish(topic: string, payload: Buffer | string, opts: { qos: 0 | 1; retain?: boolean }): Promise<void>;
  subscribe(filters: readonly string[], qos: 0 | 1): Promise<void>;
  unsubscribe(filters: readonly string[]): Promise<void>;
}

/** Transfer limits (from the agent config). */
export interface TransferLimits {
  maxArtifactBytes: number;
  maxChunkBytes: number;
  maxChunks: number;
  maxControlMessageBytes: number;
  transferWindowChunks: number;
  transferStallSeconds: number;
  transferTimeoutSeconds: number;
}

/** Caller input for {@link ArtifactReceiver}. */
export interface ArtifactReceiverOptions {
  store: AgentStore;
  paths: AgentPaths;
  topics: Topics;
  link: PublishLink;
  deviceId: string;
  limits: TransferLimits;
  /** Throws SIGNATURE_INVALID when the manifest's signature is required and bad. */
  verifyManifest: (manifest: ManifestMessage) => void;
  log: Logger;
  onComplete: (sha256: string) => void;
  onFailed: (sha256: string, error: EdgetuneError) => void;
  onProgress?: (sha256: string, received: number, chunks: number, chunkBytes: number) => void;
  /**
   * QoS of the manifest and chunk subscriptions (default 1). With 0 nothing is queued for us at the broker: a lost
   * chunk is re-requested after the stall time, and a manifest that has not come is subscribed for again (it is
   * retained).
   */
  artifactQos?: 0 | 1;
}

interface Transfer {
  ref: ArtifactRef;
  kind: ArtifactKind;
  manifest: ManifestMessage | null;
  fd: number | null;
  received: Set<number>;
  outstanding: Set<number>;
  lastProgressMs: number;
  startedMs: number;
  finalizing: boolean;
}

/** sha256 of a file, streamed (memory stays flat whatever the size). */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Receives artifacts: the retained manifest, then QoS 1 (or, by `broker.artifactQos`, 0) chunks written straight to `staging/<sha256>.partial` at
 * their offsets, each recorded in the SQLite chunk bitmap after the bytes are on disk. Asks for missing chunks on
 * `devices/{id}/requests` in windows (receiver-driven flow control), re-asks after a stall or reconnect, and
 * verifies the whole file's sha256 before renaming it into place.
 */
export class ArtifactReceiver {
  private readonly o: ArtifactReceiverOptions;
  private readonly transfers = new Map<string, Transfer>();
  private readonly finalizing = new Set<Promise<void>>();

  constructor(options: ArtifactReceiverOptions) {
    this.o = options;
  }

  /** True when the artifact is verified and on disk. */
  isComplete(sha256: string): boolean {
    const row = this.o.store.getArtifact(sha256);
    return row?.state === 'complete' && existsSync(this.finalPath(sha256, row.kind));
  }

  /** Artifacts being received now. */
  activeTransfers(): string[] {
    return [...this.transfers.keys()];
  }

  /**
   * Make sure the artifact is on disk or on its way: 'complete' if it already is, else starts (or resumes) the
   * transfer by subscribing to its manifest and chunks. Size limits are checked before anything is written.
   */
  async want(ref: ArtifactRef, kind: ArtifactKind): Promise<'complete' | 'receiving'> {
    if (this.isComplete(ref.sha256)) return 'complete';
    if (this.transfers.has(ref.sha256)) return 'receiving';
    if (ref.bytes > this.o.limits.maxArtifactBytes) {
      throw new EdgetuneError('LIMIT_EXCEEDED', `artifact ${ref.sha256} is ${ref.bytes} bytes, over the limit of ${this.o.limits.maxArtifactBytes} (limits.maxArtifactBytes)`);
    }
    const row = this.o.store.getArtifact(ref.sha256);
    if (row?.state === 'complete') this.o.store.deleteArtifact(ref.sha256); // row without its file: fetch again
    if (row && row.bytes !== ref.bytes) this.o.store.deleteArtifact(ref.sha256);
    this.o.store.beginArtifact({ sha256: ref.sha256, bytes: ref.bytes, name: ref.name, kind });
    const t: Transfer = {
      ref,
      kind,
      manifest: null,
      fd: null,
      received: new Set(),
      outstanding: new Set(),
      lastProgressMs: Date.now(),
      startedMs: Date.now(),
      finalizing: false,
    };
    this.transfers.set(ref.sha256, t);
    await this.o.link.subscribe(this.subscriptions(ref.sha256), this.o.artifactQos ?? 1);
    return 'receiving';
  }

  /** A message on `artifacts/{sha256}/manifest`. */
  async handleManifest(sha256: string, payload: Buffer): Promise<void> {
    const t = this.transfers.get(sha256);
    if (!t || t.finalizing) return;
    if (payload.length === 0) return; // a retained manifest being cleared
    let manifest: ManifestMessage;
    try {
      manifest = decodeMessage('manifest', payload, this.o.limits.maxControlMessageBytes);
      this.checkManifest(t, manifest);
      this.o.verifyManifest(manifest);
    } catch (error) {
      this.fail(t, error instanceof EdgetuneError ? error : new EdgetuneError('ARTIFACT_INVALID', messageOf(error), { cause: error }));
      return;
    }
    if (t.manifest && t.manifest.chunkSize === manifest.chunkSize) return; // same layout again (retained redelivery)
    const { reset } = this.o.store.setArtifactLayout(sha256, manifest.chunkSize, manifest.chunks);
    t.manifest = manifest;
    t.outstanding.clear();
    const staging = this.o.paths.staging(sha256);
    if (reset) {
      // A new layout restarts the transfer: close the old staging file before removing it, then open a fresh one.
      if (t.fd !== null) {
        closeSync(t.fd);
        t.fd = null;
      }
      rmSync(staging, { force: true });
    }
    if (t.fd === null) {
      try {
        this.checkFreeSpace(manifest.bytes);
        mkdirSync(dirname(staging), { recursive: true });
        t.fd = openSync(staging, existsSync(staging) ? 'r+' : 'w+', 0o600);
        ftruncateSync(t.fd, manifest.bytes);
      } catch (error) {
        this.fail(t, error instanceof EdgetuneError ? error : new EdgetuneError('IO_FAILED', `cannot create staging file for ${sha256}: ${messageOf(error)}`, { cause: error }));
        return;
      }
    }
    t.received = new Set(this.o.store.receivedChunks(sha256));
    t.lastProgressMs = Date.now();
    this.o.log.info(`artifact ${sha256.slice(0, 12)}: manifest ok, ${manifest.chunks} chunks of ${manifest.chunkSize} bytes, ${t.received.size} already on disk`);
    if (t.received.size === manifest.chunks) await this.finalize(t);
    else this.requestMore(t);
  }

  /** A message on `artifacts/{sha256}/chunks/{index}`: written at its offset, then recorded, then acknowledged. */
  async handleChunk(sha256: string, index: number, payload: Buffer): Promise<void> {
    const t = this.transfers.get(sha256);
    if (!t || !t.manifest || t.fd === null || t.finalizing) return;
    const m = t.manifest;
    if (index >= m.chunks) {
      this.o.log.warn(`artifact ${sha256.slice(0, 12)}: chunk ${index} is beyond the manifest's ${m.chunks} chunks; ignored`);
      return;
    }
    const expected = chunkLength(index, m.bytes, m.chunkSize);
    if (payload.length !== expected) {
      this.o.log.warn(`artifact ${sha256.slice(0, 12)}: chunk ${index} has ${payload.length} bytes, expected ${expected}; ignored`);
      return;
    }
    t.outstanding.delete(index);
    if (t.received.has(index)) return;
    let offset = 0;
    while (offset < payload.length) offset += writeSync(t.fd, payload, offset, payload.length - offset, index * m.chunkSize + offset);
    fdatasyncSync(t.fd);
    this.o.store.recordChunk(sha256, index, payload.length);
    t.received.add(index);
    t.lastProgressMs = Date.now();
    this.o.onProgress?.(sha256, t.received.size, m.chunks, payload.length);
    if (t.received.size === m.chunks) await this.finalize(t);
    else if (t.outstanding.size <= Math.floor(this.o.limits.transferWindowChunks / 2)) this.requestMore(t);
  }

  /** Tell the operator an artifact is already here (a job reused it), so it need not wait for a transfer. */
  announceComplete(sha256: string): void {
    const row = this.o.store.getArtifact(sha256);
    const chunks = row?.chunks ?? 0;
    this.publishRequest(sha256, [], true, chunks, chunks).catch(() => undefined);
  }

  /** After a (re)connect: ask again for everything still missing (in-flight chunks may be lost with the session). */
  onConnect(): void {
    for (const t of this.transfers.values()) {
      if (!t.manifest || t.finalizing) continue;
      t.outstanding.clear();
      t.lastProgressMs = Date.now();
      this.requestMore(t, true);
    }
  }

  /** Periodic check: re-request after a stall, give up after the transfer timeout. */
  tick(nowMs: number = Date.now()): void {
    for (const t of [...this.transfers.values()]) {
      if (t.finalizing) continue;
      if (nowMs - t.startedMs > this.o.limits.transferTimeoutSeconds * 1000) {
        const have = t.manifest ? `${t.received.size}/${t.manifest.chunks} chunks` : 'no manifest';
        this.fail(t, new EdgetuneError('BROKER_FAILED', `transfer of artifact ${t.ref.sha256} timed out after ${this.o.limits.transferTimeoutSeconds} s (${have}; limits.transferTimeoutSeconds)`));
        continue;
      }
      if (!t.manifest && this.o.artifactQos === 0 && nowMs - t.lastProgressMs > this.o.limits.transferStallSeconds * 1000) {
        // At QoS 0 the retained manifest can be lost like any message: subscribe again to have it sent again.
        this.o.log.info(`artifact ${t.ref.sha256.slice(0, 12)}: no manifest for ${this.o.limits.transferStallSeconds} s; subscribing again`);
        t.lastProgressMs = nowMs;
        const topic = this.o.topics.manifest(t.ref.sha256);
        this.o.link
          .unsubscribe([topic])
          .then(() => this.o.link.subscribe([topic], 0))
          .catch((error: unknown) => this.o.log.debug(`artifact ${t.ref.sha256.slice(0, 12)}: manifest resubscribe failed: ${messageOf(error)}`));
        continue;
      }
      if (t.manifest && nowMs - t.lastProgressMs > this.o.limits.transferStallSeconds * 1000) {
        this.o.log.info(`artifact ${t.ref.sha256.slice(0, 12)}: no chunk for ${this.o.limits.transferStallSeconds} s; asking again`);
        t.outstanding.clear();
        t.lastProgressMs = nowMs;
        this.requestMore(t, true);
      }
    }
  }

  /** Cancel a transfer (its jobs are gone): staging file and rows removed. */
  async cancel(sha256: string): Promise<void> {
    const t = this.transfers.get(sha256);
    if (!t) return;
    this.discard(t);
  }

  /** Let running verifications finish, then close open staging files (the bitmap on disk lets the next start resume). */
  async stop(): Promise<void> {
    while (this.finalizing.size > 0) await Promise.allSettled([...this.finalizing]);
    for (const t of this.transfers.values()) {
      if (t.fd !== null) closeSync(t.fd);
      t.fd = null;
    }
    this.transfers.clear();
  }

  /** The artifact's manifest, its broadcast chunks and the chunks re-sent to this device alone. */
  private subscriptions(sha256: string): string[] {
    return [this.o.topics.manifest(sha256), this.o.topics.chunkFilter(sha256), this.o.topics.deviceChunkFilter(this.o.deviceId, sha256)];
  }

  private finalPath(sha256: string, kind: ArtifactKind): string {
    return kind === 'model' ? this.o.paths.model(sha256) : this.o.paths.dataset(sha256);
  }

  private checkManifest(t: Transfer, m: ManifestMessage): void {
    const sha = t.ref.sha256;
    if (m.sha256 !== sha) throw new EdgetuneError('ARTIFACT_INVALID', `manifest on the topic of ${sha} names ${m.sha256}`);
    if (m.kind !== t.kind) throw new EdgetuneError('ARTIFACT_INVALID', `manifest of ${sha} says kind '${m.kind}', the job needs a ${t.kind}`);
    if (m.bytes !== t.ref.bytes) throw new EdgetuneError('ARTIFACT_INVALID', `manifest of ${sha} says ${m.bytes} bytes, the signed job says ${t.ref.bytes}`);
    if (m.bytes > this.o.limits.maxArtifactBytes) throw new EdgetuneError('LIMIT_EXCEEDED', `artifact ${sha} is ${m.bytes} bytes, over limits.maxArtifactBytes ${this.o.limits.maxArtifactBytes}`);
    if (m.chunkSize > this.o.limits.maxChunkBytes) throw new EdgetuneError('LIMIT_EXCEEDED', `manifest of ${sha} uses ${m.chunkSize}-byte chunks, over limits.maxChunkBytes ${this.o.limits.maxChunkBytes}`);
    const n = chunkCount(m.bytes, m.chunkSize);
    if (n > this.o.limits.maxChunks) throw new EdgetuneError('LIMIT_EXCEEDED', `manifest of ${sha} cuts ${m.bytes} bytes into ${n} chunks of ${m.chunkSize} bytes, over limits.maxChunks ${this.o.limits.maxChunks}`);
    if (m.chunks !== n) throw new EdgetuneError('ARTIFACT_INVALID', `manifest of ${sha} says ${m.chunks} chunks; ${m.bytes} bytes in ${m.chunkSize}-byte chunks make ${n}`);
  }

  private checkFreeSpace(bytes: number): void {
    try {
      mkdirSync(this.o.paths.stagingDir, { recursive: true });
      const s = statfsSync(this.o.paths.stagingDir);
      const free = s.bavail * s.bsize;
      if (free < bytes * 2) {
        throw new EdgetuneError('LIMIT_EXCEEDED', `not enough disk space for ${bytes} bytes (staging + final copy need ${bytes * 2}, ${free} free)`);
      }
    } catch (error) {
      if (error instanceof EdgetuneError) throw error;
    }
  }

  /**
   * Ask for the next window of missing chunks. `retry` marks a request for chunks that may already have been sent
   * to us and were lost (after a reconnect or a stall): the operator then re-sends them to this device alone.
   */
  private requestMore(t: Transfer, retry = false): void {
    const m = t.manifest;
    if (!m || !this.o.link.connected) return;
    const missing = missingChunks(t.received, m.chunks);
    const batch = nextRequestBatch(missing, t.outstanding, this.o.limits.transferWindowChunks);
    if (batch.length === 0) return;
    for (const i of batch) t.outstanding.add(i);
    this.publishRequest(t.ref.sha256, batch, false, t.received.size, m.chunks, retry).catch((error: unknown) => {
      for (const i of batch) t.outstanding.delete(i);
      this.o.log.debug(`artifact ${t.ref.sha256.slice(0, 12)}: request not sent: ${messageOf(error)}`);
    });
  }

  private publishRequest(sha256: string, missing: number[], complete: boolean, received: number, chunks: number, retry = false): Promise<void> {
    const topic = this.o.topics.device(this.o.deviceId, 'requests');
    const request: RequestMessage = { sha256, missing, complete, received, chunks };
    if (retry) request.retry = true;
    return this.o.link.publish(topic, encodeMessage('requests', request), { qos: 1 });
  }

  private finalize(t: Transfer): Promise<void> {
    const p = this.finalizeInner(t);
    this.finalizing.add(p);
    return p.finally(() => this.finalizing.delete(p));
  }

  private async finalizeInner(t: Transfer): Promise<void> {
    t.finalizing = true;
    const sha = t.ref.sha256;
    const staging = this.o.paths.staging(sha);
    try {
      if (t.fd !== null) {
        fsyncSync(t.fd);
        closeSync(t.fd);
        t.fd = null;
      }
      const actual = await sha256OfFile(staging);
      if (actual !== sha) throw new EdgetuneError('ARTIFACT_INVALID', `received artifact hashes to sha256 ${actual}, the manifest and job say ${sha}; discarded`);
      if (t.kind === 'model') {
        const final = this.o.paths.model(sha);
        mkdirSync(dirname(final), { recursive: true });
        renameSync(staging, final);
        fsyncDirectory(dirname(final));
      } else {
        const bundle = this.o.paths.datasetBundle(sha);
        mkdirSync(dirname(bundle), { recursive: true });
        renameSync(staging, bundle);
        try {
          unpackDatasetBundle(bundle, this.o.paths.dataset(sha));
        } finally {
          rmSync(bundle, { force: true });
        }
      }
      this.o.store.completeArtifact(sha);
    } catch (error) {
      this.fail(t, error instanceof EdgetuneError ? error : new EdgetuneError('IO_FAILED', `cannot install artifact ${sha}: ${messageOf(error)}`, { cause: error }));
      return;
    }
    this.transfers.delete(sha);
    this.o.log.info(`artifact ${sha.slice(0, 12)}: complete and verified (${t.ref.bytes} bytes)`);
    this.o.link.unsubscribe(this.subscriptions(sha)).catch(() => undefined);
    const chunks = t.manifest?.chunks ?? 0;
    this.publishRequest(sha, [], true, chunks, chunks).catch((error: unknown) => this.o.log.debug(`artifact ${sha.slice(0, 12)}: completion notice not sent: ${messageOf(error)}`));
    this.o.onComplete(sha);
  }

  private discard(t: Transfer): void {
    const sha = t.ref.sha256;
    if (t.fd !== null) {
      try {
        closeSync(t.fd);
      } catch {
        // already closed
      }
      t.fd = null;
    }
    rmSync(this.o.paths.staging(sha), { force: true });
    this.o.store.deleteArtifact(sha);
    this.transfers.delete(sha);
    this.o.link.unsubscribe(this.subscriptions(sha)).catch(() => undefined);
  }

  private fail(t: Transfer, error: EdgetuneError): void {
    this.o.log.warn(`artifact ${t.ref.sha256.slice(0, 12)}: ${error.message}`);
    this.discard(t);
    this.o.onFailed(t.ref.sha256, error);
  }
}
