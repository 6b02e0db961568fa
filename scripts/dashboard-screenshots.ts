/**
 * The README's dashboard screenshots, from a real running dashboard with real data (`npx tsx
 * scripts/dashboard-screenshots.ts [--out docs/img]`, after `npm run build`): `edgetune broker`, three `edgetune
 * start` agents on this machine, `edgetune dashboard`, real pushes (`edgetune push --wait`: profiles, a tune with the
 * MNIST test set), one agent killed (its Last Will), and one report that went to another operator's store while the
 * dashboard was not running (so the Fleet page shows a gap to resync). Debian's Chromium, driven by playwright-core,
 * takes docs/img/dashboard-{fleet,device,model,push,phone}.png; the Push page's push is made through the page.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { chromium, type Page } from 'playwright-core';

const REPO = join(import.meta.dirname, '..');
const BIN = join(REPO, 'bin/edgetune.js');
const at = process.argv.indexOf('--out');
const OUT = at > 0 && process.argv[at + 1] ? (process.argv[at + 1] as string) : join(REPO, 'docs/img');
const MLP = join(REPO, 'test/fixtures/models/mnist-mlp.onnx');
const CNN = join(REPO, 'test/fixtures/models/mnist-rescnn.onnx');
const MNIST_FLAT = join(REPO, 'test/fixtures/data/mnist-test-flat');
const work = mkdtempSync(join(tmpdir(), 'edgetune-screens-'));
const children: ChildProcess[] = [];

function log(message: string): void {
  process.stderr.write(`dashboard-screenshots: ${message}\n`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: work, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`edgetune ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function start(args: string[]): { child: ChildProcess; out: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-100_000)));
  children.push(child);
  return { child, out: () => out };
}

async function until<T>(what: string, check: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function online(broker: string, dataDir: string): string[] {
  const d = JSON.parse(cli(['devices', '--broker', broker, '--data-dir', dataDir, '--settle-ms', '300', '--json'])) as { devices: Array<{ deviceId: string; state: string }> };
  return d.devices.filter((x) => x.state === 'online').map((x) => x.deviceId);
}

/** Hover the chosen candidate of the chart in `card` (the page notes where it drew it), so its tooltip shows. */
async function hoverChosen(page: Page, card: string): Promise<void> {
  const canvas = page.locator(`${card} canvas`);
  await canvas.scrollIntoViewIfNeeded();
  await page.waitForTimeout(200);
  const box = await canvas.boundingBox();
  const at = await canvas.getAttribute('data-chosen-at');
  if (!box || !at) throw new Error('no chart with a chosen candidate');
  const [x, y] = at.split(',').map(Number) as [number, number];
  await page.mouse.move(box.x + x, box.y + y);
  await page.locator(`${card} .chart-tip`).waitFor({ state: 'visible' });
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  cli(['keygen', '--out', 'keys']);
  const port = await freePort();
  const broker = `mqtt://127.0.0.1:${port}`;
  start(['broker', '--port', String(port)]);
  await until('the broker', async () => new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(true));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
  }), 20_000);
  const devices: Array<{ id: string; groups: string[] }> = [
    { id: 'lab-x86-01', groups: ['lab', 'cams'] },
    { id: 'lab-x86-02', groups: ['lab'] },
    { id: 'bench-x86-03', groups: ['bench'] },
  ];
  const agents = new Map<string, ChildProcess>();
  for (const d of devices) {
    const config = { deviceId: d.id, groups: d.groups, broker: { url: broker, willDelaySeconds: 1 }, dataDir: `./agent-${d.id}`, trustedKeys: ['./keys/operator.pub'], schedules: { heartbeat: '*/5 * * * * *', reprofile: null, cleanup: null } };
    writeFileSync(join(work, `${d.id}.json`), JSON.stringify(config));
    agents.set(d.id, start(['start', '--config', `${d.id}.json`]).child);
  }
  await until('three agents online', () => online(broker, 'probe').length === 3, 120_000);
  log('agents online');
  // a report that only another operator's store gets (the dashboard is not running yet): the Fleet page's gap
  cli(['push', MLP, '--device', 'lab-x86-02', '--action', 'ping', '--key', 'keys/operator.key', '--broker', broker, '--data-dir', 'other-operator', '--wait', '--timeout', '120']);

  const dash = start(['dashboard', '--data-dir', 'operator', '--broker', broker, '--port', '0', '--key', 'keys/operator.key']);
  const url = await until('the dashboard URL', () => /edgetune dashboard: (\S+)/.exec(dash.out())?.[1], 30_000);
  log(`dashboard at ${url}`);
  const push = (args: string[]): void => {
    log(`push ${args.join(' ')}`);
    cli(['push', ...args, '--key', 'keys/operator.key', '--broker', broker, '--data-dir', 'operator', '--wait', '--timeout', '900']);
  };
  push([MLP, '--group', 'lab', '--action', 'profile', '--option', 'iterations=50', '--option', 'energy=auto']);
  push([CNN, '--device', 'lab-x86-01', '--action', 'profile', '--option', 'iterations=50']);
  push([MLP, '--device', 'bench-x86-03', '--action', 'profile', '--option', 'iterations=50']);
  push([MLP, '--group', 'lab', '--action', 'tune', '--data', MNIST_FLAT, '--option', 'candidates=int8-dyn,fp16,int4,prune-0.5,prune-0.5+int8-dyn,lowrank-0.5+int8-dyn', '--option', 'iterations=30']);
  push([MLP, '--device', 'lab-x86-01', '--action', 'profile', '--option', 'iterations=50']);
  agents.get('bench-x86-03')?.kill('SIGKILL');
  log('bench-x86-03 killed (its Last Will says offline)');

  const profile = mkdtempSync(join(tmpdir(), 'edgetune-screens-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
  });
  try {
    const page = await context.newPage();
    await page.goto(url);
    await page.locator('tr[data-device="bench-x86-03"] [data-state="offline"]').waitFor({ timeout: 60_000 });
    await until('the gap of lab-x86-02', async () => /resync/.test((await page.locator('tr[data-device="lab-x86-02"]').textContent()) ?? ''), 60_000);
    await page.screenshot({ path: join(OUT, 'dashboard-fleet.png'), fullPage: true });

    await page.click('a[href="#/device/lab-x86-01"]');
    await page.locator('#reports').waitFor();
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(OUT, 'dashboard-device.png'), fullPage: true });

    // tall enough that the Model page needs no scrolling (the sticky header would land mid-page in a full-page shot)
    await page.setViewportSize({ width: 1280, height: 1150 });
    await page.click('a[data-nav="models"]');
    await page.locator('#models').waitFor();
    await page.click('#models a:text("mnist-mlp.onnx")');
    await page.locator('[data-tune-device="lab-x86-01"] canvas').waitFor();
    await page.waitForTimeout(300);
    await hoverChosen(page, '[data-tune-device="lab-x86-01"]');
    await page.screenshot({ path: join(OUT, 'dashboard-model.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 860 });

    await page.click('a[data-nav="push"]');
    await page.setInputFiles('input[name=model]', CNN);
    await page.check('input[name=targetKind][value=group]');
    await page.fill('input[name=targetId]', 'lab');
    await page.selectOption('select[name=action]', 'profile');
    await page.fill('textarea[name=options]', 'iterations=50');
    await page.click('#push-form button[type=submit]');
    await page.locator('[data-push-state="done"]').waitFor({ timeout: 300_000 });
    await page.screenshot({ path: join(OUT, 'dashboard-push.png'), fullPage: true });

    await page.setViewportSize({ width: 390, height: 844 });
    await page.click('a[data-nav="fleet"]');
    await page.locator('#fleet').waitFor();
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(OUT, 'dashboard-phone.png'), fullPage: false });
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  let gz = 0;
  for (const f of ['index.html', 'app.js', 'app.css']) gz += gzipSync(readFileSync(join(REPO, 'dist/operator/dashboard/web', f))).length;
  log(`page weight ${(gz / 1024).toFixed(1)} KiB gzipped`);
  for (const f of ['fleet', 'device', 'model', 'push', 'phone']) log(`${join(OUT, `dashboard-${f}.png`)} ${(statSync(join(OUT, `dashboard-${f}.png`)).size / 1024).toFixed(0)} KiB`);
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`dashboard-screenshots: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children.reverse()) if (c.exitCode === null) c.kill('SIGTERM');
    setTimeout(() => rmSync(work, { recursive: true, force: true }), 1500);
  });
