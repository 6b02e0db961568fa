import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { pushJob } from '../../../src/operator/push-job.js';
import { encodeMessage } from '../../../src/transport/messages.js';
import { generateSigningKeyPair, parsePrivateKey, signJob } from '../../../src/transport/signature.js';
import { agentConfig, fleetDir, ManualOperator, pingJob, sha256Of, signedJobFor, startAgent, testLogger } from './fleet-harness.js';

const LIMIT = 1024 * 1024;

describe('the agent refuses bad input with a report, leaves nothing behind, and keeps serving (embedded broker)', () => {
  const fleet = fleetDir();
  let agent: Agent;
  let op: ManualOperator;
  const key = () => parsePrivateKey(readFileSync(fleet.privateKey), 'key');

  beforeAll(async () => {
    agent = await startAgent(
      agentConfig({ dir: fleet.dir, deviceId: 'dev', brokerUrl: 'embedded', publicKey: fleet.publicKey, extra: { broker: { port: 0 }, limits: { maxArtifactBytes: LIMIT } } }),
    );
    op = new ManualOperator(agent.brokerUrl);
    await op.connect();
  });
  afterAll(async () => {
    await op?.close();
    await agent?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  function model(bytes: number, name: string): string {
    const p = join(fleet.dir, name);
    writeFileSync(p, randomBytes(bytes));
    return p;
  }

  // The pushes of random bytes below pass `preflight: false`: push itself refuses a file that is not ONNX (issue 20),
  // and these tests are about what the agent does with one that comes from elsewhere.

  /** Nothing of the artifact on disk or in the store, and nothing half-written anywhere. */
  function expectNothingLeftFor(sha: string): void {
    expect(readdirSync(agent.paths.stagingDir)).toEqual([]);
    expect(existsSync(agent.paths.model(sha))).toBe(false);
    expect(agent.store.getArtifact(sha)).toBeUndefined();
    expect(agent.store.getVariant(sha)).toBeUndefined();
    expect(readdirSync(agent.paths.workDir)).toEqual([]);
  }

  async function pingStillServes(): Promise<void> {
    const ping = pingJob('dev', key());
    await op.publish(op.topics.device('dev', 'jobs'), encodeMessage('jobs', ping));
    expect((await op.report(ping.jobId)).state).toBe('ok');
  }

  it('a badly signed job', async () => {
    const other = generateSigningKeyPair();
    const otherKey = join(fleet.dir, 'other.key');
    writeFileSync(otherKey, other.privateKeyPem);
    const path = model(200_000, 'signed-by-stranger.onnx');
    const result = await pushJob({
      modelPath: path, target: { device: 'dev' }, action: 'profile', broker: { url: agent.brokerUrl }, topicPrefix: 'edgetune/v1', keyPath: otherKey,
      wait: true, timeoutMs: 20_000, chunkSizeBytes: 65536, operatorDataDir: join(fleet.dir, 'op'), preflight: false, log: testLogger('push'),
    });
    const report = result.reports[0];
    expect(report?.state).toBe('failed');
    expect(report?.error?.code).toBe('SIGNATURE_INVALID');
    expect(report?.error?.message).toMatch(/not among the 1 trusted key/);
    expect(result.chunksSent).toBe(0);
    expect(agent.store.getJob(result.jobId)?.state).toBe('refused');
    expectNothingLeftFor(sha256Of(path));
    await pingStillServes();
  });

  it('an artifact whose bytes do not hash to the signed sha256', async () => {
    const claimed = model(150_000, 'claimed.onnx');
    const delivered = model(150_000, 'delivered.onnx');
    const sha = sha256Of(claimed);
    const { job, manifest } = signedJobFor({ path: claimed, deviceId: 'dev', action: 'profile', chunkSize: 32 * 1024, key: key() });
    op.serve(sha, delivered, 32 * 1024);
    await op.publish(op.topics.manifest(sha), encodeMessage('manifest', manifest), true);
    await op.publish(op.topics.device('dev', 'jobs'), encodeMessage('jobs', job));
    const report = await op.report(job.jobId);
    expect(report.state).toBe('failed');
    expect(report.error?.code).toBe('ARTIFACT_INVALID');
    expect(report.error?.message).toContain(`the manifest and job say ${sha}`);
    expectNothingLeftFor(sha);
    expectNothingLeftFor(sha256Of(delivered));
    await pingStillServes();
  });

  it('an artifact over limits.maxArtifactBytes (refused before a byte is written)', async () => {
    const path = model(LIMIT + 1, 'too-big.onnx');
    const result = await pushJob({
      modelPath: path, target: { device: 'dev' }, action: 'profile', broker: { url: agent.brokerUrl }, topicPrefix: 'edgetune/v1', keyPath: fleet.privateKey,
      wait: true, timeoutMs: 20_000, chunkSizeBytes: 65536, operatorDataDir: join(fleet.dir, 'op'), preflight: false, log: testLogger('push'),
    });
    const report = result.reports[0];
    expect(report?.error?.code).toBe('LIMIT_EXCEEDED');
    expect(report?.error?.message).toContain(`over limits.maxArtifactBytes ${LIMIT}`);
    expect(result.chunksSent).toBe(0);
    expectNothingLeftFor(sha256Of(path));
    await pingStillServes();
  });

  it('malformed job JSON', async () => {
    const before = agent.store.listReports().length;
    await op.publish(op.topics.device('dev', 'jobs'), '{"jobId":"job-garbled","action":"deploy","target":');
    const report = await op.report('job-garbled');
    expect(report.state).toBe('failed');
    expect(report.error?.code).toBe('JOB_INVALID');
    expect(report.error?.message).toContain('not valid JSON');
    expect(agent.store.listReports()).toHaveLength(before + 1);
    await op.publish(op.topics.device('dev', 'jobs'), '[1,2,3]');
    await pingStillServes();
    expect(agent.store.listReports().filter((r) => r.jobId.startsWith('invalid-'))).toHaveLength(1);
  });

  it('a replayed job runs once', async () => {
    const signed = pingJob('dev', key());
    await op.publish(op.topics.device('dev', 'jobs'), encodeMessage('jobs', signed));
    await op.report(signed.jobId);
    await op.publish(op.topics.device('dev', 'jobs'), encodeMessage('jobs', signed));
    await pingStillServes();
    expect(agent.store.listReports(signed.jobId)).toHaveLength(1);
  });

  it('a correctly signed job issued before the replay window (a captured job re-sent under a fresh jobId store)', async () => {
    // Signed 8 days ago with a far expiry: only the replay window (default 7 days, limits.jobReplayWindowSeconds) stops it.
    const issuedAt = new Date(Date.now() - 8 * 24 * 3600_000).toISOString();
    const old = signJob({ ...pingJob('dev', null), issuedAt, expiresAt: new Date(Date.now() + 24 * 3600_000).toISOString() }, key());
    await op.publish(op.topics.device('dev', 'jobs'), encodeMessage('jobs', old));
    const report = await op.report(old.jobId);
    expect(report.state).toBe('failed');
    expect(report.error?.code).toBe('JOB_INVALID');
    expect(report.error?.message).toMatch(/outside the replay window of 604800 s/);
    expect(agent.store.getJob(old.jobId)?.state).toBe('refused');
    await pingStillServes();
  });

  it('a model that breaks the profiling child yields a failed report and the agent keeps serving', async () => {
    const path = model(300_000, 'garbage.onnx');
    const result = await pushJob({
      modelPath: path, target: { device: 'dev' }, action: 'profile', broker: { url: agent.brokerUrl }, topicPrefix: 'edgetune/v1', keyPath: fleet.privateKey,
      wait: true, timeoutMs: 60_000, chunkSizeBytes: 65536, operatorDataDir: join(fleet.dir, 'op'), jobOptions: { iterations: 2, energy: 'off' }, preflight: false, log: testLogger('push'),
    });
    const report = result.reports[0];
    expect(report?.state).toBe('failed');
    expect(report?.error?.code).toMatch(/^(MODEL_INVALID|CHILD_CRASHED|RUNTIME_FAILED)$/);
    expect(agent.store.getJob(result.jobId)?.state).toBe('failed');
    await pingStillServes();
  });
});
