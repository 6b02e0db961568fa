import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { createCliServices, type AgentServices } from '../../../src/agent/agent-services.js';
import { pushJob } from '../../../src/operator/push-job.js';
import { EdgetuneError } from '../../../src/util/errors.js';
import { agentConfig, fleetDir, MNIST_MLP, sha256Of, startAgent, testLogger } from './fleet-harness.js';

/**
 * The tune job with activate: the chosen variant goes live, a health check profiles it in a child through the
 * agent's services, and a failing check puts the live/previous roles back as they were. Real broker, real
 * onnxruntime in profiling children, real SQLite; one test injects a profiler service that fails (the child crash
 * a broken variant would cause), the others use the real one.
 */
describe('tune job with activate: health check after activation, automatic rollback when it fails', () => {
  const fleet = fleetDir();
  let agent: Agent;
  /** When set, the next profile call (the health check) fails as a crashing profiling child would. */
  let failNextProfile = false;
  const real = createCliServices();
  const services: AgentServices = {
    ...real,
    profile: async (req, o) => {
      if (failNextProfile) {
        failNextProfile = false;
        throw new EdgetuneError('RUNTIME_FAILED', 'profile: the profiling child was killed by SIGSEGV (injected)');
      }
      return real.profile(req, o);
    },
  };

  beforeAll(async () => {
    agent = await startAgent(agentConfig({ dir: fleet.dir, deviceId: 'health', brokerUrl: 'embedded', publicKey: fleet.publicKey, extra: { broker: { port: 0 } } }), { services });
  });
  afterAll(async () => {
    await agent?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  const push = async (action: 'deploy' | 'tune', options: Record<string, unknown>): Promise<Record<string, any>> => {
    const result = await pushJob({
      modelPath: MNIST_MLP,
      target: { device: 'health' },
      action,
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
    return result.reports[0] as Record<string, any>;
  };
  const tuneOptions = { candidates: 'fp32,int8-dyn', iterations: 3, warmup: 0, energy: 'off', objective: 'size', activate: true };
  const original = sha256Of(MNIST_MLP);

  it('a passing health check leaves the chosen variant live and the previous live model as previous', async () => {
    const deployed = await push('deploy', { method: 'none', iterations: 3, warmup: 0, energy: 'off' });
    expect(deployed.error).toBeNull();
    expect(agent.store.variantWithRole('live')?.variantId).toBe(original);

    // A bound the variant meets whenever it loads and runs: the check is about function here, not speed.
    const report = await push('tune', { ...tuneOptions, healthMaxLatencyMs: 60_000 });
    expect(report.error).toBeNull();
    expect(report.tune.chosen).toBe('int8-dyn');
    expect(report.activated).toBe(true);
    expect(report.rolledBack).toBe(false);
    expect(report.health.ok).toBe(true);
    expect(report.health.boundSource).toBe('healthMaxLatencyMs');
    expect(report.health.latencyMs).toBeGreaterThan(0);
    expect(report.variant.sha256).toBe(report.tune.output.sha256);
    expect(report.previous.sha256).toBe(original);
    expect(agent.store.variantWithRole('live')?.variantId).toBe(report.variant.sha256);
    expect(agent.store.variantWithRole('previous')?.variantId).toBe(original);
    // The health check's profile is stored against the variant, with this job's id.
    expect(agent.store.profilesOf(report.variant.sha256).some((p) => p.jobId === report.jobId)).toBe(true);
  });

  it('a variant that misses the latency bound is rolled back: roles as before, the report says why', async () => {
    const liveBefore = agent.store.variantWithRole('live')?.variantId;
    const previousBefore = agent.store.variantWithRole('previous')?.variantId;
    // fp32 this time (objective latency is not what we test: the candidate list forces a different variant).
    const report = await push('tune', { ...tuneOptions, candidates: 'fp32', healthMaxLatencyMs: 1e-9 });
    expect(report.error).toBeNull();
    expect(report.tune.chosen).toBe('fp32');
    expect(report.activated).toBe(false);
    expect(report.rolledBack).toBe(true);
    expect(report.health.ok).toBe(false);
    expect(report.health.latencyMs).toBeGreaterThan(1e-9);
    expect(report.health.reason).toMatch(/exceeds the bound .* \(healthMaxLatencyMs\)/);
    expect(report.rollbackReason).toMatch(/rolled back to/);
    expect(report.live.sha256).toBe(liveBefore);
    expect(agent.store.variantWithRole('live')?.variantId).toBe(liveBefore);
    expect(agent.store.variantWithRole('previous')?.variantId).toBe(previousBefore);
  });

  it('a variant that does not load or run (profiling child dies) is rolled back to the previous live model', async () => {
    const liveBefore = agent.store.variantWithRole('live')?.variantId as string;
    const previousBefore = agent.store.variantWithRole('previous')?.variantId as string;
    expect(liveBefore).not.toBe(original);
    failNextProfile = true;
    // The original (fp32) would replace the live int8 variant; its health check dies.
    const report = await push('tune', { ...tuneOptions, candidates: 'fp32', healthMaxLatencyMs: 60_000 });
    expect(failNextProfile).toBe(false); // the injected failure was consumed by the health check
    expect(report.error).toBeNull();
    expect(report.rolledBack).toBe(true);
    expect(report.health.ok).toBe(false);
    expect(report.health.latencyMs).toBeNull();
    expect(report.health.reason).toMatch(/does not load or run: .*SIGSEGV/);
    expect(report.variant.sha256).toBe(original);
    expect(report.live.sha256).toBe(liveBefore);
    expect(report.previous.sha256).toBe(previousBefore);
    expect(agent.store.variantWithRole('live')?.variantId).toBe(liveBefore);
    expect(agent.store.variantWithRole('previous')?.variantId).toBe(previousBefore);

    // The previous model is still there for an operator's rollback.
    const { live, previous } = agent.store.rollbackVariant();
    expect(live.variantId).toBe(previousBefore);
    expect(previous.variantId).toBe(liveBefore);
  });
});
