import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { FleetInbox } from '../../../src/operator/fleet-inbox.js';
import { connectOperator } from '../../../src/operator/operator-link.js';
import { pushJob } from '../../../src/operator/push-job.js';
import type { ResyncResult } from '../../../src/operator/resync-reports.js';
import { OperatorStore } from '../../../src/store/operator-store.js';
import { encodeMessage } from '../../../src/transport/messages.js';
import type { MqttConnection } from '../../../src/transport/mqtt-connection.js';
import { parsePrivateKey } from '../../../src/transport/signature.js';
import { Topics } from '../../../src/transport/topics.js';
import { agentConfig, BROKER_KINDS, fleetDir, pingJob, runCli, startAgent, startTestBroker, testLogger, waitFor, type TestBroker } from './fleet-harness.js';

/**
 * Reports a broker acknowledged (PUBACK) and then lost are recovered end to end: an operator collector with a
 * persistent session is away while the agent publishes 3 reports, the broker acknowledges them and queues them for
 * the collector, then restarts without persistence; the agent's outbox says sent, the operator never gets them.
 * `devices` shows the hole (the newest reports: only the heartbeat's lastReportSeq reveals it), `resync` (the real
 * CLI, after `npm run build`) recovers each exactly once, byte-identical.
 */
describe.each(BROKER_KINDS)('resync after a broker (%s) lost acknowledged reports', (kind) => {
  const fleet = fleetDir();
  const topics = new Topics('edgetune/v1');
  const opDir = join(fleet.dir, 'operator');
  const key = parsePrivateKey(readFileSync(fleet.privateKey), fleet.privateKey);
  let broker: TestBroker;
  let agent: Agent;
  let store: OperatorStore;
  let collector: MqttConnection | null = null;
  let lostIds: string[] = [];

  /** The operator's report collector, with a persistent session: the broker keeps its reports while it is away. */
  async function connectCollector(): Promise<void> {
    const inbox = new FleetInbox(store, topics, testLogger('collector'));
    collector = await connectOperator(
      { url: broker.url, sessionName: 'collector' },
      (m) => {
        const parsed = topics.parse(m.topic);
        if (parsed) inbox.handle(parsed, m.payload);
      },
      testLogger('collector'),
    );
    await collector.subscribe([topics.allDevices('reports')], 1);
  }

  function operatorSeqs(): number[] {
    return store.listReports({ deviceId: 'dev' }).map((r) => r.seq).sort((a, b) => a - b);
  }

  async function resync(extra: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return runCli(['resync', '--broker', broker.url, '--key', fleet.privateKey, '--data-dir', opDir, '--timeout-s', '30', '--settle-ms', '1000', ...extra]);
  }

  beforeAll(async () => {
    broker = await startTestBroker(kind, fleet.dir);
    store = new OperatorStore(join(opDir, 'operator.db'));
    agent = await startAgent(agentConfig({ dir: fleet.dir, deviceId: 'dev', brokerUrl: broker.url, publicKey: fleet.publicKey }));
    await connectCollector();
  });
  afterAll(async () => {
    await collector?.stop();
    await agent?.stop();
    await broker?.stop();
    store?.close();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  /** A signed job to 'dev', waiting for its report. */
  const pushAndWait = (action: 'ping' | 'resend-reports', jobOptions?: Record<string, unknown>) =>
    pushJob({
      target: { device: 'dev' },
      action,
      broker: { url: broker.url },
      topicPrefix: 'edgetune/v1',
      keyPath: fleet.privateKey,
      wait: true,
      timeoutMs: 30_000,
      chunkSizeBytes: 65536,
      operatorDataDir: opDir,
      ...(jobOptions ? { jobOptions } : {}),
      log: testLogger('push'),
    });

  it('loses 3 acknowledged reports in a broker restart without persistence', async () => {
    // One report reaches the operator first: the store has seq 1.
    const first = await pushAndWait('ping');
    expect(first.reports[0]?.seq).toBe(1);
    await waitFor('seq 1 at the collector too', () => operatorSeqs().length === 1, 10_000);

    // The collector goes away; its session stays at the broker and collects the next reports.
    await collector?.stop();
    collector = null;
    const jobs = [pingJob('dev', key), pingJob('dev', key), pingJob('dev', key)];
    const publisher = await connectOperator({ url: broker.url }, () => undefined, testLogger('publisher'));
    for (const job of jobs) await publisher.publish(topics.device('dev', 'jobs'), encodeMessage('jobs', job), { qos: 1 });
    await publisher.stop();
    await waitFor('three reports committed and acknowledged by the broker', () => jobs.every((j) => agent.store.listReports(j.jobId).length === 1) && agent.store.pendingOutboxCount() === 0, 30_000);
    const lost = jobs.map((j) => agent.store.listReports(j.jobId)[0] as { reportId: string; seq: number });
    expect(lost.map((r) => r.seq).sort()).toEqual([2, 3, 4]);
    lostIds = lost.map((r) => r.reportId);
    const outboxStates = agent.store.db.prepare(`SELECT state FROM outbox WHERE id IN (${lostIds.map(() => '?').join(',')})`).all(...lostIds) as Array<{ state: string }>;
    expect(outboxStates.map((r) => r.state)).toEqual(['sent', 'sent', 'sent']);

    // The broker restarts without persistence: the queued reports are gone with it.
    await broker.stop();
    await waitFor('the agent saw the broker go', () => !agent.connected, 15_000);
    await broker.start();
    await waitFor('the agent reconnected', () => agent.connected, 30_000);
    await connectCollector();
    // The retained heartbeat the agent publishes on connect names its last report seq.
    const beat = await new Promise<{ lastReportSeq?: number }>((resolve, reject) => {
      let watcher: MqttConnection | null = null;
      const timer = setTimeout(() => reject(new Error('no heartbeat with lastReportSeq 4')), 30_000);
      void connectOperator(
        { url: broker.url },
        (m) => {
          const b = JSON.parse(m.payload.toString()) as { lastReportSeq?: number };
          if (b.lastReportSeq === 4) {
            clearTimeout(timer);
            void watcher?.stop();
            resolve(b);
          }
        },
        testLogger('watch'),
      ).then(async (c) => {
        watcher = c;
        await c.subscribe([topics.device('dev', 'heartbeat')], 0);
      }, reject);
    });
    expect(beat.lastReportSeq).toBe(4);
    // The collector is back and subscribed, the agent online with nothing pending: the three reports are gone.
    expect(operatorSeqs()).toEqual([1]);
    expect(agent.store.pendingOutboxCount()).toBe(0);
  });

  it('devices shows the missing reports, from the heartbeat although they are the newest', async () => {
    const r = await runCli(['devices', '--broker', broker.url, '--data-dir', opDir, '--settle-ms', '1000', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const dev = (JSON.parse(r.stdout) as { devices: Array<{ deviceId: string; missingReports: number; missingReportSeqs: number[][]; lastReportSeq: number }> }).devices.find((d) => d.deviceId === 'dev');
    expect(dev).toMatchObject({ missingReports: 3, missingReportSeqs: [[2, 4]], lastReportSeq: 4 });
    const text = await runCli(['devices', '--broker', broker.url, '--data-dir', opDir, '--settle-ms', '1000']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/missing reports/);
    expect(text.stdout).toMatch(/3 report\(s\) missing from this operator store/);
  });

  it('resync (the CLI) recovers every lost report exactly once, byte-identical; the seq is then gap-free', async () => {
    const r = await resync(['--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as ResyncResult;
    expect(out.jobsPushed).toBe(1);
    expect(out.recoveredCount).toBe(3);
    expect(out.stillMissingCount).toBe(0);
    const dev = out.devices.find((d) => d.deviceId === 'dev');
    expect(dev).toMatchObject({ missingBefore: [[2, 4]], recovered: [[2, 4]], stillMissing: [], notStoredOnDevice: [] });
    expect(dev?.jobs).toHaveLength(1);
    expect(dev?.jobs[0]).toMatchObject({ fromSeq: 2, toSeq: 4, outcome: 'ok', resentCount: 3, notStored: [], lastReportSeq: 4 });

    // The recovered reports are the agent's own: same reportIds, same bytes, each once.
    const agentReports = new Map(agent.store.listReports().map((x) => [x.reportId, x]));
    const atOperator = store.listReports({ deviceId: 'dev' });
    for (const id of lostIds) {
      const rows = atOperator.filter((x) => x.reportId === id);
      expect(rows).toHaveLength(1);
      expect(rows[0]?.payload).toBe(agentReports.get(id)?.payload);
    }
    // Every seq once, 1..n with no gap (n includes the resync job's own report).
    const seqs = operatorSeqs();
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(seqs.length).toBe(agent.store.lastReportSeq());
    expect(new Set(atOperator.map((x) => x.reportId)).size).toBe(atOperator.length);
    const resendJob = agent.store.jobsInStates(['done']).filter((j) => j.action === 'resend-reports');
    expect(resendJob).toHaveLength(1);
  });

  it('a second resync finds nothing missing and pushes no job', async () => {
    const jobsBefore = agent.store.jobsInStates(['waiting', 'queued', 'running', 'done', 'failed', 'refused']).length;
    const r = await resync();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^dev: nothing missing$/m);
    expect(r.stdout).toMatch(/0 job\(s\) pushed, 0 report\(s\) recovered, 0 still missing/);
    expect(agent.store.jobsInStates(['waiting', 'queued', 'running', 'done', 'failed', 'refused']).length).toBe(jobsBefore);
  });

  it('a range the device never had is stated as not stored, nothing invented', async () => {
    const last = agent.store.lastReportSeq();
    const before = operatorSeqs();
    const pushed = await pushAndWait('resend-reports', { fromSeq: last + 10, toSeq: last + 12 });
    const report = pushed.reports[0] as unknown as { state: string; seq: number; resend: Record<string, unknown> };
    expect(report.state).toBe('ok');
    expect(report.resend).toEqual({ fromSeq: last + 10, toSeq: last + 12, lastReportSeq: last, resentCount: 0, resent: [], notStoredCount: 3, notStored: [[last + 10, last + 12]] });
    expect(report.seq).toBe(last + 1);
    expect(operatorSeqs()).toEqual([...before, last + 1]);
  });

  it('a report the device no longer has stays missing, exit 1 with the device saying so', async () => {
    // The device's store lost seq 3 (e.g. restored from an old backup), and so did the operator's.
    const lostRow = agent.store.listReports().find((x) => x.seq === 3) as { reportId: string };
    agent.store.db.prepare('DELETE FROM reports WHERE seq = 3').run();
    agent.store.db.prepare('DELETE FROM outbox WHERE id = ?').run(lostRow.reportId);
    store.db.prepare(`DELETE FROM reports WHERE device_id = 'dev' AND seq = 3`).run();
    const r = await resync(['--device', 'dev']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
    expect(r.stdout).toMatch(/dev: 1 missing \(seq 3\); recovered 0; still missing 1 \(seq 3\); the device says it does not have seq 3/);
    expect(operatorSeqs().includes(3)).toBe(false);
  });

  it('bad input is a usage error (exit 2)', async () => {
    const bad = await runCli(['resync', '--broker', broker.url, '--device', 'no/slash', '--data-dir', opDir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--device 'no\/slash' must match/);
    const timeout = await runCli(['resync', '--broker', broker.url, '--timeout-s', '0', '--data-dir', opDir]);
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toMatch(/--timeout-s 0 must be a positive number/);
    const noKey = await runCli(['resync', '--broker', broker.url, '--key', join(fleet.dir, 'missing.key'), '--data-dir', opDir]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/--key .*missing\.key cannot be read/);
  });
});
