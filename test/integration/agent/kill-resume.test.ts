import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentPaths } from '../../../src/agent/agent-paths.js';
import { openDatabase } from '../../../src/store/database.js';
import { encodeMessage } from '../../../src/transport/messages.js';
import { parsePrivateKey } from '../../../src/transport/signature.js';
import { readFileSync } from 'node:fs';
import {
  agentConfigObject, BROKER_KINDS, fleetDir, ManualOperator, sha256Of, signedJobFor, spawnAgentProcess, startTestBroker, waitFor, type TestBroker,
} from './fleet-harness.js';

const CHUNK = 32 * 1024;
const CHUNKS = 128;
const SERVED_BEFORE_KILL = 40;

function bitmap(dbPath: string, sha256: string): number[] {
  if (!existsSync(dbPath)) return [];
  const db = openDatabase(dbPath, [], { readonly: true });
  try {
    return (db.prepare('SELECT idx FROM chunks WHERE sha256 = ? ORDER BY idx').all(sha256) as Array<{ idx: number }>).map((r) => r.idx);
  } finally {
    db.close();
  }
}

describe.each(BROKER_KINDS)('agent process SIGKILLed mid-transfer (%s)', (kind) => {
  const fleet = fleetDir();
  let broker: TestBroker;
  let op: ManualOperator;

  beforeAll(async () => {
    broker = await startTestBroker(kind, fleet.dir);
    op = new ManualOperator(broker.url);
    await op.connect();
  });
  afterAll(async () => {
    await op?.close();
    await broker?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  it('restarts, asks only for the missing chunks, and completes with the right sha256', async () => {
    const configPath = join(fleet.dir, 'agent.json');
    const config = agentConfigObject({ dir: fleet.dir, deviceId: 'dev', brokerUrl: broker.url, publicKey: fleet.publicKey, extra: { limits: { transferWindowChunks: 8 } } });
    writeFileSync(configPath, JSON.stringify(config));
    const paths = new AgentPaths(config.dataDir as string);
    const modelPath = join(fleet.dir, 'model.bin');
    writeFileSync(modelPath, randomBytes(CHUNK * CHUNKS - 1000));
    const sha = sha256Of(modelPath);
    const key = parsePrivateKey(readFileSync(fleet.privateKey), 'key');
    const { job, manifest } = signedJobFor({ path: modelPath, deviceId: 'dev', action: 'ping', chunkSize: CHUNK, key });
    op.serve(sha, modelPath, CHUNK);
    op.allow = (i) => i < SERVED_BEFORE_KILL;

    let agent = spawnAgentProcess(configPath);
    await waitFor('agent online', () => op.statuses.get('dev') === 'online', 60_000);
    await op.publish(op.topics.manifest(sha), encodeMessage('manifest', manifest), true);
    await op.publish(op.topics.device('dev', 'jobs'), encodeMessage('jobs', job));
    // The operator answers only the first 40 chunks, so the transfer stops there: a deterministic mid-transfer point.
    await waitFor('40 chunks on the agent', () => bitmap(paths.database, sha).length >= SERVED_BEFORE_KILL, 60_000);
    agent.child.kill('SIGKILL');
    await new Promise((r) => agent.child.once('exit', r));
    const before = bitmap(paths.database, sha);
    expect(before).toEqual([...Array(SERVED_BEFORE_KILL).keys()]);
    expect(existsSync(paths.staging(sha))).toBe(true);

    const requestsBeforeRestart = op.requests.length;
    op.allow = () => true;
    agent = spawnAgentProcess(configPath);
    const report = await op.report(job.jobId, 120_000);
    const after = op.requests.slice(requestsBeforeRestart).filter((r) => r.req.sha256 === sha);
    const asked = new Set(after.flatMap((r) => r.req.missing));
    expect([...asked].filter((i) => before.includes(i))).toEqual([]);
    expect([...asked].sort((a, b) => a - b)).toEqual([...Array(CHUNKS - SERVED_BEFORE_KILL).keys()].map((i) => i + SERVED_BEFORE_KILL));
    expect(after.at(-1)?.req).toMatchObject({ complete: true, missing: [] });

    expect(report.state).toBe('ok');
    expect((report as { pong?: { artifactStored?: boolean } }).pong?.artifactStored).toBe(true);
    expect(sha256Of(paths.model(sha))).toBe(sha);
    expect(readdirSync(paths.stagingDir)).toEqual([]);

    agent.child.kill('SIGTERM');
    const code = await new Promise((r) => agent.child.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    await waitFor('agent offline after a clean stop', () => op.statuses.get('dev') === 'offline', 10_000);
  });
});
