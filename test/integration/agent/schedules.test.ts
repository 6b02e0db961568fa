import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { listDevices } from '../../../src/operator/list-devices.js';
import { pushJob } from '../../../src/operator/push-job.js';
import { agentConfig, fleetDir, MNIST_MLP, sha256Of, startAgent, testLogger, waitFor } from './fleet-harness.js';

describe('schedules (node-cron): heartbeat and re-profile of the live model; deploy without compression; rollback', () => {
  const fleet = fleetDir();
  let agent: Agent;

  beforeAll(async () => {
    agent = await startAgent(
      agentConfig({
        dir: fleet.dir,
        deviceId: 'sched',
        brokerUrl: 'embedded',
        publicKey: fleet.publicKey,
        extra: { broker: { port: 0 }, schedules: { heartbeat: '* * * * * *', reprofile: '*/2 * * * * *', cleanup: '* * * * * *' } },
      }),
    );
  });
  afterAll(async () => {
    await agent?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  const push = (action: 'deploy' | 'rollback', options: Record<string, unknown>, modelPath?: string) =>
    pushJob({
      ...(modelPath ? { modelPath } : {}),
      target: { device: 'sched' },
      action,
      broker: { url: agent.brokerUrl },
      topicPrefix: 'edgetune/v1',
      keyPath: fleet.privateKey,
      wait: true,
      timeoutMs: 60_000,
      chunkSizeBytes: 65536,
      operatorDataDir: join(fleet.dir, 'operator'),
      jobOptions: options,
      log: testLogger('push'),
    });

  it('publishes a retained heartbeat the operator can read', async () => {
    const devices = await waitFor(
      'a heartbeat',
      async () => {
        const list = await listDevices({ broker: { url: agent.brokerUrl }, topicPrefix: 'edgetune/v1', operatorDataDir: join(fleet.dir, 'operator'), settleMs: 300, log: testLogger('devices') });
        return list.find((d) => d.heartbeat !== null) ? list : null;
      },
      15_000,
      500,
    );
    const beat = devices[0]?.heartbeat as { deviceId: string; agentRssBytes: number; queuedJobs: number; memoryTotalBytes: number };
    expect(beat.deviceId).toBe('sched');
    expect(beat.agentRssBytes).toBeGreaterThan(0);
    expect(beat.memoryTotalBytes).toBeGreaterThan(0);
    expect(devices[0]?.state).toBe('online');
  });

  it('deploys as is (method none), makes it live, and re-profiles the live model on schedule', async () => {
    const result = await push('deploy', { method: 'none', iterations: 3, warmup: 0, energy: 'off' }, MNIST_MLP);
    const report = result.reports[0] as Record<string, any>;
    expect(report.error).toBeNull();
    expect(report.variant).toMatchObject({ method: 'original', role: 'live', sha256: sha256Of(MNIST_MLP) });
    expect(report.compress).toBeNull();
    const reprofile = await waitFor('a scheduled re-profile report', () => agent.store.listReports().find((r) => r.jobId.startsWith('reprofile-') && r.state === 'ok'), 30_000, 200);
    const payload = JSON.parse(reprofile.payload) as { profile: { model: { sha256: string } } };
    expect(payload.profile.model.sha256).toBe(sha256Of(MNIST_MLP));
    expect(agent.store.profilesOf(sha256Of(MNIST_MLP)).length).toBeGreaterThanOrEqual(2);
  });

  it('refuses a rollback when there is no previous model, with a failed report', async () => {
    const result = await push('rollback', {});
    expect(result.reports[0]?.state).toBe('failed');
    expect(result.reports[0]?.error?.message).toContain('no previous variant');
  });
});
