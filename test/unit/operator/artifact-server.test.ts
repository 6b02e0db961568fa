import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PublishLink } from '../../../src/agent/artifact-receiver.js';
import { silentLogger } from '../../../src/agent/logger.js';
import { ArtifactServer } from '../../../src/operator/artifact-server.js';
import type { RequestMessage } from '../../../src/transport/messages.js';
import { CHUNK, CHUNKS, chunkLabel, chunkRequest, topics, writeServedArtifact } from './artifact-server-fixture.js';

/** Records every publish; the real broker path is covered by the agent integration tests and the fleet bench. */
class RecordingLink implements PublishLink {
  connected = true;
  published: Array<{ topic: string; bytes: number }> = [];
  async publish(topic: string, payload: Buffer | string): Promise<void> {
    this.published.push({ topic, bytes: payload.length });
  }
  async subscribe(): Promise<void> {}
  async unsubscribe(): Promise<void> {}
}

let dir: string;
let sha256: string;
let link: RecordingLink;
let server: ArtifactServer;

/** Let the server's file reads and publishes run until nothing more goes out. */
async function drain(): Promise<void> {
  let stable = 0;
  let last = -1;
  while (stable < 5) {
    await new Promise((r) => setTimeout(r, 5));
    stable = link.published.length === last ? stable + 1 : 0;
    last = link.published.length;
  }
}

const request = (missing: number[], extra: Partial<RequestMessage> = {}): RequestMessage => chunkRequest(sha256, missing, extra);

/** Topics published since the last call, as `~{n}` (broadcast) or `{device}/{n}` (re-sent to one device). */
function sent(): string[] {
  const out = link.published.map(({ topic }) => chunkLabel(topic));
  link.published = [];
  return out;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgetune-server-'));
  const artifact = writeServedArtifact(dir);
  sha256 = artifact.sha256;
  link = new RecordingLink();
  server = new ArtifactServer(link, topics, silentLogger(), { inFlight: 2 });
  server.add(artifact);
});
afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ArtifactServer', () => {
  it('broadcasts each chunk once for devices that ask together', async () => {
    link.connected = false; // the three requests arrive before anything goes out
    server.handleRequest('a', request([0, 1, 2, 3]));
    server.handleRequest('b', request([0, 1, 2, 3]));
    server.handleRequest('c', request([0, 1, 2, 3]));
    link.connected = true;
    server.handleRequest('c', request([]));
    await drain();
    expect(sent().sort()).toEqual(['~0', '~1', '~2', '~3']);
    expect(server.chunksSent).toBe(4);
    expect(server.chunksResent).toBe(0);
  });

  it('re-sends chunks broadcast before a late device subscribed to that device alone', async () => {
    server.handleRequest('a', request([0, 1, 2, 3]));
    await drain();
    expect(sent()).toEqual(['~0', '~1', '~2', '~3']);
    // b joins after 0..3 went out: it gets them on its own topic; 4 and 5 were never sent, so they are broadcast
    server.handleRequest('b', request([0, 1, 2, 3, 4, 5]));
    await drain();
    expect(sent().sort()).toEqual(['~4', '~5', 'b/0', 'b/1', 'b/2', 'b/3'].sort());
    expect(server.chunksSent).toBe(10);
    expect(server.chunksResent).toBe(4);
    expect(server.bytesSent).toBe(CHUNK * 9 + 100);
  });

  it('does not answer a plain request for a chunk broadcast after the device first asked; a retry gets it alone', async () => {
    link.connected = false; // hold the sends until both devices have asked
    server.handleRequest('a', request([0, 1, 2]));
    server.handleRequest('b', request([0]));
    link.connected = true;
    server.handleRequest('a', request([]));
    await drain();
    expect(sent().sort()).toEqual(['~0', '~1', '~2']);
    // b's next window names 1 and 2, broadcast after b's first request: they are on their way to b
    server.handleRequest('b', request([1, 2, 3]));
    await drain();
    expect(sent()).toEqual(['~3']);
    // b reconnected and lost what was in flight: a retry is re-sent to b only
    server.handleRequest('b', request([1, 2, 3], { retry: true }));
    await drain();
    expect(sent().sort()).toEqual(['b/1', 'b/2', 'b/3']);
  });

  it('coalesces a device asking twice for the same re-send, and drops its re-sends once it says it is complete', async () => {
    server.handleRequest('a', request([0, 1, 2, 3, 4, 5]));
    await drain();
    sent();
    link.connected = false; // nothing goes out while the link is down
    server.handleRequest('late', request([0, 1, 2]));
    server.handleRequest('late', request([0, 1, 2], { retry: true }));
    server.handleRequest('gone', request([3, 4]));
    server.handleRequest('gone', request([], { complete: true, received: CHUNKS }));
    link.connected = true;
    server.handleRequest('a', request([], { complete: true, received: CHUNKS })); // any request pumps
    await drain();
    expect(sent().sort()).toEqual(['late/0', 'late/1', 'late/2']);
    expect(server.transfers().get('gone')?.get(sha256)?.complete).toBe(true);
  });

  it('holds the first broadcast until every expected device has asked, or the gather time has passed', async () => {
    const gathered = new ArtifactServer(link, topics, silentLogger(), { inFlight: 2, gatherMs: 200 });
    const other = { sha256: 'e'.repeat(64), path: join(dir, 'model.bin'), bytes: CHUNK * (CHUNKS - 1) + 100, chunkSize: CHUNK, chunks: CHUNKS };
    gathered.add({ ...other, sha256 }, ['a', 'b']);
    gathered.handleRequest('a', request([0, 1]));
    await drain();
    expect(sent()).toEqual([]);
    gathered.handleRequest('b', request([0, 1, 2]));
    await drain();
    expect(sent().sort()).toEqual(['~0', '~1', '~2']);
    // a device that never asks holds the broadcast only until the gather time ends
    gathered.add(other, ['a', 'silent']);
    gathered.handleRequest('a', { ...request([0]), sha256: other.sha256 });
    await drain();
    expect(link.published).toEqual([]);
    await new Promise((r) => setTimeout(r, 250));
    await drain();
    expect(link.published.map((p) => p.topic)).toEqual([topics.chunk(other.sha256, 0)]);
    await gathered.close();
  });

  it('ignores indices outside the artifact and artifacts it does not serve', async () => {
    server.handleRequest('a', request([-1, 6, 1.5, 2 ** 31]));
    server.handleRequest('a', { ...request([0]), sha256: 'f'.repeat(64) });
    await drain();
    expect(sent()).toEqual([]);
  });
});
