/**
 * Issue 16: the agent itself, emulated as a Pi 5, on Mosquitto: its hello says emulated, it takes a signed deploy
 * pushed from x86, compresses, profiles (in its emulated children) and reports — the report says emulated too.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fleetDir, HAVE_MOSQUITTO, MNIST_MLP, startTestBroker, waitFor, type TestBroker } from '../integration/agent/fleet-harness.js';
import { jsonOf, laneStatus, runX86 } from './lane.js';

const lane = laneStatus();
if (lane.ready && !HAVE_MOSQUITTO) process.stderr.write('arm64 agent test skipped: no /usr/sbin/mosquitto (Debian mosquitto)\n');

describe.skipIf(!lane.ready || !HAVE_MOSQUITTO)('the agent, emulated as a Pi 5, on Mosquitto', () => {
  const fleet = fleetDir();
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-arm64-agent-'));
  const opDir = join(dir, 'operator');
  let broker: TestBroker | null = null;
  let agent: ChildProcess | null = null;
  let agentLog = '';

  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      const exited = new Promise<void>((resolve) => agent!.once('exit', () => resolve()));
      agent.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (agent.exitCode === null) agent.kill('SIGKILL');
    }
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  it('says hello emulated, deploys a signed push and reports', async () => {
    broker = await startTestBroker('mosquitto', fleet.dir);
    const config = join(dir, 'agent.config.json');
    writeFileSync(config, JSON.stringify({ deviceId: 'arm64-pi5', groups: ['arm64'], broker: { url: broker.url }, dataDir: join(dir, 'agent-data'), trustedKeys: [fleet.publicKey] }));
    agent = spawn('bash', ['scripts/arm64/run', '--board', 'pi5', '--', 'start', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    agent.stderr?.on('data', (b: Buffer) => (agentLog = (agentLog + b.toString()).slice(-20_000)));

    const operator = ['--broker', broker.url, '--data-dir', opDir];
    type Device = { deviceId: string; state: string; profile: string | null; emulated: boolean | null };
    const device = await waitFor(
      'the emulated agent online',
      async () => {
        if (agent?.exitCode !== null) throw new Error(`the emulated agent exited ${agent?.exitCode}: ${agentLog.slice(-2000)}`);
        const r = await runX86(['devices', ...operator, '--settle-ms', '500', '--json']);
        if (r.code !== 0) return null;
        return (JSON.parse(r.stdout) as { devices: Device[] }).devices.find((d) => d.deviceId === 'arm64-pi5' && d.state === 'online' && d.profile !== null) ?? null;
      },
      300_000,
      2_000,
    );
    expect(device.profile).toBe('pi5');
    expect(device.emulated).toBe(true);

    const push = await runX86(
      ['push', MNIST_MLP, '--device', 'arm64-pi5', '--action', 'deploy', '--key', fleet.privateKey, '--wait', '--json', ...operator, '--timeout', '1500', '--option', 'iterations=3', '--option', 'energy=off'],
      30 * 60_000,
    );
    const report = jsonOf<Record<string, any>>(push, `push --wait (agent log: ${agentLog.slice(-1500)})`);
    writeFileSync(join(process.cwd(), '.cache/arm64/agent-report.json'), `${JSON.stringify(report, null, 2)}\n`);
    expect(report.error, JSON.stringify(report.error)).toBeNull();
    expect(report).toMatchObject({ deviceId: 'arm64-pi5', action: 'deploy', state: 'ok', activated: true });
    expect(report.plan.profile).toBe('pi5');
    expect(report.compress.output.sha256).toBe(report.variant.sha256);
    expect(report.profile.model.sha256).toBe(report.variant.sha256);
    expect(report.profile.emulated).toBe(true);
    expect(report.profile.emulation.emulator).toBe('qemu-aarch64');
  });
});
