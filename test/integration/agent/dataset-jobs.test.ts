import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { pushJob } from '../../../src/operator/push-job.js';
import { agentConfig, fleetDir, MNIST_MLP, REPO, sha256Of, startAgent, testLogger } from './fleet-harness.js';

const DATA = join(REPO, 'test/fixtures/data/mnist-calib-flat');

describe('jobs that carry a dataset (eval, deploy with int8 calibration and fidelity against the original)', () => {
  const fleet = fleetDir();
  let agent: Agent;

  beforeAll(async () => {
    agent = await startAgent(agentConfig({ dir: fleet.dir, deviceId: 'data-dev', brokerUrl: 'embedded', publicKey: fleet.publicKey, extra: { broker: { port: 0 } } }));
  });
  afterAll(async () => {
    await agent?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  const push = (action: 'eval' | 'deploy', options: Record<string, unknown>) =>
    pushJob({
      modelPath: MNIST_MLP,
      target: { device: 'data-dev' },
      action,
      dataDir: DATA,
      broker: { url: agent.brokerUrl },
      topicPrefix: 'edgetune/v1',
      keyPath: fleet.privateKey,
      wait: true,
      timeoutMs: 180_000,
      chunkSizeBytes: 64 * 1024,
      operatorDataDir: join(fleet.dir, 'operator'),
      jobOptions: options,
      log: testLogger('push'),
    });

  it('evaluates the pushed model on the pushed dataset', async () => {
    const result = await push('eval', {});
    const report = result.reports[0] as Record<string, any>;
    expect(report.error).toBeNull();
    expect(report.data.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(report.eval.samples).toBeGreaterThan(0);
    expect(report.eval.top1).toBeGreaterThan(0.9);
    // the dataset arrived as a bundle and was unpacked under datasets/<sha256>/ only
    expect(agent.store.getArtifact(report.data.sha256)?.kind).toBe('dataset');
  });

  it('deploys with int8 calibrated on the dataset and reports fidelity against the original', async () => {
    const result = await push('deploy', { method: 'int8', iterations: 3, warmup: 0, energy: 'off' });
    const report = result.reports[0] as Record<string, any>;
    expect(report.error).toBeNull();
    expect(report.compress.method).toBe('int8');
    expect(report.compress.calibration).not.toBeNull();
    expect(report.variant.sha256).not.toBe(sha256Of(MNIST_MLP));
    expect(report.variant.bytes).toBeLessThan(report.source.bytes);
    expect(report.eval.agreement).toBeGreaterThan(0.9);
    expect(report.activated).toBe(true);
    expect(agent.store.variantWithRole('live')?.variantId).toBe(report.variant.sha256);
  });
});
