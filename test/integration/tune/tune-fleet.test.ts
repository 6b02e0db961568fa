/** The `tune` job action end to end: operator CLI → embedded broker → agent process → tune child → report. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, MNIST_MLP, REPO, runCli, spawnAgentProcess, waitFor } from '../agent/fleet-harness.js';

const TEST = join(REPO, 'test/fixtures/data/mnist-test-flat');

describe('push --action tune: the device tunes, keeps the chosen variant and reports the front', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-tune-fleet-'));
  const opDir = join(dir, 'operator');
  let broker: string;
  let agent: ReturnType<typeof spawnAgentProcess> | null = null;

  beforeAll(async () => {
    const port = await freePort();
    broker = `mqtt://127.0.0.1:${port}`;
    const keys = await runCli(['keygen', '--out', join(dir, 'keys'), '--json']);
    expect(keys.code, keys.stderr).toBe(0);
    const config = join(dir, 'agent.config.json');
    writeFileSync(config, JSON.stringify({ deviceId: 'tune-dev', broker: { url: 'embedded', port }, dataDir: './agent-data', trustedKeys: ['./keys/operator.pub'] }));
    agent = spawnAgentProcess(config);
    await waitFor(
      'device online',
      async () => {
        const r = await runCli(['devices', '--broker', broker, '--data-dir', opDir, '--settle-ms', '300', '--json']);
        return r.code === 0 && (JSON.parse(r.stdout) as { devices: Array<{ deviceId: string; state: string }> }).devices.some((d) => d.deviceId === 'tune-dev' && d.state === 'online');
      },
      30_000,
      300,
    );
  }, 60_000);

  afterAll(() => {
    agent?.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('tunes with activate: the chosen variant goes live after its health check', async () => {
    const r = await runCli([
      'push', MNIST_MLP, '--device', 'tune-dev', '--action', 'tune', '--data', TEST, '--key', join(dir, 'keys/operator.key'), '--wait', '--json',
      '--broker', broker, '--data-dir', opDir, '--timeout', '240',
      '--option', 'candidates=int8-dyn,int4', '--option', 'iterations=5', '--option', 'warmup=1', '--option', 'energy=off',
      '--option', 'maxAccuracyDrop=1', '--option', 'activate=true',
    ]);
    expect(r.code, `${r.stderr}\n${r.stdout}\n${agent?.output() ?? ''}`).toBe(0);
    const report = JSON.parse(r.stdout) as Record<string, any>;
    expect(report.error, JSON.stringify(report.error)).toBeNull();
    expect(report).toMatchObject({ deviceId: 'tune-dev', action: 'tune', state: 'ok' });
    const tune = report.tune;
    expect(tune.candidates.map((c: { id: string }) => c.id)).toEqual(['fp32', 'int8-dyn', 'int4']);
    expect(tune.constraints.maxAccuracyDropPp).toBe(1);
    expect(tune.chosen).not.toBeNull();
    expect(tune.front).toContain(tune.chosen);
    expect(report.activated).toBe(true);
    expect(report.health.ok).toBe(true);
    expect(report.health.latencyMs).toBeGreaterThan(0);
    const chosen = tune.candidates.find((c: { id: string }) => c.id === tune.chosen);
    expect(report.variant.role).toBe('live');
    if (tune.chosen !== 'fp32') {
      expect(report.variant.method).toBe(`tune:${tune.chosen}`);
      expect(report.variant.sha256).toBe(chosen.sha256);
    }
  }, 300_000);

  it('a bad tune option fails the job with a report naming it; the agent keeps serving', async () => {
    const r = await runCli([
      'push', MNIST_MLP, '--device', 'tune-dev', '--action', 'tune', '--key', join(dir, 'keys/operator.key'), '--wait', '--json',
      '--broker', broker, '--data-dir', opDir, '--timeout', '120', '--option', 'objective=speed',
    ]);
    const report = JSON.parse(r.stdout) as Record<string, any>;
    expect(report.state).toBe('failed');
    expect(report.error.code).toBe('JOB_INVALID');
    expect(report.error.message).toContain('options.objective must be one of latency, energy, size');
    const ping = await runCli(['push', MNIST_MLP, '--device', 'tune-dev', '--action', 'ping', '--key', join(dir, 'keys/operator.key'), '--wait', '--json', '--broker', broker, '--data-dir', opDir, '--timeout', '60']);
    expect(JSON.parse(ping.stdout).state).toBe('ok');
  }, 200_000);
});
