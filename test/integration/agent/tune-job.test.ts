import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { pushJob } from '../../../src/operator/push-job.js';
import { agentConfig, fleetDir, MNIST_MLP, sha256Of, startAgent, testLogger } from './fleet-harness.js';

describe('a tune job: the device searches compressions under constraints and makes the chosen one live', () => {
  const fleet = fleetDir();
  let agent: Agent;

  beforeAll(async () => {
    agent = await startAgent(agentConfig({ dir: fleet.dir, deviceId: 'tuner', brokerUrl: 'embedded', publicKey: fleet.publicKey, extra: { broker: { port: 0 } } }));
  });
  afterAll(async () => {
    await agent?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  const push = (options: Record<string, unknown>) =>
    pushJob({
      modelPath: MNIST_MLP,
      target: { device: 'tuner' },
      action: 'tune',
      broker: { url: agent.brokerUrl },
      topicPrefix: 'edgetune/v1',
      keyPath: fleet.privateKey,
      wait: true,
      timeoutMs: 240_000,
      chunkSizeBytes: 256 * 1024,
      operatorDataDir: join(fleet.dir, 'operator'),
      jobOptions: options,
      log: testLogger('push'),
    });

  it('stores and activates the chosen candidate, and reports the whole search', async () => {
    const result = await push({ candidates: 'fp32,int8-dyn', iterations: 3, warmup: 0, energy: 'off', objective: 'size', healthMaxLatencyMs: 60_000 });
    const report = result.reports[0] as Record<string, any>;
    expect(report.error).toBeNull();
    expect(report.tune.candidates.map((c: { id: string }) => c.id).sort()).toEqual(['fp32', 'int8-dyn']);
    expect(report.tune.chosen).toBe('int8-dyn'); // the smaller file wins with objective size
    expect(report.variant.method).toBe('tune:int8-dyn');
    expect(report.variant.sha256).toBe(report.tune.output.sha256);
    expect(report.variant.sha256).not.toBe(sha256Of(MNIST_MLP));
    expect(report.activated).toBe(true);
    expect(agent.store.variantWithRole('live')?.variantId).toBe(report.variant.sha256);
  });

  it('reports a search where no candidate meets the constraints without touching the live model', async () => {
    const live = agent.store.variantWithRole('live')?.variantId;
    const result = await push({ candidates: 'fp32,int8-dyn', iterations: 3, warmup: 0, energy: 'off', maxSizeMb: 0.001 });
    const report = result.reports[0] as Record<string, any>;
    expect(report.error).toBeNull();
    expect(report.state).toBe('ok');
    expect(report.tune.chosen).toBeNull();
    expect(report.tune.chosenReason).toMatch(/no candidate meets the constraints/);
    expect(report.variant).toBeNull();
    expect(agent.store.variantWithRole('live')?.variantId).toBe(live);
  });
});
