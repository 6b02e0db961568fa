/**
 * Issue 8, "Faults": SIGKILL the agent process (`node bin/edgetune.js start`) at random points of an artifact
 * transfer, N times in a row. Each restart must resume from the chunks committed in its SQLite bitmap (never ask
 * again for one it has), no model file may exist before the transfer is verified, and the final file's sha256
 * matches. Kill points: before each round a target chunk count is drawn (seeded) and the agent is killed as soon
 * as its bitmap reaches it.
 *
 * Defaults: 20 kills of a 50 MB artifact in 256 KiB chunks (EDGETUNE_FAULT_ROUNDS, EDGETUNE_FAULT_TRANSFER_MB,
 * EDGETUNE_FAULT_SEED).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentPaths } from '../../src/agent/agent-paths.js';
import { openDatabase } from '../../src/store/database.js';
import { encodeMessage } from '../../src/transport/messages.js';
import { parsePrivateKey } from '../../src/transport/signature.js';
import { mulberry32 } from '../../src/util/random.js';
import {
  agentConfigObject, fleetDir, HAVE_MOSQUITTO, ManualOperator, sha256Of, signedJobFor, spawnAgentProcess, startTestBroker, waitFor, type TestBroker,
} from '../integration/agent/fleet-harness.js';
import { faultRounds, faultSeed } from './faults/fault-settings.js';

const ROUNDS = faultRounds(20);
const MB = Number(process.env.EDGETUNE_FAULT_TRANSFER_MB ?? 50);
const CHUNK = 256 * 1024;

function bitmap(dbPath: string, sha256: string): number[] {
  if (!existsSync(dbPath)) return [];
  const db = openDatabase(dbPath, [], { readonly: true });
  try {
    return (db.prepare('SELECT idx FROM chunks WHERE sha256 = ? ORDER BY idx').all(sha256) as Array<{ idx: number }>).map((r) => r.idx);
  } finally {
    db.close();
  }
}

describe.skipIf(!HAVE_MOSQUITTO)(`agent process SIGKILLed ${ROUNDS} times at random points of a ${MB} MB transfer (Mosquitto)`, () => {
  const fleet = fleetDir();
  let broker: TestBroker;
  let op: ManualOperator;
  let agent: ReturnType<typeof spawnAgentProcess> | null = null;

  beforeAll(async () => {
    broker = await startTestBroker('mosquitto', fleet.dir);
    op = new ManualOperator(broker.url);
    await op.connect();
  });
  afterAll(async () => {
    if (agent && agent.child.exitCode === null && agent.child.signalCode === null) {
      agent.child.kill('SIGKILL');
      await new Promise((r) => agent?.child.once('exit', r));
    }
    await op?.close();
    await broker?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  it('every restart resumes from its committed chunks; the model appears only complete, with the right sha256', async () => {
    const configPath = join(fleet.dir, 'agent.json');
    const config = agentConfigObject({ dir: fleet.dir, deviceId: 'dev', brokerUrl: broker.url, publicKey: fleet.publicKey });
    writeFileSync(configPath, JSON.stringify(config));
    const paths = new AgentPaths(config.dataDir as string);
    const modelPath = join(fleet.dir, 'model.bin');
    writeFileSync(modelPath, randomBytes(MB * 1024 * 1024));
    const sha = sha256Of(modelPath);
    const key = parsePrivateKey(readFileSync(fleet.privateKey), 'key');
    const { job, manifest } = signedJobFor({ path: modelPath, deviceId: 'dev', action: 'ping', chunkSize: CHUNK, key });
    const chunks = manifest.chunks;
    op.serve(sha, modelPath, CHUNK);
    await op.publish(op.topics.manifest(sha), encodeMessage('manifest', manifest), true);

    const random = mulberry32(faultSeed());
    const kills: Array<{ target: number; have: number }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const haveBefore = new Set(bitmap(paths.database, sha));
      const requestsBefore = op.requests.length;
      agent = spawnAgentProcess(configPath);
      if (round === 0) {
        await waitFor('agent online', () => op.statuses.get('dev') === 'online', 60_000);
        await op.publish(op.topics.device('dev', 'jobs'), encodeMessage('jobs', job));
      }
      // a random point of what is left (never the end: the last chunk completes the transfer)
      const left = chunks - haveBefore.size;
      const target = haveBefore.size + 1 + Math.floor(random() * Math.max(1, Math.min(left - 1, (2 * left) / (ROUNDS - round + 1))));
      await waitFor(`bitmap at ${target} chunks`, () => bitmap(paths.database, sha).length >= target, 60_000, 10);
      agent.child.kill('SIGKILL');
      await new Promise((r) => agent?.child.once('exit', r));
      const have = bitmap(paths.database, sha);
      kills.push({ target, have: have.length });
      // resumed: none of the chunks committed before this start was asked for again
      const asked = op.requests.slice(requestsBefore).filter((r) => r.req.sha256 === sha).flatMap((r) => r.req.missing);
      expect(asked.filter((i) => haveBefore.has(i))).toEqual([]);
      // no partial file is ever used: the model exists only once every chunk is in
      if (have.length < chunks) expect(existsSync(paths.model(sha))).toBe(false);
      else expect(sha256Of(paths.model(sha))).toBe(sha);
    }
    const midTransfer = kills.filter((k) => k.have < chunks).length;
    console.log(`transfer kill: ${MB} MB, ${chunks} chunks, ${ROUNDS} SIGKILLs (${midTransfer} mid-transfer) at chunk counts ${kills.map((k) => k.have).join(',')}`);
    expect(midTransfer).toBe(ROUNDS);

    const requestsBefore = op.requests.length;
    const haveBefore = new Set(bitmap(paths.database, sha));
    agent = spawnAgentProcess(configPath);
    const report = await op.report(job.jobId, 120_000);
    expect(report.state).toBe('ok');
    const asked = op.requests.slice(requestsBefore).filter((r) => r.req.sha256 === sha).flatMap((r) => r.req.missing);
    expect(asked.filter((i) => haveBefore.has(i))).toEqual([]);
    expect(sha256Of(paths.model(sha))).toBe(sha);
    expect(readdirSync(paths.stagingDir)).toEqual([]);
    agent.child.kill('SIGTERM');
    expect(await new Promise((r) => agent?.child.once('exit', (c) => r(c)))).toBe(0);
  }, 600_000);
});
