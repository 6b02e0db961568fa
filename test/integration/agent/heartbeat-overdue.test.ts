/**
 * A device that stops without its Last Will reaching the operator still reads "online" from its retained status.
 * Its heartbeat says when the next one is due (`nextAt`), so `devices` flags it once that is overdue. Here the
 * agent is a real `edgetune start` process, frozen with SIGSTOP: its TCP connection stays up, so Mosquitto keeps it
 * online (keepalive 60 s) while the heartbeats stop — as a hung device, or one cut off along with a NATS node.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEARTBEAT_GRACE_S, listDevices, type DeviceSummary } from '../../../src/operator/list-devices.js';
import { agentConfigObject, fleetDir, HAVE_MOSQUITTO, runCli, spawnAgentProcess, startTestBroker, testLogger, waitFor, type TestBroker } from './fleet-harness.js';

describe.skipIf(!HAVE_MOSQUITTO)('devices flags an online device whose heartbeat is overdue (agent frozen, connection up)', () => {
  const fleet = fleetDir();
  let broker: TestBroker;
  let agent: ReturnType<typeof spawnAgentProcess> | null = null;

  beforeAll(async () => {
    broker = await startTestBroker('mosquitto', fleet.dir);
  });
  afterAll(async () => {
    agent?.child.kill('SIGCONT');
    agent?.child.kill('SIGKILL');
    await broker?.stop();
  });

  const device = async (): Promise<DeviceSummary | null> => {
    const list = await listDevices({ broker: { url: broker.url }, topicPrefix: 'edgetune/v1', operatorDataDir: join(fleet.dir, 'operator'), settleMs: 300, log: testLogger('devices') });
    return list.find((d) => d.deviceId === 'frozen') ?? null;
  };

  it('not flagged while it beats; flagged while frozen (still online); cleared when it beats again', async () => {
    const config = agentConfigObject({
      dir: fleet.dir,
      deviceId: 'frozen',
      brokerUrl: broker.url,
      publicKey: fleet.publicKey,
      extra: { broker: { keepaliveSeconds: 60 }, schedules: { heartbeat: '* * * * * *', reprofile: null, cleanup: null } },
    });
    const configPath = join(fleet.dir, 'frozen.json');
    writeFileSync(configPath, JSON.stringify(config));
    agent = spawnAgentProcess(configPath);
    const beating = await waitFor('a heartbeat with nextAt', async () => {
      const d = await device();
      return d && (d.heartbeat as { nextAt?: string } | null)?.nextAt ? d : null;
    }, 30_000, 300);
    expect(beating.state).toBe('online');
    const beat = beating.heartbeat as { at: string; nextAt: string };
    expect(Date.parse(beat.nextAt) - Date.parse(beat.at)).toBeGreaterThan(0);
    expect(Date.parse(beat.nextAt) - Date.parse(beat.at)).toBeLessThanOrEqual(1000);
    expect(beating.heartbeatOverdueSeconds).toBeNull();

    agent.child.kill('SIGSTOP');
    // the grace is max(one period, 5 s) past nextAt
    const silent = await waitFor('the heartbeat flagged overdue', async () => {
      const d = await device();
      return d && d.heartbeatOverdueSeconds !== null ? d : null;
    }, 30_000, 500);
    expect(silent.state).toBe('online');
    expect(silent.heartbeatOverdueSeconds).toBeGreaterThanOrEqual(HEARTBEAT_GRACE_S);
    const cli = await runCli(['devices', '--broker', broker.url, '--data-dir', join(fleet.dir, 'operator-cli'), '--settle-ms', '300']);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/frozen\s+online, heartbeat \d+s overdue/);
    expect(cli.stdout).toContain('1 device(s) online by their status but silent past their heartbeat schedule');

    agent.child.kill('SIGCONT');
    const back = await waitFor('the flag cleared by the next heartbeat', async () => {
      const d = await device();
      return d && d.heartbeatOverdueSeconds === null ? d : null;
    }, 30_000, 300);
    expect(back.state).toBe('online');
  }, 120_000);
});
