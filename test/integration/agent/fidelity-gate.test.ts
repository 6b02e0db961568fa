import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { createCliServices, type AgentServices } from '../../../src/agent/agent-services.js';
import { formatComparisonTable, compareAcrossDevices } from '../../../src/operator/compare-results.js';
import { listDevices } from '../../../src/operator/list-devices.js';
import { pushJob } from '../../../src/operator/push-job.js';
import type { ReportMessage } from '../../../src/transport/messages.js';
import { agentConfig, fleetDir, HAVE_MOSQUITTO, REPO, sha256Of, startAgent, startTestBroker, testLogger, type TestBroker } from './fleet-harness.js';

/**
 * Issue 13, "a broken model is never called ok", through a real broker (Mosquitto where installed, else the
 * embedded one), real CLI children and a real SQLite store. The broken compression: 99 % magnitude sparsity of
 * mnist-rescnn, whose logits no longer move with the input (class 8 for every sample of mnist-calib).
 */
const RESCNN = join(REPO, 'test/fixtures/models/mnist-rescnn.onnx');
const DATA = join(REPO, 'test/fixtures/data/mnist-calib');
const PROFILE = { iterations: 3, warmup: 0, energy: 'off' };
const COLLAPSE = /predicts class \d+ for all 256 samples/;

type Report = ReportMessage & Record<string, any>;

function pusher(fleet: ReturnType<typeof fleetDir>, deviceId: string, brokerUrl: () => string) {
  return async (action: 'deploy' | 'activate' | 'rollback', options: Record<string, unknown>, withModel = true, preflight = true): Promise<Report> => {
    const result = await pushJob({
      ...(withModel ? { modelPath: RESCNN, dataDir: DATA } : {}),
      target: { device: deviceId },
      action,
      broker: { url: brokerUrl() },
      topicPrefix: 'edgetune/v1',
      keyPath: fleet.privateKey,
      wait: true,
      timeoutMs: 120_000,
      chunkSizeBytes: 256 * 1024,
      operatorDataDir: join(fleet.dir, `operator-${deviceId}`),
      jobOptions: options,
      preflight,
      log: testLogger('push'),
    });
    return result.reports[0] as Report;
  };
}

describe(`deploy applies the fidelity gate (${HAVE_MOSQUITTO ? 'Mosquitto' : 'embedded broker'})`, () => {
  const fleet = fleetDir();
  let broker: TestBroker;
  let agent: Agent;
  let push: ReturnType<typeof pusher>;
  let good: Report;
  let forced: Report;

  beforeAll(async () => {
    broker = await startTestBroker(HAVE_MOSQUITTO ? 'mosquitto' : 'aedes', fleet.dir);
    agent = await startAgent(agentConfig({ dir: fleet.dir, deviceId: 'gate-dev', brokerUrl: broker.url, publicKey: fleet.publicKey }));
    push = pusher(fleet, 'gate-dev', () => broker.url);
  });
  afterAll(async () => {
    await agent?.stop();
    await broker?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  const liveId = (): string | undefined => agent.store.variantWithRole('live')?.variantId;
  async function announcedLive(): Promise<unknown> {
    const devices = await listDevices({ broker: { url: broker.url }, topicPrefix: 'edgetune/v1', operatorDataDir: join(fleet.dir, 'op-devices'), settleMs: 400, log: testLogger('devices') });
    return (devices.find((d) => d.deviceId === 'gate-dev')?.activeModel as { sha256?: string } | null)?.sha256;
  }

  it('(a) a faithful compression (fp16) passes, is activated and reported ok', async () => {
    good = await push('deploy', { method: 'fp16', ...PROFILE });
    expect(good.error, JSON.stringify(good.error)).toBeNull();
    expect(good.state).toBe('ok');
    expect(good.activated).toBe(true);
    expect(good.forced).toBe(false);
    expect(good.fidelity).toMatchObject({ passed: true, forced: false, failures: [], collapsed: [], judgedOn: 'calibration', samples: 256 });
    expect(good.fidelity.agreement).toBeGreaterThan(0.99);
    expect(good.fidelity.cosine).toBeGreaterThan(0.999);
    expect(good.compress.fidelity.gate.passed).toBe(true);
    expect(liveId()).toBe(good.variant.sha256);
    expect(agent.store.profilesOf(good.variant.sha256).length).toBe(1);
  });

  it('(b) a compression whose output collapses is refused: FIDELITY_FAILED, nothing written, the previous variant stays live', async () => {
    const variantsBefore = agent.store.listVariants().length;
    const refused = await push('deploy', { method: 'sparsity', ratio: 0.99, ...PROFILE });
    expect(refused.state).toBe('failed');
    expect(refused.error?.code).toBe('FIDELITY_FAILED');
    // the figures and findings in words: the compress child's gate, judged on the job's data
    expect(refused.error?.message).toMatch(COLLAPSE);
    expect(refused.error?.message).toMatch(/near-constant across the 256 samples/);
    expect(refused.error?.message).toContain(`the live variant stays ${good.variant.sha256.slice(0, 12)}`);
    expect(refused.activated).toBe(false);
    expect(refused.live.sha256).toBe(good.variant.sha256);
    expect(refused.fidelity).toMatchObject({ stage: 'compress', passed: false, forced: false });
    // nothing was written or stored, and the device still runs (and announces) the good variant
    expect(agent.store.listVariants().length).toBe(variantsBefore);
    expect(readdirSync(agent.paths.workDir).filter((f) => f.endsWith('.onnx'))).toEqual([]);
    expect(liveId()).toBe(good.variant.sha256);
    expect(await announcedLive()).toBe(good.variant.sha256);
  });

  it('(c) with force: true the collapsed variant is activated and the report says forced, with the failures', async () => {
    forced = await push('deploy', { method: 'sparsity', ratio: 0.99, force: true, ...PROFILE });
    expect(forced.error, JSON.stringify(forced.error)).toBeNull();
    expect(forced.state).toBe('ok');
    expect(forced.activated).toBe(true);
    expect(forced.forced).toBe(true);
    expect(forced.compress.fidelity.gate).toMatchObject({ passed: false, forced: true });
    expect(forced.fidelity.passed).toBe(false);
    expect(forced.fidelity.forced).toBe(true);
    expect(forced.fidelity.collapsed.join('; ')).toMatch(COLLAPSE);
    expect(forced.fidelity.failures.join('; ')).toMatch(COLLAPSE);
    expect(forced.fidelity.agreement).toBeLessThan(0.5);
    expect(forced.fidelity.figures).toMatch(/agreement 0\.\d{4} \(95 % interval .*worst output 'logits' cosine/);
    expect(liveId()).toBe(forced.variant.sha256);
    expect(forced.previous.sha256).toBe(good.variant.sha256);
    // the operator's table never calls it ok
    const row = { reportId: forced.reportId, deviceId: 'gate-dev', jobId: forced.jobId, action: 'deploy', state: forced.state, modelSha256: sha256Of(RESCNN), seq: 1, payload: JSON.stringify(forced), createdAt: forced.createdAt, receivedAt: forced.createdAt };
    const table = formatComparisonTable(compareAcrossDevices([row], new Map()));
    expect(table).toContain('FORCED');
    expect(table).not.toMatch(/\bok\b/);
  });

  it('activate refuses the forced variant (its recorded gate failed) unless force: true', async () => {
    const back = await push('rollback', {}, false);
    expect(back.state).toBe('ok');
    expect(liveId()).toBe(good.variant.sha256);
    const refused = await push('activate', { variantId: forced.variant.sha256 }, false);
    expect(refused.state).toBe('failed');
    expect(refused.error?.code).toBe('FIDELITY_FAILED');
    expect(refused.error?.message).toMatch(COLLAPSE);
    expect(refused.live.sha256).toBe(good.variant.sha256);
    expect(liveId()).toBe(good.variant.sha256);
    const again = await push('activate', { variantId: forced.variant.sha256, force: true }, false);
    expect(again.state).toBe('ok');
    expect(again.forced).toBe(true);
    expect(again.fidelity.failures.join('; ')).toMatch(COLLAPSE);
    expect(liveId()).toBe(forced.variant.sha256);
    // a faithful variant needs no force
    const plain = await push('activate', { variantId: good.variant.sha256 }, false);
    expect(plain).toMatchObject({ state: 'ok', forced: false });
    expect(liveId()).toBe(good.variant.sha256);
  });

  it('refuses bad fidelity options with JOB_INVALID naming the option, and activates nothing', async () => {
    // push itself refuses them (issue 20); preflight: false sends them anyway, as another operator might
    const bad = await push('deploy', { method: 'fp16', confidence: 1.5, ...PROFILE }, true, false);
    expect(bad.state).toBe('failed');
    expect(bad.error?.code).toBe('JOB_INVALID');
    expect(bad.error?.message).toContain('options.confidence');
    expect(liveId()).toBe(good.variant.sha256);
  });
});

describe('the deploy eval gate catches a collapse the compress child did not report (embedded broker)', () => {
  const fleet = fleetDir();
  let agent: Agent;
  let push: ReturnType<typeof pusher>;

  beforeAll(async () => {
    // A compress that measured no fidelity (its JSON has none): the real child, forced, with the gate's verdict removed.
    const cli = createCliServices();
    const services: AgentServices = {
      ...cli,
      compress: async (req, o) => {
        const result = await cli.compress({ ...req, options: { ...req.options, force: true } }, o);
        return { ...result, fidelity: null };
      },
    };
    agent = await startAgent(agentConfig({ dir: fleet.dir, deviceId: 'eval-dev', brokerUrl: 'embedded', publicKey: fleet.publicKey, extra: { broker: { port: 0 } } }), { services });
    push = pusher(fleet, 'eval-dev', () => agent.brokerUrl);
  });
  afterAll(async () => {
    await agent?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  it('refuses to activate, keeps the previous live variant, stores the verdict with the variant, and activate refuses it too', async () => {
    const good = await push('deploy', { method: 'fp16', ...PROFILE });
    expect(good.state).toBe('ok');
    const refused = await push('deploy', { method: 'sparsity', ratio: 0.99, ...PROFILE });
    expect(refused.state).toBe('failed');
    expect(refused.error?.code).toBe('FIDELITY_FAILED');
    const message = refused.error?.message ?? '';
    expect(message).toMatch(/judged on calibration data \(256 samples/);
    expect(message).toMatch(/agreement 0\.\d{4} \(95 % interval/);
    expect(message).toMatch(/worst output 'logits' cosine -?\d\.\d{5}/);
    expect(message).toMatch(COLLAPSE);
    expect(message).toContain(`the live variant stays ${good.variant.sha256.slice(0, 12)}`);
    // the report carries the figures
    expect(refused.activated).toBe(false);
    expect(refused.fidelity).toMatchObject({ passed: false, forced: false, judgedOn: 'calibration', samples: 256, worstOutput: 'logits' });
    expect(refused.fidelity.agreement).toBeLessThan(0.5);
    expect(refused.fidelity.agreementInterval).toHaveLength(2);
    expect(refused.fidelity.collapsed.join('; ')).toMatch(COLLAPSE);
    expect(refused.eval.samples).toBe(256);
    expect(refused.variant.role).toBe('stored');
    expect(refused.live.sha256).toBe(good.variant.sha256);
    expect(agent.store.variantWithRole('live')?.variantId).toBe(good.variant.sha256);
    expect(agent.store.profilesOf(refused.variant.sha256)).toEqual([]);

    const activate = await push('activate', { variantId: refused.variant.sha256 }, false);
    expect(activate.state).toBe('failed');
    expect(activate.error?.code).toBe('FIDELITY_FAILED');
    expect(activate.error?.message).toMatch(COLLAPSE);
    expect(agent.store.variantWithRole('live')?.variantId).toBe(good.variant.sha256);
  });
});
