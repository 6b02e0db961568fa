import { open, type FileHandle } from 'node:fs/promises';
import { chunkLength } from '../../transport/chunk-layout.js';
import type { RequestMessage } from '../../transport/messages.js';
import type { Topics } from '../../transport/topics.js';
import { messageOf } from '../../util/errors.js';
import type { PublishLink } from '../artifact-receiver.js';
import type { Logger } from '../logger.js';

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

/**
 * Answers `devices/{id}/requests` by publishing the asked-for chunks (QoS 1) straight from the file. Requests from
 * several devices for the same chunk are coalesced while it waits to be sent; at most `inFlight` chunks await
 * PUBACK, so memory stays at a few chunks whatever the artifact size.
 */
export class ArtifactServer {
  private readonly link: PublishLink;
  private readonly topics: Topics;
  private readonly log: Logger;
  private readonly inFlightLimit: number;
  private readonly artifacts = new Map<string, { a: ServedArtifact; file: Promise<FileHandle> | null; queue: Set<number> }>();
  private readonly state = new Map<string, Map<string, DeviceTransferState>>();
  private inFlight = 0;
  private pumping = false;
  /** Chunks published (for progress and benchmarks). */
  chunksSent = 0;
  bytesSent = 0;
  /** When the first chunk was handed to the broker (ms since epoch), null before. */
  firstChunkAtMs: number | null = null;

  constructor(link: PublishLink, topics: Topics, log: Logger, inFlight = 8) {
    this.link = link;
    this.topics = topics;
    this.log = log;
    this.inFlightLimit = inFlight;
  }

  /** Offer an artifact. */
  add(a: ServedArtifact): void {
    if (!this.artifacts.has(a.sha256)) this.artifacts.set(a.sha256, { a, file: null, queue: new Set() });
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
    for (const i of req.missing) if (Number.isInteger(i) && i >= 0 && i < entry.a.chunks) entry.queue.add(i);
    this.pump();
  }

  /** Close the files. */
  async close(): Promise<void> {
    for (const e of this.artifacts.values()) {
      const f = e.file;
      e.file = null;
      if (f) await f.then((h) => h.close()).catch(() => undefined);
    }
  }

  private nextChunk(): { entry: { a: ServedArtifact; file: Promise<FileHandle> | null; queue: Set<number> }; index: number } | null {
    for (const entry of this.artifacts.values()) {
      const first = entry.queue.values().next();
      if (!first.done) {
        entry.queue.delete(first.value);
        return { entry, index: first.value };
      }
    }
    return null;
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.inFlight < this.inFlightLimit && this.link.connected) {
        const next = this.nextChunk();
        if (!next) break;
        this.inFlight += 1;
        this.firstChunkAtMs ??= Date.now();
        this.sendChunk(next.entry, next.index)
          .catch((error: unknown) => this.log.debug(`chunk ${next.index} of ${next.entry.a.sha256.slice(0, 12)} not sent: ${messageOf(error)}`))
          .finally(() => {
            this.inFlight -= 1;
            this.pump();
          });
      }
    } finally {
      this.pumping = false;
    }
  }

  private async sendChunk(entry: { a: ServedArtifact; file: Promise<FileHandle> | null }, index: number): Promise<void> {
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
    await this.link.publish(this.topics.chunk(a.sha256, index), buf, { qos: 1 });
    this.chunksSent += 1;
    this.bytesSent += length;
  }
}
