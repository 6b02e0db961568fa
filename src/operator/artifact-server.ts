import { open, type FileHandle } from 'node:fs/promises';
import { chunkLength } from '../transport/chunk-layout.js';
import type { RequestMessage } from '../transport/messages.js';
import type { Topics } from '../transport/topics.js';
import { messageOf } from '../util/errors.js';
import type { PublishLink } from '../agent/artifact-receiver.js';
import type { Logger } from '../agent/logger.js';

/** An artifact the operator offers: a local file, its digest and its chunk layout. */
export interface ServedArtifact {
  sha256: string;
  path: string;
  bytes: number;
  chunkSize: number;
  chunks: number;
}

/** Per device and artifact: how far its transfer is, as the device last said. */
export interface DeviceTransferState {
  received: number;
  chunks: number;
  complete: boolean;
}

interface ServedEntry {
  a: ServedArtifact;
  file: Promise<FileHandle> | null;
  /** Chunks no device has been sent yet: published once on the artifact's topic, to every subscriber. */
  broadcastQueue: Set<number>;
  /** Chunk index → event sequence number at which it was broadcast. */
  broadcastSeq: Map<number, number>;
  /** Devices expected to ask that have not yet: broadcasting waits for them (or for the gather timeout). */
  awaited: Set<string>;
  /** When the gather ends whoever has asked (ms since epoch); null until the first request. */
  gatherUntilMs: number | null;
}

/** One chunk to re-send to one device on its own topic. */
interface DirectSend {
  deviceId: string;
  entry: ServedEntry;
  index: number;
}

/**
 * Answers `devices/{id}/requests` by publishing the asked-for chunks (QoS 1, or 0 with `chunkQos`: a clustered
 * broker that stores every QoS 1 message in a replicated log) straight from the file.
 *
 * Each chunk is broadcast once on `artifacts/{sha256}/chunks/{n}`, reaching every device subscribed at that
 * moment; requests from several devices for a chunk not yet sent are coalesced. A device that asks for a chunk
 * broadcast before it subscribed (it joined late), or marks its request as a retry (it reconnected or stalled),
 * gets that chunk re-sent on its own `devices/{id}/chunks/{sha256}/{n}`: one device's loss costs one copy, not
 * one copy per device still receiving. A plain request for a chunk broadcast after the device's first request
 * is already on its way and is not answered again. For a group push the first broadcast waits until every
 * expected device has asked (or `gatherMs` after the first request), so that devices which receive the job a
 * little later are not sent everything twice. At most `inFlight` chunks await PUBACK, so memory stays at a few
 * chunks whatever the artifact size and the fleet size. Sending pauses while the link is down; a chunk whose
 * publish was lost with the connection is queued again, and `resume()` (called on reconnect) sends what waited.
 */
export class ArtifactServer {
  private readonly link: PublishLink;
  private readonly topics: Topics;
  private readonly log: Logger;
  private readonly inFlightLimit: number;
  private readonly gatherMs: number;
  private readonly chunkQos: 0 | 1;
  private readonly artifacts = new Map<string, ServedEntry>();
  private readonly state = new Map<string, Map<string, DeviceTransferState>>();
  /** `${deviceId}/${sha256}` → sequence number of that device's first request for the artifact. */
  private readonly firstRequestSeq = new Map<string, number>();
  /** Pending re-sends, keyed `${deviceId}/${sha256}/${index}` (a device asking twice gets one copy). */
  private readonly directQueue = new Map<string, DirectSend>();
  /** Orders requests and broadcasts: a broadcast with a higher number than a device's first request reached it. */
  private seq = 0;
  private inFlight = 0;
  private pumping = false;
  private gatherTimer: NodeJS.Timeout | null = null;
  /** Chunks published, broadcast and re-sent together (for progress and benchmarks). */
  chunksSent = 0;
  /** Of those, chunks re-sent to a single device. */
  chunksResent = 0;
  bytesSent = 0;
  /** When the first chunk was handed to the broker (ms since epoch), null before. */
  firstChunkAtMs: number | null = null;

  constructor(link: PublishLink, topics: Topics, log: Logger, options: { inFlight?: number; gatherMs?: number; chunkQos?: 0 | 1 } = {}) {
    this.link = link;
    this.topics = topics;
    this.log = log;
    this.chunkQos = options.chunkQos ?? 1;
    this.inFlightLimit = options.inFlight ?? 8;
    this.gatherMs = options.gatherMs ?? 5000;
  }

  /**
   * Offer an artifact. `expectedDevices`: the devices the job went to; the first broadcast waits until each has
   * asked for a chunk or said it is complete, at most `gatherMs` after the first request.
   */
  add(a: ServedArtifact, expectedDevices: Iterable<string> = []): void {
    if (this.artifacts.has(a.sha256)) return;
    this.artifacts.set(a.sha256, { a, file: null, broadcastQueue: new Set(), broadcastSeq: new Map(), awaited: new Set(expectedDevices), gatherUntilMs: null });
  }

  /** Transfer state of every device that asked for anything. */
  transfers(): Map<string, Map<string, DeviceTransferState>> {
    return this.state;
  }

  /** A device's request: queue the chunks it misses (if we serve that artifact) and note its progress. */
  handleRequest(deviceId: string, req: RequestMessage): void {
    const entry = this.artifacts.get(req.sha256);
    if (!entry) return;
    let perDevice = this.state.get(deviceId);
    if (!perDevice) {
      perDevice = new Map();
      this.state.set(deviceId, perDevice);
    }
    perDevice.set(req.sha256, { received: req.received, chunks: req.chunks, complete: req.complete });
    entry.awaited.delete(deviceId);
    if (entry.gatherUntilMs === null) {
      entry.gatherUntilMs = Date.now() + this.gatherMs;
      if (entry.awaited.size > 0) this.armGatherTimer();
    }
    const seq = ++this.seq;
    const deviceKey = `${deviceId}/${req.sha256}`;
    const firstSeq = this.firstRequestSeq.get(deviceKey) ?? seq;
    this.firstRequestSeq.set(deviceKey, firstSeq);
    for (const i of req.missing) {
      if (!Number.isInteger(i) || i < 0 || i >= entry.a.chunks) continue;
      const sentSeq = entry.broadcastSeq.get(i);
      if (sentSeq === undefined) entry.broadcastQueue.add(i);
      else if (sentSeq > firstSeq && req.retry !== true) continue; // broadcast while the device was subscribed
      else this.queueDirect({ deviceId, entry, index: i });
    }
    if (req.complete) for (const [key, d] of this.directQueue) if (d.deviceId === deviceId && d.entry === entry) this.directQueue.delete(key);
    this.pump();
  }

  /** The link is connected again: send what waited for it (queued chunks and those lost with the connection). */
  resume(): void {
    this.pump();
  }

  /** Close the files. */
  async close(): Promise<void> {
    if (this.gatherTimer) clearTimeout(this.gatherTimer);
    this.gatherTimer = null;
    for (const e of this.artifacts.values()) {
      const f = e.file;
      e.file = null;
      if (f) await f.then((h) => h.close()).catch(() => undefined);
    }
  }

  /** Wake the pump when the earliest running gather ends. */
  private armGatherTimer(): void {
    if (this.gatherTimer) clearTimeout(this.gatherTimer);
    this.gatherTimer = null;
    const ends = [...this.artifacts.values()].filter((e) => e.gatherUntilMs !== null && this.gathering(e)).map((e) => e.gatherUntilMs as number);
    if (ends.length === 0) return;
    this.gatherTimer = setTimeout(() => {
      this.gatherTimer = null;
      this.pump();
      this.armGatherTimer();
    }, Math.max(0, Math.min(...ends) - Date.now()) + 1);
  }

  /** Still waiting for expected devices before the first broadcast. */
  private gathering(entry: ServedEntry): boolean {
    if (entry.awaited.size === 0 || entry.broadcastSeq.size > 0) return false;
    return entry.gatherUntilMs === null || Date.now() < entry.gatherUntilMs;
  }

  /** Broadcasts first (they serve every device), then re-sends in the order they were asked for. */
  private nextSend(): { entry: ServedEntry; index: number; deviceId: string | null } | null {
    for (const entry of this.artifacts.values()) {
      if (this.gathering(entry)) continue;
      const first = entry.broadcastQueue.values().next();
      if (!first.done) {
        entry.broadcastQueue.delete(first.value);
        entry.broadcastSeq.set(first.value, ++this.seq);
        return { entry, index: first.value, deviceId: null };
      }
    }
    const direct = this.directQueue.entries().next();
    if (direct.done) return null;
    this.directQueue.delete(direct.value[0]);
    return direct.value[1];
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.inFlight < this.inFlightLimit && this.link.connected) {
        const next = this.nextSend();
        if (!next) break;
        this.inFlight += 1;
        this.firstChunkAtMs ??= Date.now();
        const topic = next.deviceId === null ? this.topics.chunk(next.entry.a.sha256, next.index) : this.topics.deviceChunk(next.deviceId, next.entry.a.sha256, next.index);
        this.sendChunk(next.entry, next.index, topic)
          .then(() => {
            if (next.deviceId !== null) this.chunksResent += 1;
          })
          .catch((error: unknown) => {
            this.log.debug(`chunk ${next.index} of ${next.entry.a.sha256.slice(0, 12)} not sent: ${messageOf(error)}`);
            if (next.deviceId === null) next.entry.broadcastSeq.delete(next.index);
            // Lost with the connection: the device still counts it as outstanding and would wait for its stall
            // timer, so send it again once the link is back (resume). Other failures (the file) are not retried;
            // the device asks again after its stall timeout or reconnect.
            if (!this.link.connected) this.requeue(next);
          })
          .finally(() => {
            this.inFlight -= 1;
            this.pump();
          });
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Queue a send again (a broadcast goes back to the broadcast queue; a re-send only while its device still needs it). */
  private requeue(send: { entry: ServedEntry; index: number; deviceId: string | null }): void {
    if (send.deviceId === null) {
      send.entry.broadcastQueue.add(send.index);
      return;
    }
    if (this.state.get(send.deviceId)?.get(send.entry.a.sha256)?.complete === true) return;
    this.queueDirect({ deviceId: send.deviceId, entry: send.entry, index: send.index });
  }

  /** Queue a re-send to one device (asking twice still sends one copy). */
  private queueDirect(send: DirectSend): void {
    this.directQueue.set(`${send.deviceId}/${send.entry.a.sha256}/${send.index}`, send);
  }

  private async sendChunk(entry: ServedEntry, index: number, topic: string): Promise<void> {
    const a = entry.a;
    entry.file ??= open(a.path, 'r');
    const file = await entry.file;
    const length = chunkLength(index, a.bytes, a.chunkSize);
    const buf = Buffer.allocUnsafe(length);
    let off = 0;
    while (off < length) {
      const { bytesRead } = await file.read(buf, off, length - off, index * a.chunkSize + off);
      if (bytesRead === 0) throw new Error(`${a.path} is shorter than its manifest says`);
      off += bytesRead;
    }
    await this.link.publish(topic, buf, { qos: this.chunkQos });
    this.chunksSent += 1;
    this.bytesSent += length;
  }
}
