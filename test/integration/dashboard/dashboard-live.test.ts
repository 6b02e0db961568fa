/**
 * The dashboard end to end: a real agent (its own process) on a real broker (Mosquitto when installed, else the
 * embedded aedes), `edgetune dashboard` as the operator runs it (bound to 0.0.0.0, so with a token), and Debian's
 * Chromium driven by playwright-core. The device appears; a push from the page reaches it and its report appears on
 * an open page without a reload; a tune's front is a chart whose hover explains a candidate; a non-ONNX upload is
 * refused with nothing written or sent; requests without the token are refused; killing the agent (its Last Will)
 * shows it offline.
 */
import { cpSync, existsSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { OperatorStore, type OperatorReportRow } from '../../../src/store/operator-store.js';
import { listPushes } from '../../../src/store/operator-store-reads.js';
import { edgetuneVersion } from '../../../src/agent/version.js';
import { agentConfigObject, fleetDir, HAVE_MOSQUITTO, MNIST_MLP, REPO, sha256Of, spawnAgentProcess, startTestBroker, waitFor, type TestBroker } from '../agent/fleet-harness.js';
import { CHROMIUM, launchBrowser, startDashboard, type DashboardProcess } from './dashboard-harness.js';

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`dashboard-live.test.ts: ${CHROMIUM} is absent (apt-get install chromium): the dashboard browser tests are skipped`);

const DEVICE = 'dash-pi';
const MODEL_SHA = sha256Of(MNIST_MLP);
const MNIST_FLAT = join(REPO, 'test/fixtures/data/mnist-test-flat');

describe.skipIf(!haveChromium)('the dashboard in Chromium, live over a real broker and agent', () => {
  const fleet = fleetDir();
  const operatorDir = join(fleet.dir, 'operator');
  let broker: TestBroker;
  let agent: { child: ChildProcess; output: () => string };
  let dashboard: DashboardProcess;
  let browser: { context: BrowserContext; close(): Promise<void> };
  let watcher: Page;
  let pusher: Page;

  const store = <T>(read: (s: OperatorStore) => T): T => {
    const s = new OperatorStore(join(operatorDir, 'operator.db'), { readonly: true });
    try {
      return read(s);
    } finally {
      s.close();
    }
  };

  beforeAll(async () => {
    broker = await startTestBroker(HAVE_MOSQUITTO ? 'mosquitto' : 'aedes', fleet.dir);
    dashboard = await startDashboard(['--data-dir', operatorDir, '--broker', broker.url, '--port', '0', '--host', '0.0.0.0', '--key', fleet.privateKey, '--push-timeout', '120']);
    const configPath = join(fleet.dir, `${DEVICE}.json`);
    writeFileSync(configPath, JSON.stringify(agentConfigObject({ dir: fleet.dir, deviceId: DEVICE, groups: ['kitchen'], brokerUrl: broker.url, publicKey: fleet.publicKey, extra: { broker: { willDelaySeconds: 1 } } })));
    agent = spawnAgentProcess(configPath);
    browser = await launchBrowser();
    watcher = await browser.context.newPage();
    pusher = await browser.context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    if (agent && agent.child.exitCode === null) agent.child.kill('SIGKILL');
    await dashboard?.stop();
    await broker?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  it('says it needs a token when bound beyond loopback, and refuses requests without it or with a tampered one', async () => {
    expect(dashboard.token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(dashboard.stdout()).toMatch(/beyond loopback: every request and the live stream need this token/);
    const none = await fetch(`${dashboard.origin}/api/fleet`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('TOKEN_MISSING');
    const tampered = `${(dashboard.token as string).slice(0, -2)}xx`;
    const bad = await fetch(`${dashboard.origin}/api/fleet`, { headers: { authorization: `Bearer ${tampered}` } });
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('TOKEN_INVALID');
    const stream = await fetch(`${dashboard.origin}/api/events`, { headers: { cookie: `edgetune_dashboard_token=${tampered}` } });
    expect(stream.status).toBe(401);
    const page = await fetch(`${dashboard.origin}/?token=${tampered}`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(page.status).toBe(401);
    expect(await page.text()).toMatch(/token is wrong/);
    const ok = await fetch(`${dashboard.origin}/api/fleet`, { headers: { authorization: `Bearer ${dashboard.token}` } });
    expect(ok.status).toBe(200);
    await waitFor('the refusals in the log', () => /refused GET \/api\/fleet: .*\[TOKEN_INVALID\]/.test(dashboard.stderr()), 5000);
    // the browser page itself, without a token
    const bare = await watcher.goto(`${dashboard.origin}/`);
    expect(bare?.status()).toBe(401);
    expect(await watcher.textContent('body')).toMatch(/needs its token/);
  });

  it('shows the device online with its board, profile and version as soon as its agent connects', async () => {
    await watcher.goto(dashboard.url);
    // the token moved into a cookie and out of the address bar
    expect(new URL(watcher.url()).search).toBe('');
    const row = watcher.locator(`tr[data-device="${DEVICE}"]`);
    await row.locator('[data-state="online"]').waitFor({ timeout: 30_000 });
    // the agent says hello at once, and again with its hardware once its probe (a child process) is done
    const hello = await waitFor('the hello with hw in the store', () => {
      const h = store((s) => s.listDevices().find((d) => d.deviceId === DEVICE)?.hello);
      const parsed = h ? (JSON.parse(h) as { profile: string | null; hw: { board: string | null } | null }) : null;
      return parsed?.hw ? (parsed as { profile: string | null; hw: { board: string | null } }) : null;
    }, 60_000);
    await expect.poll(() => row.textContent()).toContain(`${hello.hw.board ?? '-'} / ${hello.profile ?? '-'}`);
    expect(await row.textContent()).toContain(edgetuneVersion());
    expect(await row.textContent()).toContain('kitchen');
  });

  it('pushes a model from the page, signed on the server; the report appears on an open page without a reload', async () => {
    // the watcher shows the device's page, and marks its window: a reload would lose the mark
    await watcher.click(`a[href="#/device/${DEVICE}"]`);
    await watcher.locator('h1', { hasText: `Device ${DEVICE}` }).waitFor();
    expect(await watcher.locator('tr[data-report]').count()).toBe(0);
    await watcher.evaluate(() => ((globalThis as unknown as { mark: string }).mark = 'no reload'));

    await pusher.goto(dashboard.url.replace(/\?.*$/, '') + '#/push');
    await pusher.locator('#push-form').waitFor();
    await pusher.setInputFiles('input[name=model]', MNIST_MLP);
    await pusher.fill('input[name=targetId]', DEVICE);
    await pusher.selectOption('select[name=action]', 'profile');
    await pusher.fill('textarea[name=options]', 'iterations=5\nwarmup=1\nenergy=off');
    // Once (2026-12-04, a fresh clone) the job ran with the agent's defaults (iterations 100): the options were lost
    // somewhere between this fill and the job. These say where, if it happens again.
    expect(await pusher.inputValue('textarea[name=options]')).toBe('iterations=5\nwarmup=1\nenergy=off');
    await pusher.click('#push-form button[type=submit]');
    expect(await pusher.inputValue('textarea[name=options]')).toBe('iterations=5\nwarmup=1\nenergy=off');
    const run = pusher.locator('[data-push]').first();
    await run.locator('[data-push-device]').first().waitFor({ timeout: 30_000 });
    await pusher.locator('[data-push-state="done"]').waitFor({ timeout: 90_000 });
    expect(await run.textContent()).toMatch(/signed/);
    expect(await run.locator(`[data-push-device="${DEVICE}"]`).textContent()).toMatch(/reported ok/);

    const push = store((s) => listPushes(s)).find((p) => p.artifactSha256 === MODEL_SHA);
    expect(push?.target).toBe(`device:${DEVICE}`);
    const report = await waitFor('the report in the store', () => store((s) => s.listReports({ jobId: push?.jobId as string })[0]));
    const payload = JSON.parse(report.payload) as { profile: { model: { sha256: string }; iterations: number; latencyMs: { p50: number } } };
    expect(payload.profile.model.sha256).toBe(MODEL_SHA);
    if (payload.profile.iterations !== 5) console.log(JSON.stringify(report).slice(0, 3000));
    expect(payload.profile.iterations).toBe(5);

    const row = watcher.locator(`tr[data-report="${report.reportId}"]`);
    await row.waitFor({ timeout: 15_000 });
    expect(await row.locator('td[data-label="p50 ms"]').textContent()).toBe(payload.profile.latencyMs.p50.toFixed(3));
    expect(await row.locator('td[data-label="action"]').textContent()).toBe('profile');
    expect(await watcher.evaluate(() => (globalThis as unknown as { mark?: string }).mark)).toBe('no reload');
    expect(await watcher.locator(`tr[data-job="${push?.jobId}"] [data-state="ok"]`).count()).toBe(1);
  });

  it('keeps the focus, and what is typed, in the Push form when the page re-renders under it', async () => {
    await pusher.click('a[data-nav="push"]');
    const options = pusher.locator('textarea[name=options]');
    await options.fill('');
    await options.focus();
    await pusher.keyboard.type('iterations=');
    // Re-render the same page, as a live event does, and wait until the view is a new one.
    await pusher.evaluate(() => {
      (document.getElementById('main')!.firstElementChild as HTMLElement).dataset.before = 'yes';
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    });
    await pusher.waitForFunction(() => document.querySelector('#main > [data-before]') === null && document.querySelector('#main #push-form') !== null);
    await pusher.keyboard.type('7');
    expect(await options.inputValue()).toBe('iterations=7');
    expect(await pusher.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('options');
    await options.fill('');
  });

  it("shows the model across devices and a tune's front as a chart whose hover names methods, latency, size and accuracy drop", async () => {
    await pusher.click('a[data-nav="push"]');
    await pusher.setInputFiles('input[name=model]', MNIST_MLP);
    await pusher.fill('input[name=targetId]', DEVICE);
    // a dataset the operator put in --data-dir/datasets/ goes with the job: the tune judges accuracy with intervals
    cpSync(MNIST_FLAT, join(operatorDir, 'datasets', 'mnist-flat'), { recursive: true });
    await pusher.click('a[data-nav="fleet"]');
    await pusher.click('a[data-nav="push"]');
    await pusher.locator('#push-dataset option[value="mnist-flat"]').waitFor({ state: 'attached' });
    await pusher.selectOption('select[name=dataset]', 'mnist-flat');
    await pusher.selectOption('select[name=action]', 'tune');
    await pusher.fill('textarea[name=options]', 'candidates=int8-dyn,fp16\nobjective=size\niterations=5\nwarmup=1\nenergy=off\nhealthMaxLatencyMs=10000');
    await pusher.click('#push-form button[type=submit]');
    const pushId = await waitFor('the push id', async () => /push (push-\S+) started/.exec((await pusher.textContent('#push-status')) ?? '')?.[1], 30_000, 100);
    const run = pusher.locator(`[data-push="${pushId}"]`);
    await waitFor('the tune push to finish', async () => (await run.getAttribute('data-push-state')) !== 'running', 100_000, 250);
    expect(await run.getAttribute('data-push-state')).toBe('done');

    await watcher.goto(`${dashboard.origin}/#/model/${MODEL_SHA}`);
    const comparison = watcher.locator('#comparison');
    await comparison.locator(`tr[data-device="${DEVICE}"][data-action="tune"]`).waitFor();
    expect(await comparison.locator(`tr[data-device="${DEVICE}"][data-action="profile"]`).count()).toBe(1);
    const tune = watcher.locator(`[data-tune-device="${DEVICE}"]`);
    const canvas = tune.locator('canvas');
    await canvas.waitFor();
    const box = await canvas.boundingBox();
    expect(box?.width).toBeGreaterThan(100);
    const tip = tune.locator('.chart-tip');
    // nearest-point hover: somewhere over the plot, a candidate's tooltip shows
    await watcher.mouse.move((box?.x ?? 0) + (box?.width ?? 0) / 2, (box?.y ?? 0) + (box?.height ?? 0) / 2);
    await tip.waitFor({ state: 'visible', timeout: 5000 });
    const lines = await tip.locator(':scope > *').allTextContents();
    // the tooltip says what the device reported for that candidate
    const stored = store((s) => s.listReports({ modelSha256: MODEL_SHA }).find((r) => r.action === 'tune'));
    type Candidate = { id: string; methods: string[]; latencyMs: number; sizeBytes: number; accuracyDrop: number; accuracy: { ci: [number, number]; judgedOn: string } };
    const candidates = (JSON.parse(stored?.payload as string) as { tune: { candidates: Candidate[] } }).tune.candidates;
    expect(candidates.map((c) => c.id).sort()).toEqual(['fp16', 'fp32', 'int8-dyn']);
    const shown = candidates.find((c) => (lines[0] ?? '').split(' ')[0] === c.id) as Candidate;
    expect(shown, lines.join(' | ')).toBeDefined();
    expect(lines[1]).toBe(`methods: ${shown.methods.join(' + ')}`);
    expect(lines[2]).toBe(`p50 latency ${shown.latencyMs.toFixed(3)} ms`);
    const mib = shown.sizeBytes / (1024 * 1024);
    expect(lines[3]).toBe(mib >= 1 ? `size ${mib.toFixed(2)} MiB` : `size ${(shown.sizeBytes / 1024).toFixed(1)} KiB`);
    const [lo, hi] = shown.accuracy.ci;
    expect(lines[4]).toBe(`accuracy drop ${shown.accuracyDrop.toFixed(2)} pp [${lo.toFixed(2)}, ${hi.toFixed(2)}], judged on ${shown.accuracy.judgedOn} data`);

    // the chosen candidate, where the page drew it, is marked so in its tooltip
    const chosenAt = (await canvas.getAttribute('data-chosen-at'))?.split(',').map(Number) as [number, number];
    await watcher.mouse.move((box?.x ?? 0) + chosenAt[0], (box?.y ?? 0) + chosenAt[1]);
    // by size, int8-dyn (a quarter of fp32) is the choice whatever the timings on a loaded machine; the health check's
    // latency bound is set loose (healthMaxLatencyMs above: 1.5 × a sub-millisecond p50 tripped on a loaded CI machine)
    const { tune: storedTune, activated } = JSON.parse(stored?.payload as string) as { tune: { chosen: string }; activated: boolean };
    const chosenId = storedTune.chosen;
    expect(chosenId).toBe('int8-dyn');
    expect(activated).toBe(true);
    await expect.poll(() => tip.locator(':scope > *').first().textContent()).toMatch(new RegExp(`^${chosenId.replace(/[+.]/g, '\\$&')} \\(chosen\\)`));

    // the tune made its choice live: the device's new hello says so, and the Fleet page shows the live variant
    const live = await waitFor('the live variant in the hello', () => {
      const h = store((s) => s.listDevices().find((d) => d.deviceId === DEVICE)?.hello);
      return h ? (JSON.parse(h) as { activeModel: { variantId: string; method: string; sourceSha256: string } | null }).activeModel : null;
    });
    expect(live.sourceSha256).toBe(MODEL_SHA);
    await watcher.click('a[data-nav="fleet"]');
    await expect.poll(() => watcher.locator(`tr[data-device="${DEVICE}"] td[data-label="live model"]`).textContent()).toBe(`mnist-mlp.onnx · ${live.method} · ${live.variantId.slice(0, 12)}`);
  });

  it('refuses a push of a file that is not ONNX, in the page, with nothing written or sent', async () => {
    const junk = join(fleet.dir, 'notes.onnx');
    writeFileSync(junk, 'these are notes, not a model\n');
    const pushesBefore = store((s) => listPushes(s)).length;
    const uploadsBefore = readdirSync(join(operatorDir, 'uploads')).length;
    await pusher.click('a[data-nav="push"]');
    await pusher.setInputFiles('input[name=model]', junk);
    await pusher.fill('input[name=targetId]', DEVICE);
    await pusher.selectOption('select[name=action]', 'deploy');
    await pusher.fill('textarea[name=options]', '');
    await pusher.click('#push-form button[type=submit]');
    const notice = pusher.locator('#notice');
    await notice.waitFor({ state: 'visible' });
    expect(await notice.textContent()).toMatch(/notes\.onnx is not an ONNX model.*nothing was sent \[MODEL_INVALID\]/);
    expect(store((s) => listPushes(s)).length).toBe(pushesBefore);
    expect(readdirSync(join(operatorDir, 'uploads')).length).toBe(uploadsBefore);
    expect(dashboard.stderr()).toMatch(/POST \/api\/push: push: notes\.onnx is not an ONNX model/);
  });

  it("shows a report missing from the store, and the page's resync button gets it back from the device", async () => {
    // a report lost on the way (as a broker that acknowledged it and then crashed would lose it): its row goes
    const lost = store((s) => s.listReports({ deviceId: DEVICE }).find((r) => r.seq === 1)) as OperatorReportRow;
    expect(lost).toBeDefined();
    const w = new OperatorStore(join(operatorDir, 'operator.db'));
    w.db.prepare('DELETE FROM reports WHERE report_id = ?').run(lost.reportId);
    w.close();
    await watcher.click('a[data-nav="models"]');
    await watcher.click('a[data-nav="fleet"]');
    const row = watcher.locator(`tr[data-device="${DEVICE}"]`);
    await expect.poll(() => row.locator('td[data-label="missing reports"]').textContent()).toMatch(/^1 resync/);
    await row.locator(`button[data-resync="${DEVICE}"]`).click();
    await expect.poll(() => row.locator('td[data-label="missing reports"]').textContent(), { timeout: 60_000 }).toMatch(/^0 .*1 recovered, 0 still missing/);
    const back = store((s) => s.listReports({ deviceId: DEVICE }).find((r) => r.seq === 1));
    expect(back?.reportId).toBe(lost.reportId);
    expect(back?.payload).toBe(lost.payload);
  });

  it('shows the device offline when its agent dies (the Last Will), without a reload', async () => {
    await watcher.click('a[data-nav="fleet"]');
    const row = watcher.locator(`tr[data-device="${DEVICE}"]`);
    await row.locator('[data-state="online"]').waitFor();
    await watcher.evaluate(() => ((globalThis as unknown as { mark: string }).mark = 'still no reload'));
    const exited = new Promise((r) => agent.child.once('exit', r));
    agent.child.kill('SIGKILL');
    await exited;
    await row.locator('[data-state="offline"]').waitFor({ timeout: 30_000 });
    expect(await watcher.evaluate(() => (globalThis as unknown as { mark?: string }).mark)).toBe('still no reload');
    expect(store((s) => s.listDevices().find((d) => d.deviceId === DEVICE)?.state)).toBe('offline');
  });
});
