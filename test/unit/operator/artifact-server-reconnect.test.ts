import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PublishLink } from '../../../src/agent/artifact-receiver.js';
import { silentLogger } from '../../../src/agent/logger.js';
import { ArtifactServer } from '../../../src/operator/artifact-server.js';
import type { RequestMessage } from '../../../src/transport/messages.js';
import { CHUNKS, chunkLabel, chunkRequest, topics, writeServedArtifact } from './artifact-server-fixture.js';

/**
 * A link whose connection the test drops: publishes then pending are rejected (as MqttConnection does when the
 * connection closes before the PUBACK), later ones are refused until it is connected again.
 */
class DroppingLink implements PublishLink {
  connected = true;
  published: string[] = [];
  private pending: Array<{ topic: string; resolve: () => void; reject: (e: Error) => void }> = [];
  async publish(topic: string): Promise<void> {
    if (!this.connected) throw new Error('not connected');
    return new Promise((resolve, reject) => this.pending.push({ topic, resolve, reject }));
  }
  /** Acknowledge every pending publish. */
  ackAll(): void {
    for (const p of this.pending.splice(0)) {
      this.published.push(p.topic);
      p.resolve();
    }
  }
  /** The connection closes: pending publishes fail. */
  drop(): void {
    this.connected = false;
    for (const p of this.pending.splice(0)) p.reject(new Error('connection lost before PUBACK'));
  }
  get pendingCount(): number {
    return this.pending.length;
  }
  async subscribe(): Promise<void> {}
  async unsubscribe(): Promise<void> {}
}

let dir: string;
let sha256: string;
let link: DroppingLink;
let server: ArtifactServer;

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 10));

/** Acknowledge publishes as they come until nothing more goes out. */
async function drain(): Promise<void> {
  for (let stable = 0; stable < 5; ) {
    await tick();
    if (link.pendingCount > 0) {
      link.ackAll();
      stable = 0;
    } else stable++;
  }
}

const request = (missing: number[], extra: Partial<RequestMessage> = {}): RequestMessage => chunkRequest(sha256, missing, extra);

/** Topics acknowledged since the last call, as `~{n}` (broadcast) or `{device}/{n}` (re-sent to one device). */
function sent(): string[] {
  const out = link.published.map(chunkLabel);
  link.published = [];
  return out;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgetune-server-'));
  const artifact = writeServedArtifact(dir);
  sha256 = artifact.sha256;
  link = new DroppingLink();
  server = new ArtifactServer(link, topics, silentLogger(), { inFlight: 2 });
  server.add(artifact);
});
afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ArtifactServer across a lost connection', () => {
  it('sends the chunks lost with the connection and those still queued once resumed, without a new request', async () => {
    server.handleRequest('a', request([0, 1, 2, 3]));
    await waitPending(2); // chunks 0 and 1 handed to the link, 2 and 3 queued behind them
    link.drop();
    await tick();
    expect(sent()).toEqual([]);
    link.connected = true;
    server.resume();
    await drain();
    expect(sent().sort()).toEqual(['~0', '~1', '~2', '~3']);
    expect(server.chunksSent).toBe(4);
  });

  it('re-sends a lost re-send to its device, unless the device has said it is complete', async () => {
    server.handleRequest('a', request([0, 1]));
    await drain();
    sent();
    // b and c joined after the broadcast: each gets its chunk re-sent on its own topic
    server.handleRequest('b', request([0]));
    server.handleRequest('c', request([1]));
    await waitPending(2);
    // c got chunk 1 elsewhere (its complete notice arrives while the re-send is in flight), then the link drops
    server.handleRequest('c', request([], { complete: true, received: CHUNKS }));
    link.drop();
    await tick();
    link.connected = true;
    server.resume();
    await drain();
    expect(sent()).toEqual(['b/0']);
  });
});

async function waitPending(n: number): Promise<void> {
  for (let i = 0; i < 200 && link.pendingCount < n; i++) await tick();
  expect(link.pendingCount).toBe(n);
}
