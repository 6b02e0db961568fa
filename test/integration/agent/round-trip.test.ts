import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { pushJob } from '../../../src/operator/push-job.js';
import { OperatorStore } from '../../../src/store/operator-store.js';
import { agentConfig, BROKER_KINDS, fleetDir, MNIST_MLP, startAgent, startTestBroker, testLogger, type TestBroker } from './fleet-harness.js';

const modelSha = createHash('sha256').update(readFileSync(MNIST_MLP)).digest('hex');
const PROFILE_OPTIONS = { iterations: 5, warmup: 1, energy: 'off' };

describe.each(BROKER_KINDS)('round trip through %s', (kind) => {
  const fleet = fleetDir();
  let broker: TestBroker;
  const agents: Agent[] = [];

  beforeAll(async () => {
    broker = await startTestBroker(kind, fleet.dir);
    agents.push(await startAgent(agentConfig({ dir: fleet.dir, deviceId: 'solo', brokerUrl: broker.url, publicKey: fleet.publicKey })));
    for (const id of ['cam-1', 'cam-2', 'cam-3']) {
      agents.push(await startAgent(agentConfig({ dir: fleet.dir, deviceId: id, groups: ['cams'], brokerUrl: broker.url, publicKey: fleet.publicKey })));
    }
    // 'late' group: late-1 stays up; late-2 registers its persistent session, then goes offline before the push
    lateAgents.push(await startAgent(lateConfig('late-1')));
    await (await startAgent(lateConfig('late-2'))).stop();
  });
  const lateAgents: Agent[] = [];
  const lateConfig = (id: string) => agentConfig({ dir: fleet.dir, deviceId: id, groups: ['late'], brokerUrl: broker.url, publicKey: fleet.publicKey });

  afterAll(async () => {
    for (const a of [...agents, ...lateAgents]) await a.stop();
    await broker?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  const push = (target: { device: string } | { group: string }) =>
    pushJob({
      modelPath: MNIST_MLP,
      target,
      action: 'profile',
      broker: { url: broker.url },
      topicPrefix: 'edgetune/v1',
      keyPath: fleet.privateKey,
      wait: true,
      timeoutMs: 90_000,
      chunkSizeBytes: 16 * 1024,
      operatorDataDir: join(fleet.dir, 'operator'),
      jobOptions: PROFILE_OPTIONS,
      log: testLogger('operator'),
    });

  it('pushes a model to one device, which profiles it with the real profiler and reports to both stores', async () => {
    const result = await push({ device: 'solo' });
    expect(result.devices).toEqual(['solo']);
    expect(result.reports).toHaveLength(1);
    const report = result.reports[0] as Record<string, unknown> & { state: string; error: unknown };
    expect(report.error).toBeNull();
    expect(report.state).toBe('ok');
    const profile = report.profile as { model: { sha256: string; bytes: number }; iterations: number; latencyMs: { p50: number; mean: number } };
    expect(profile.model.sha256).toBe(modelSha);
    expect(profile.iterations).toBe(5);
    expect(profile.latencyMs.p50).toBeGreaterThan(0);
    // the device's hw probe (a child at start-up) supplies the profile name and peak figures to the profiler
    const detail = report.profile as { device: { profile: unknown }; flopsDetail: { peakGopsPerSec: unknown } | null };
    expect(typeof detail.device.profile).toBe('string');
    expect(detail.flopsDetail?.peakGopsPerSec).toBeGreaterThan(0);
    expect(result.chunksSent).toBeGreaterThanOrEqual(Math.ceil(readFileSync(MNIST_MLP).length / (16 * 1024)));

    const solo = agents[0] as Agent;
    const stored = solo.store.listReports(result.jobId);
    expect(stored).toHaveLength(1);
    expect(JSON.parse(stored[0]?.payload as string)).toEqual(report);
    expect(createHash('sha256').update(readFileSync(solo.paths.model(modelSha))).digest('hex')).toBe(modelSha);
    expect(solo.store.profilesOf(modelSha)).toHaveLength(1);
    await solo.whenIdle();
    expect(solo.store.pendingOutboxCount()).toBe(0);

    const op = new OperatorStore(join(fleet.dir, 'operator', 'operator.db'));
    const rows = op.listReports({ jobId: result.jobId });
    op.close();
    expect(rows.map((r) => [r.deviceId, r.reportId, r.modelSha256])).toEqual([['solo', report.reportId, modelSha]]);
  });

  it('pushes to a group of three agents; each has its own store and every report lands in both stores', async () => {
    const result = await push({ group: 'cams' });
    expect(result.devices).toEqual(['cam-1', 'cam-2', 'cam-3']);
    expect(result.reports.map((r) => [r.deviceId, r.state])).toEqual([
      ['cam-1', 'ok'],
      ['cam-2', 'ok'],
      ['cam-3', 'ok'],
    ]);
    const op = new OperatorStore(join(fleet.dir, 'operator', 'operator.db'));
    const rows = op.listReports({ jobId: result.jobId });
    op.close();
    expect(rows.map((r) => r.deviceId).sort()).toEqual(['cam-1', 'cam-2', 'cam-3']);
    for (const agent of agents.slice(1)) {
      const mine = agent.store.listReports(result.jobId);
      expect(mine).toHaveLength(1);
      expect(rows.some((r) => r.reportId === mine[0]?.reportId && r.deviceId === agent.config.deviceId)).toBe(true);
      expect(agent.store.getArtifact(modelSha)?.state).toBe('complete');
    }
    // the solo device is not in the group and saw nothing of this job
    expect((agents[0] as Agent).store.getJob(result.jobId)).toBeUndefined();
  });

  it('broadcasts each chunk once; a member that was offline during the broadcast gets the chunks on its own topic', async () => {
    const chunks = Math.ceil(readFileSync(MNIST_MLP).length / (16 * 1024));
    let restarted: Promise<Agent> | null = null;
    const result = await pushJob({
      modelPath: MNIST_MLP,
      target: { group: 'late' },
      action: 'ping',
      broker: { url: broker.url },
      topicPrefix: 'edgetune/v1',
      keyPath: fleet.privateKey,
      wait: true,
      timeoutMs: 60_000,
      chunkSizeBytes: 16 * 1024,
      operatorDataDir: join(fleet.dir, 'operator'),
      // late-1 holds its report long enough for late-2 to come back, fetch the artifact and report too
      jobOptions: { holdMs: 6000 },
      onProgress: (p) => {
        if (restarted === null && p.devices.some((d) => d.deviceId === 'late-1' && d.complete)) {
          restarted = startAgent(lateConfig('late-2'));
          restarted.then((a) => lateAgents.push(a)).catch(() => undefined);
        }
      },
      log: testLogger('operator'),
    });
    expect(restarted).not.toBeNull();
    expect(result.reports.map((r) => [r.deviceId, r.state])).toEqual([
      ['late-1', 'ok'],
      ['late-2', 'ok'],
    ]);
    // every chunk went out once on the artifact's topic; late-2 subscribed after that and got each on its own topic
    expect(result.chunksSent - result.chunksResent).toBe(chunks);
    expect(result.chunksResent).toBeGreaterThanOrEqual(chunks);
    const late2 = await (restarted as unknown as Promise<Agent>);
    expect(late2.store.getArtifact(modelSha)?.state).toBe('complete');
  });
});
