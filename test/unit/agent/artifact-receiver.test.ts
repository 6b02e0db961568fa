import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentPaths } from '../../../src/agent/agent-paths.js';
import { ArtifactReceiver, type PublishLink } from '../../../src/agent/artifact-receiver.js';
import { silentLogger } from '../../../src/agent/logger.js';
import { AGENT_CONFIG_DEFAULTS } from '../../../src/config/agent-config-defaults.js';
import { AgentStore } from '../../../src/store/agent-store.js';
import { encodeMessage, type ManifestMessage, type RequestMessage } from '../../../src/transport/messages.js';
import { Topics } from '../../../src/transport/topics.js';
import type { EdgetuneError } from '../../../src/util/errors.js';

/** Records what the receiver publishes and subscribes (the MQTT link itself is tested against real brokers). */
class RecordingLink implements PublishLink {
  connected = true;
  requests: RequestMessage[] = [];
  subscribed = new Set<string>();
  async publish(_topic: string, payload: Buffer | string): Promise<void> {
    this.requests.push(JSON.parse(payload.toString()) as RequestMessage);
  }
  async subscribe(filters: readonly string[]): Promise<void> {
    for (const f of filters) this.subscribed.add(f);
  }
  async unsubscribe(filters: readonly string[]): Promise<void> {
    for (const f of filters) this.subscribed.delete(f);
  }
}

let dir: string;
let store: AgentStore;
let link: RecordingLink;
let completed: string[];
let failed: Array<{ sha: string; error: EdgetuneError }>;
const topics = new Topics('edgetune/v1');

function receiver(limits: Partial<typeof AGENT_CONFIG_DEFAULTS.limits> = {}): ArtifactReceiver {
  return new ArtifactReceiver({
    store,
    paths: new AgentPaths(dir),
    topics,
    link,
    deviceId: 'dev',
    limits: { ...AGENT_CONFIG_DEFAULTS.limits, transferWindowChunks: 4, ...limits },
    verifyManifest: () => undefined,
    log: silentLogger(),
    onComplete: (sha) => completed.push(sha),
    onFailed: (sha, error) => failed.push({ sha, error }),
  });
}

function artifact(bytes: number, chunkSize: number): { data: Buffer; sha256: string; manifest: ManifestMessage } {
  const data = randomBytes(bytes);
  const sha256 = createHash('sha256').update(data).digest('hex');
  return { data, sha256, manifest: { sha256, bytes, chunkSize, chunks: Math.ceil(bytes / chunkSize), name: 'm.onnx', kind: 'model', signature: null } };
}

const chunkOf = (data: Buffer, i: number, size: number): Buffer => data.subarray(i * size, Math.min(data.length, (i + 1) * size));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgetune-recv-'));
  store = new AgentStore(join(dir, 'agent.db'));
  link = new RecordingLink();
  completed = [];
  failed = [];
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ArtifactReceiver', () => {
  it('asks in windows, writes chunks at their offsets in any order, verifies, installs, announces completion', async () => {
    const a = artifact(10_000, 1000);
    const r = receiver();
    expect(await r.want({ sha256: a.sha256, bytes: 10_000, name: 'm.onnx' }, 'model')).toBe('receiving');
    expect(link.subscribed).toEqual(new Set([topics.manifest(a.sha256), topics.chunkFilter(a.sha256), topics.deviceChunkFilter('dev', a.sha256)]));
    await r.handleManifest(a.sha256, encodeMessage('manifest', a.manifest));
    expect(link.requests[0]).toMatchObject({ missing: [0, 1, 2, 3], complete: false, received: 0, chunks: 10 });
    for (const i of [3, 1, 0]) await r.handleChunk(a.sha256, i, chunkOf(a.data, i, 1000));
    await r.handleChunk(a.sha256, 1, chunkOf(a.data, 1, 1000)); // duplicate: ignored
    const asked = new Set(link.requests.flatMap((q) => q.missing));
    for (let i = 9; i >= 0; i--) if (!store.receivedChunks(a.sha256).includes(i)) await r.handleChunk(a.sha256, i, chunkOf(a.data, i, 1000));
    expect(asked.size).toBeGreaterThan(4);
    expect(completed).toEqual([a.sha256]);
    expect(readFileSync(new AgentPaths(dir).model(a.sha256)).equals(a.data)).toBe(true);
    expect(readdirSync(join(dir, 'staging'))).toEqual([]);
    expect(store.getArtifact(a.sha256)?.state).toBe('complete');
    expect(link.requests.at(-1)).toMatchObject({ missing: [], complete: true });
    expect(link.subscribed.size).toBe(0);
    expect(r.isComplete(a.sha256)).toBe(true);
    expect(await r.want({ sha256: a.sha256, bytes: 10_000, name: 'm.onnx' }, 'model')).toBe('complete');
  });

  it('after a restart asks only for the chunks it does not have', async () => {
    const a = artifact(5000, 1000);
    let r = receiver();
    await r.want({ sha256: a.sha256, bytes: 5000, name: 'm' }, 'model');
    await r.handleManifest(a.sha256, encodeMessage('manifest', a.manifest));
    await r.handleChunk(a.sha256, 0, chunkOf(a.data, 0, 1000));
    await r.handleChunk(a.sha256, 2, chunkOf(a.data, 2, 1000));
    await r.stop();
    link.requests = [];
    r = receiver();
    await r.want({ sha256: a.sha256, bytes: 5000, name: 'm' }, 'model');
    await r.handleManifest(a.sha256, encodeMessage('manifest', a.manifest));
    expect(link.requests).toEqual([{ sha256: a.sha256, missing: [1, 3, 4], complete: false, received: 2, chunks: 5 }]);
    for (const i of [1, 3, 4]) await r.handleChunk(a.sha256, i, chunkOf(a.data, i, 1000));
    expect(readFileSync(new AgentPaths(dir).model(a.sha256)).equals(a.data)).toBe(true);
  });

  it('re-asks after a stall and gives up after the transfer timeout', async () => {
    const a = artifact(3000, 1000);
    const r = receiver({ transferStallSeconds: 5, transferTimeoutSeconds: 60 });
    await r.want({ sha256: a.sha256, bytes: 3000, name: 'm' }, 'model');
    await r.handleManifest(a.sha256, encodeMessage('manifest', a.manifest));
    expect(link.requests).toHaveLength(1);
    expect(link.requests[0]?.retry).toBeUndefined();
    r.tick(Date.now() + 6000);
    expect(link.requests).toHaveLength(2);
    // a re-ask may be for chunks already sent and lost: marked, so the operator re-sends them to this device alone
    expect(link.requests[1]).toMatchObject({ missing: [0, 1, 2], retry: true });
    r.onConnect();
    expect(link.requests[2]).toMatchObject({ missing: [0, 1, 2], retry: true });
    r.tick(Date.now() + 61_000);
    expect(failed.map((f) => f.error.code)).toEqual(['BROKER_FAILED']);
    expect(existsSync(join(dir, 'staging', `${a.sha256}.partial`))).toBe(false);
  });

  it('ignores chunks of the wrong size or beyond the manifest', async () => {
    const a = artifact(2500, 1000);
    const r = receiver();
    await r.want({ sha256: a.sha256, bytes: 2500, name: 'm' }, 'model');
    await r.handleManifest(a.sha256, encodeMessage('manifest', a.manifest));
    await r.handleChunk(a.sha256, 2, Buffer.alloc(1000));
    await r.handleChunk(a.sha256, 0, Buffer.alloc(999));
    await r.handleChunk(a.sha256, 3, Buffer.alloc(500));
    expect(store.receivedChunks(a.sha256)).toEqual([]);
  });

  it('discards a file whose digest does not match and leaves nothing behind', async () => {
    const a = artifact(2000, 1000);
    const r = receiver();
    await r.want({ sha256: a.sha256, bytes: 2000, name: 'm' }, 'model');
    await r.handleManifest(a.sha256, encodeMessage('manifest', a.manifest));
    await r.handleChunk(a.sha256, 0, chunkOf(a.data, 0, 1000));
    await r.handleChunk(a.sha256, 1, Buffer.alloc(1000, 1));
    expect(failed).toHaveLength(1);
    expect(failed[0]?.error.code).toBe('ARTIFACT_INVALID');
    expect(failed[0]?.error.message).toContain('hashes to sha256');
    expect(readdirSync(join(dir, 'staging'))).toEqual([]);
    expect(existsSync(join(dir, 'models'))).toBe(false);
    expect(store.getArtifact(a.sha256)).toBeUndefined();
  });

  it('refuses oversize artifacts before writing and manifests that contradict the job', async () => {
    const r = receiver({ maxArtifactBytes: 1000, maxChunkBytes: 512, maxChunks: 100 });
    await expect(r.want({ sha256: 'e'.repeat(64), bytes: 1001, name: 'big' }, 'model')).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    expect(existsSync(join(dir, 'staging'))).toBe(false);
    const cases: Array<[Partial<ManifestMessage>, string]> = [
      [{ bytes: 999 }, 'signed job says'],
      [{ chunkSize: 1000, chunks: 1 }, 'maxChunkBytes'],
      [{ chunks: 3 }, 'make 2'],
      [{ kind: 'dataset' }, 'kind'],
      [{ chunkSize: 5, chunks: 200 }, 'into 200 chunks of 5 bytes, over limits.maxChunks 100'],
    ];
    for (const [change, text] of cases) {
      const a = artifact(1000, 500);
      await r.want({ sha256: a.sha256, bytes: 1000, name: 'm' }, 'model');
      await r.handleManifest(a.sha256, encodeMessage('manifest', { ...a.manifest, ...change }));
      expect(failed.at(-1)?.error.message).toContain(text);
      expect(store.getArtifact(a.sha256)).toBeUndefined();
    }
    expect(existsSync(join(dir, 'staging'))).toBe(false); // nothing was ever written
  });
});
