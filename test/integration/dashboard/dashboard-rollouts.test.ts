/**
 * The Rollouts pages in Chromium: an operator store holding a rollout written through the real rollout-store API (a
 * real SQLite file, planned by the real planner, reports judged by the real rules; no agents), `edgetune dashboard`
 * over it, and the page showing what `rollout status --json` gives: the list, each stage with its devices and
 * decision, each failed device's reason. The rollout then moves on in another process's connection (as an
 * `edgetune rollout` process writes it) and the open page follows without a reload.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { OperatorStore } from '../../../src/store/operator-store.js';
import { RolloutStore } from '../../../src/store/rollout-store.js';
import { decideStage, judgeReport, planStages, type RolloutCriteria } from '../../../src/operator/rollout/rollout-plan.js';
import { rolloutStatus, type RolloutStatus } from '../../../src/operator/rollout/run-rollout.js';
import { fleetDir, MNIST_MLP, sha256Of, startTestBroker, type TestBroker } from '../agent/fleet-harness.js';
import { CHROMIUM, launchBrowser, startDashboard, type DashboardProcess } from './dashboard-harness.js';

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`dashboard-rollouts.test.ts: ${CHROMIUM} is absent (apt-get install chromium): the dashboard browser tests are skipped`);

const ROLLOUT = 'cams-v2';
const GROUP = 'cams';
const criteria: RolloutCriteria = { stagesPercent: [10, 50, 100], minSuccess: 0.9, abortFailureRate: 0.2, maxLatencyMs: 40 };
const members = Array.from({ length: 10 }, (_, i) => `cam-${i + 1}`);
const offline = ['cam-off'];

/** A deploy report as an agent sends it, with the health check's p50. */
const deployReport = (p50: number): Record<string, unknown> => ({ state: 'ok', activated: true, profile: { latencyMs: { p50 } } });

describe.skipIf(!haveChromium)('the Rollouts pages of the dashboard in Chromium', () => {
  const fleet = fleetDir();
  const operatorDir = join(fleet.dir, 'operator');
  const plan = planStages(ROLLOUT, members, criteria.stagesPercent);
  const [first, second] = plan as [(typeof plan)[0], (typeof plan)[0]];
  let broker: TestBroker;
  let dashboard: DashboardProcess;
  let browser: { context: BrowserContext; close(): Promise<void> };
  let page: Page;

  /** Write to the store as a rollout process does: its own connection, short transactions. */
  const write = (w: (rs: RolloutStore) => void): void => {
    const store = new OperatorStore(join(operatorDir, 'operator.db'));
    try {
      w(new RolloutStore(store.db));
    } finally {
      store.close();
    }
  };

  /** Judge a report with the rollout rules and store the device's outcome. */
  const settle = (rs: RolloutStore, deviceId: string, report: Record<string, unknown>): void => {
    const j = judgeReport(report, criteria);
    rs.setOutcome(ROLLOUT, deviceId, { outcome: j.outcome, reason: j.reason, activated: j.activated, latencyMs: j.latencyMs });
  };

  beforeAll(async () => {
    expect(second.devices.length).toBeGreaterThan(2);
    mkdirSync(operatorDir);
    // stage 1 passed, stage 2 running: its first device over the latency bound, the others not reported yet
    write((rs) => {
      rs.create({
        rolloutId: ROLLOUT,
        group: GROUP,
        action: 'deploy',
        modelPath: MNIST_MLP,
        modelSha256: sha256Of(MNIST_MLP),
        settings: { ...criteria, stageTimeoutS: 600, rollbackOnAbort: true, bakeS: 0, jobOptions: {}, dataDir: null, keyPath: null },
        stages: plan,
        skipped: offline,
      });
      const deadline = new Date(Date.now() + 600_000);
      rs.startStage(ROLLOUT, 1, deadline);
      for (const d of first.devices) {
        rs.setJob(ROLLOUT, d, `job-${d}`);
        settle(rs, d, deployReport(criteria.maxLatencyMs! / 2));
      }
      rs.finishStage(ROLLOUT, 1, 'passed', null);
      rs.startStage(ROLLOUT, 2, deadline);
      for (const d of second.devices) rs.setJob(ROLLOUT, d, `job-${d}`);
      settle(rs, second.devices[0] as string, deployReport(criteria.maxLatencyMs! * 2));
    });
    broker = await startTestBroker('aedes', fleet.dir);
    dashboard = await startDashboard(['--data-dir', operatorDir, '--broker', broker.url, '--port', '0']);
    browser = await launchBrowser();
    page = await browser.context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await dashboard?.stop();
    await broker?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  /** The stage table as the page shows it, against `rollout status --json`'s stages. */
  const expectStages = async (status: RolloutStatus): Promise<void> => {
    const decision: Record<string, string> = { passed: 'advanced', aborted: 'aborted', halted: 'halted' };
    for (const st of status.stages) {
      const row = page.locator(`#rollout-stages tr[data-stage="${st.stage}"]`);
      await expect.poll(() => row.getAttribute('data-stage-state')).toBe(st.state);
      const cell = (label: string) => row.locator(`td[data-label="${label}"]`).textContent();
      expect(await cell('percent')).toBe(`${st.percent}%`);
      expect([await cell('devices'), await cell('succeeded'), await cell('failed'), await cell('pending')]).toEqual([st.devices, st.succeeded, st.failed, st.pending].map(String));
      expect(await cell('decision')).toBe(decision[st.state] ?? '-');
      expect(await cell('reason')).toBe(st.reason ?? '');
    }
  };

  it('lists the rollout with its model, group, action, state and current stage; its page shows each stage and why a device failed', async () => {
    const status = rolloutStatus(operatorDir, ROLLOUT);
    await page.goto(`${dashboard.origin}/#/rollouts`);
    const row = page.locator(`#rollouts tr[data-rollout="${ROLLOUT}"]`);
    await row.waitFor();
    expect(await row.locator('td[data-label="model"]').textContent()).toContain('mnist-mlp.onnx');
    expect(await row.locator('td[data-label="group"]').textContent()).toBe(GROUP);
    expect(await row.locator('td[data-label="action"]').textContent()).toBe('deploy');
    expect(await row.locator('[data-state]').getAttribute('data-state')).toBe('running');
    expect(await row.locator('td[data-label="stage"]').textContent()).toBe(`2 of ${plan.length} (${second.percent}%)`);

    await row.locator('a').click();
    await page.locator('#rollout-stages').waitFor();
    expect(status.stages.map((s) => s.state)).toEqual(['passed', 'running', 'pending']);
    await expectStages(status);
    const failed = status.devices.filter((d) => d.outcome === 'failed');
    expect(failed.map((d) => d.deviceId)).toEqual([second.devices[0]]);
    for (const d of status.devices) {
      const tr = page.locator(`#rollout-devices tr[data-rollout-device="${d.deviceId}"]`);
      expect(await tr.getAttribute('data-outcome')).toBe(d.outcome);
      expect(await tr.locator('td[data-label="reason"]').textContent()).toBe(d.reason ?? '');
    }
    expect(failed[0]?.reason).toMatch(/latency/);
    expect(await page.locator('#main').textContent()).toContain(offline[0]);
  });

  it('follows the rollout as another process writes it: the stage aborts, rollbacks go out, without a reload', async () => {
    await page.evaluate(() => ((globalThis as unknown as { mark: string }).mark = 'no reload'));
    let reason = '';
    write((rs) => {
      const [, ...rest] = second.devices;
      // one more over the bound, the rest never report before the deadline
      settle(rs, rest[0] as string, deployReport(criteria.maxLatencyMs! * 3));
      for (const d of rest.slice(1)) rs.setOutcome(ROLLOUT, d, { outcome: 'failed', reason: 'no report before the stage deadline', activated: false, latencyMs: null });
      const outcomes = second.devices.map((d) => rs.devices(ROLLOUT).find((x) => x.deviceId === d)?.outcome ?? 'pending');
      const decision = decideStage(outcomes.map((o) => (o === 'skipped' ? 'failed' : o)), { timedOut: true, minSuccess: criteria.minSuccess, abortFailureRate: criteria.abortFailureRate });
      expect(decision.decision).toBe('abort');
      reason = 'reason' in decision ? decision.reason : '';
      rs.finishStage(ROLLOUT, 2, 'aborted', reason);
      rs.setState(ROLLOUT, 'rolling-back', `stage 2: ${reason}`);
      for (const d of [...first.devices, ...second.devices]) if (rs.devices(ROLLOUT).find((x) => x.deviceId === d)?.activated) rs.setRollback(ROLLOUT, d, { jobId: `rb-${d}`, state: 'ok', reason: null });
      rs.setState(ROLLOUT, 'aborted', null);
    });
    const status = rolloutStatus(operatorDir, ROLLOUT);
    await expect.poll(() => page.locator('h1 [data-state]').getAttribute('data-state'), { timeout: 10_000 }).toBe('aborted');
    await expectStages(status);
    const rolledBack = status.devices.filter((d) => d.rollback?.state === 'ok');
    expect(rolledBack.length).toBeGreaterThan(0);
    for (const st of status.stages) {
      const n = rolledBack.filter((d) => d.stage === st.stage).length;
      expect(await page.locator(`#rollout-stages tr[data-stage="${st.stage}"] td[data-label="rolled back"]`).textContent()).toBe(n > 0 ? `${n} rolled back` : '-');
    }
    for (const d of status.devices.filter((x) => x.outcome === 'failed')) {
      expect(await page.locator(`#rollout-devices tr[data-rollout-device="${d.deviceId}"] td[data-label="reason"]`).textContent()).toBe(d.reason);
    }
    expect(await page.locator('#rollout-state').textContent()).toContain(reason);
    expect(await page.evaluate(() => (globalThis as unknown as { mark?: string }).mark)).toBe('no reload');
  });
});
