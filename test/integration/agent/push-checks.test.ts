/**
 * Issue 20, "a newcomer's first hour": what `edgetune push` checks before it sends anything, and what the agent
 * checks again. The command line runs from source (tsx) in a child process, as a user runs it; the agent runs in
 * this process on its embedded broker; an observer on the broker records every job and manifest published.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { connectOperator } from '../../../src/operator/operator-link.js';
import { pushJob } from '../../../src/operator/push-job.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import type { MqttConnection } from '../../../src/transport/mqtt-connection.js';
import { Topics } from '../../../src/transport/topics.js';
import { convNet, info } from '../../unit/profile/profile-test-models.js';
import { agentConfig, fleetDir, MNIST_MLP, REPO, sha256Of, startAgent, testLogger, waitFor } from './fleet-harness.js';

type Report = Record<string, any>;

describe('push checks its input before sending, and the agent checks the options again (embedded broker)', () => {
  const fleet = fleetDir();
  const topics = new Topics('edgetune/v1');
  const entry = join(fleet.dir, 'edgetune-from-source.mjs');
  const symbolic = join(fleet.dir, 'symbolic-hw.onnx');
  let agent: Agent;
  let observer: MqttConnection;
  /** Every job and manifest topic published on the broker since the observer subscribed. */
  const published: string[] = [];

  beforeAll(async () => {
    writeFileSync(entry, `import { main } from ${JSON.stringify(join(REPO, 'src/cli/main.ts'))};\nmain(process.argv.slice(2));\n`);
    // x[N, 3, H, W]: the profiler cannot guess H and W
    const m = convNet();
    m.graph.inputs = [info('x', ['N', 3, 'H', 'W'])];
    writeFileSync(symbolic, encodeModel(m));
    agent = await startAgent(agentConfig({ dir: fleet.dir, deviceId: 'dev', brokerUrl: 'embedded', publicKey: fleet.publicKey, extra: { broker: { port: 0 } } }));
    observer = await connectOperator({ url: agent.brokerUrl }, (m) => void published.push(m.topic), testLogger('observer'));
    await observer.subscribe([topics.allDevices('jobs'), 'edgetune/v1/groups/+/jobs', 'edgetune/v1/artifacts/+/manifest'], 1);
  });
  afterAll(async () => {
    await observer?.stop();
    await agent?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  /** `edgetune ARGS` from source, with this test's broker, key and operator store. */
  function edgetune(args: string[], opts: { onStderr?: (text: string) => void } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const full = [...args, '--broker', agent.brokerUrl, '--key', fleet.privateKey, '--data-dir', join(fleet.dir, 'operator')];
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', entry, ...full], { cwd: REPO, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
        opts.onStderr?.(stderr);
      });
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  /** Nothing new was published and the agent stored no new job. */
  async function expectNothingSent(publishedBefore: number, jobsBefore: number): Promise<void> {
    // a ping through the same broker: once its report is back, anything the push published would have arrived too
    const ping = await pushJob({
      target: { device: 'dev' }, action: 'ping', broker: { url: agent.brokerUrl }, topicPrefix: 'edgetune/v1', keyPath: fleet.privateKey,
      wait: true, timeoutMs: 20_000, chunkSizeBytes: 65536, operatorDataDir: join(fleet.dir, 'op-ping'), log: testLogger('ping'),
    });
    expect(ping.reports[0]?.state).toBe('ok');
    await waitFor('the ping job seen by the observer', () => published.includes(topics.device('dev', 'jobs')) && published.length > publishedBefore);
    expect(published.slice(publishedBefore)).toEqual([topics.device('dev', 'jobs')]);
    expect(agent.store.listReports().length).toBe(jobsBefore + 1);
  }

  it('push refuses an unknown option and a bad value with exit 2 naming each, and sends nothing', async () => {
    const before = published.length;
    const reports = agent.store.listReports().length;
    const r = await edgetune(['push', MNIST_MLP, '--device', 'dev', '--action', 'profile', '--option', 'shape=x=1x3x48x192', '--option', 'iterations=abc', '--wait']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('--option shape=x=1x3x48x192: shape is not a profile option (give input shapes with --shape NAME=DxDxD, repeatable)');
    expect(r.stderr).toContain('--option iterations=abc: profile option iterations must be an integer in 1..1000000');
    expect(r.stderr).toContain('[USAGE]');
    await expectNothingSent(before, reports);
  });

  it('the agent refuses unknown options and bad values too (JOB_INVALID naming them), before any transfer', async () => {
    // as another operator could send it: without push's own checks
    const result = await pushJob({
      modelPath: MNIST_MLP, target: { device: 'dev' }, action: 'profile', broker: { url: agent.brokerUrl }, topicPrefix: 'edgetune/v1', keyPath: fleet.privateKey,
      wait: true, timeoutMs: 60_000, chunkSizeBytes: 65536, operatorDataDir: join(fleet.dir, 'op-raw'), log: testLogger('push'),
      jobOptions: { shape: 'x=1x3x48x192', iterations: 5, energy: 'off', warmup: 'two' }, preflight: false,
    });
    const report = result.reports[0] as Report;
    expect(report.state).toBe('failed');
    expect(report.error.code).toBe('JOB_INVALID');
    expect(report.error.message).toContain('options.shape (did you mean shapes?) is not a profile option');
    expect(report.error.message).toContain('options.warmup must be an integer in 0..100000, got "two"');
    expect(result.chunksSent).toBe(0);
    expect(agent.store.getJob(result.jobId)?.state).toBe('refused');
  });

  it('push refuses a MODEL that is not ONNX with exit 2 naming the file, and sends nothing', async () => {
    const notOnnx = join(fleet.dir, 'weights.onnx');
    writeFileSync(notOnnx, 'PK\u0003\u0004 this is a zip of a PyTorch checkpoint, not an ONNX model');
    const before = published.length;
    const reports = agent.store.listReports().length;
    const r = await edgetune(['push', notOnnx, '--device', 'dev', '--action', 'deploy']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`MODEL ${notOnnx} is not an ONNX model`);
    expect(r.stderr).toContain('[MODEL_INVALID]');
    expect(agent.store.getArtifact(sha256Of(notOnnx))).toBeUndefined();
    await expectNothingSent(before, reports);
  });

  it('push to a device the broker has never seen says so at once (exit 2) and sends nothing', async () => {
    const before = published.length;
    const reports = agent.store.listReports().length;
    const r = await edgetune(['push', MNIST_MLP, '--device', 'pi-typo', '--action', 'profile', '--timeout', '90']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("device 'pi-typo' has never been seen on this broker");
    expect(r.stderr).toContain('`npx edgetune devices`');
    expect(r.stderr).toContain('--queue');
    await expectNothingSent(before, reports);
  });

  it('push --queue waits for a device not seen yet and sends the job when it comes online', async () => {
    let late: Agent | null = null;
    try {
      let waiting = false;
      const run = edgetune(['push', '--device', 'late-dev', '--action', 'ping', '--queue', '--wait', '--option', 'holdMs=10', '--timeout', '120'], {
        onStderr: (text) => (waiting ||= text.includes("device 'late-dev' has not been seen on this broker yet")),
      });
      await waitFor('push waiting for late-dev', () => waiting, 60_000);
      expect(published.filter((t) => t === topics.device('late-dev', 'jobs'))).toEqual([]);
      late = await startAgent(agentConfig({ dir: fleet.dir, deviceId: 'late-dev', brokerUrl: agent.brokerUrl, publicKey: fleet.publicKey }));
      const r = await run;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('queued for a device not seen on this broker before');
      expect(late.store.listReports().map((x) => x.action)).toEqual(['ping']);
    } finally {
      await late?.stop();
    }
  });

  it('the push summary times the transfer and the job apart', async () => {
    const r = await edgetune(['push', MNIST_MLP, '--device', 'dev', '--action', 'profile', '--chunk-size', '16384', '--option', 'iterations=3', '--option', 'warmup=0', '--option', 'energy=off', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/: 1 device\(s\); \d+ chunks \([\d.]+ (KiB|MiB)\) sent in \d+\.\d+ s; job done in \d+\.\d+ s\n/);
  });

  it('push --shape profiles a model with symbolic height and width through the agent', async () => {
    const without = await edgetune(['push', symbolic, '--device', 'dev', '--action', 'profile', '--option', 'iterations=3', '--option', 'energy=off', '--wait', '--json']);
    const failed = JSON.parse(without.stdout) as Report;
    expect(failed.state).toBe('failed');
    expect(failed.error.message).toMatch(/dim 2 is symbolic \('H'\).*--shape x=/);

    const r = await edgetune(['push', symbolic, '--device', 'dev', '--action', 'profile', '--shape', 'x=1x3x48x64', '--option', 'iterations=3', '--option', 'energy=off', '--wait', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.state, JSON.stringify(report.error)).toBe('ok');
    expect(report.profile.inputs).toEqual([{ name: 'x', dataType: 1, shape: ['N', 3, 'H', 'W'], profiledShape: [1, 3, 48, 64] }]);
    const job = agent.store.getJob(report.jobId);
    expect((JSON.parse(job?.payload ?? '{}') as { options: unknown }).options).toEqual({ iterations: 3, energy: 'off', shapes: { x: [1, 3, 48, 64] } });
  });

  it('push --shape reaches tune: its search and its health check profile the symbolic model', async () => {
    const r = await edgetune([
      'push', symbolic, '--device', 'dev', '--action', 'tune', '--shape', 'x=1x3x48x64',
      '--option', 'candidates=fp32', '--option', 'iterations=3', '--option', 'warmup=0', '--option', 'energy=off', '--option', 'healthMaxLatencyMs=60000',
      '--wait', '--json', '--timeout', '300',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.state, JSON.stringify(report.error)).toBe('ok');
    expect(report.tune.chosen).toBe('fp32');
    expect(report.activated).toBe(true);
    expect(report.health).toMatchObject({ ok: true });
  });
});
