import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, MNIST_MLP, runCli, spawnAgentProcess, waitFor } from './fleet-harness.js';

/** The whole loop through the command line, as a user runs it: keygen, start (embedded broker), push --wait, devices, results. */
describe('edgetune CLI: keygen → start → push --wait → devices → results', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-cli-'));
  let port: number;
  let broker: string;
  let agent: ReturnType<typeof spawnAgentProcess> | null = null;
  const opDir = join(dir, 'operator');

  beforeAll(async () => {
    port = await freePort();
    broker = `mqtt://127.0.0.1:${port}`;
  });
  afterAll(() => {
    agent?.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  async function devices(): Promise<Array<{ deviceId: string; state: string; profile: string | null; activeModel: { method?: string } | null }>> {
    const r = await runCli(['devices', '--broker', broker, '--data-dir', opDir, '--settle-ms', '500', '--json']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { devices: [] }).devices;
  }

  it('makes a key pair and refuses to overwrite it', async () => {
    const r = await runCli(['keygen', '--out', join(dir, 'keys'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { privateKey: string; publicKey: string; keyId: string };
    expect(out.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(statSync(out.privateKey).mode & 0o777).toBe(0o600);
    const again = await runCli(['keygen', '--out', join(dir, 'keys')]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('refusing to overwrite');
  });

  it('refuses a bad config with every problem listed and exit code 2', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ deviceId: 'no spaces', broker: { url: 'ftp://x' }, trustedKeys: [] }));
    const r = await runCli(['start', '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[CONFIG_INVALID]');
    expect(r.stderr).toContain('deviceId');
    expect(r.stderr).toContain('broker.url');
    expect(r.stderr).toContain('trustedKeys');
  });

  it('deploys the fixture model to an agent on its embedded broker and prints the report', async () => {
    const config = join(dir, 'agent.config.json');
    writeFileSync(
      config,
      JSON.stringify({ deviceId: 'cli-dev', groups: ['lab'], broker: { url: 'embedded', port }, dataDir: './agent-data', trustedKeys: ['./keys/operator.pub'], schedules: { heartbeat: '* * * * *' } }),
    );
    agent = spawnAgentProcess(config);
    await waitFor('device online', async () => (await devices()).find((d) => d.deviceId === 'cli-dev' && d.state === 'online'), 60_000, 300);

    const r = await runCli([
      'push', MNIST_MLP, '--device', 'cli-dev', '--action', 'deploy', '--key', join(dir, 'keys/operator.key'), '--wait', '--json',
      '--broker', broker, '--data-dir', opDir, '--timeout', '240', '--option', 'iterations=5', '--option', 'energy=off',
    ]);
    expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(0);
    const report = JSON.parse(r.stdout) as Record<string, any>;
    expect(report.error, JSON.stringify(report.error)).toBeNull();
    expect(report).toMatchObject({ deviceId: 'cli-dev', action: 'deploy', state: 'ok', activated: true });
    expect(typeof report.plan.precision).toBe('string');
    expect(report.compress.output.sha256).toBe(report.variant.sha256);
    expect(report.profile.model.sha256).toBe(report.variant.sha256);
    expect(report.profile.latencyMs.p50).toBeGreaterThan(0);
    expect(report.variant.role).toBe('live');
    expect(report.source.method).toBe('original');

    const listed = await devices();
    const dev = listed.find((d) => d.deviceId === 'cli-dev');
    expect(dev?.state).toBe('online');
    expect(dev?.activeModel?.method).toBe(report.variant.method);
    expect(typeof dev?.profile).toBe('string');

    // the operator can take broker and topic settings from the agent's own config file
    const viaConfig = await runCli(['devices', '--config', config, '--data-dir', join(dir, 'op-config'), '--settle-ms', '300', '--json']);
    expect(viaConfig.code, viaConfig.stderr).toBe(0);
    expect((JSON.parse(viaConfig.stdout) as { devices: Array<{ deviceId: string }> }).devices.map((d) => d.deviceId)).toEqual(['cli-dev']);

    const results = await runCli(['results', '--data-dir', opDir, '--json']);
    expect(results.code, results.stderr).toBe(0);
    const parsed = JSON.parse(results.stdout) as { reports: Array<{ reportId: string }>; comparison: Array<{ rows: Array<{ deviceId: string; latencyMs: { p50: number } }> }> };
    expect(parsed.reports.map((x) => x.reportId)).toContain(report.reportId);
    expect(parsed.comparison[0]?.rows[0]?.latencyMs.p50).toBeCloseTo(report.profile.latencyMs.p50, 9);
    const table = await runCli(['results', '--data-dir', opDir]);
    expect(table.stdout).toContain('cli-dev');
  });

  it('refuses bad push arguments with exit code 2 and no output file', async () => {
    const both = await runCli(['push', MNIST_MLP, '--device', 'a', '--group', 'b', '--broker', broker, '--data-dir', join(dir, 'op2')]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('exactly one of --device');
    const missing = await runCli(['push', join(dir, 'nope.onnx'), '--device', 'cli-dev', '--broker', broker, '--data-dir', join(dir, 'op2'), '--json']);
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout).error.code).toBe('USAGE');
    expect(existsSync(join(dir, 'op2')) ? readdirSync(join(dir, 'op2')) : []).toEqual([]);
  });

  it('stops cleanly on SIGTERM with exit code 0', async () => {
    const a = agent;
    if (!a) throw new Error('agent not started');
    a.child.kill('SIGTERM');
    const code = await new Promise((r) => a.child.once('exit', (c) => r(c)));
    agent = null;
    expect(code, a.output()).toBe(0);
  });
});
