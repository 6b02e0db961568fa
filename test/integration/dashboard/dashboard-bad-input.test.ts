/**
 * `edgetune dashboard` refuses bad input with a message that names it, exit 2 and nothing written: a data dir that
 * is not an operator store, a port in use, a bad key; an unreachable broker exits 1 and leaves no store behind.
 * Bound to loopback (the default) it needs no token but answers only loopback Host names, takes changes only from
 * its own page, and no URL reaches a file.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/store/database.js';
import { AGENT_MIGRATIONS } from '../../../src/store/migrations.js';
import { freePort, startTestBroker, type TestBroker } from '../agent/fleet-harness.js';
import { runDashboard, startDashboard, type DashboardProcess } from './dashboard-harness.js';

/** A directory's entries with their sizes and mtimes, to show nothing was written. */
function snapshot(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .map((n) => {
      const st = statSync(join(dir, n));
      return `${n}:${st.size}:${st.mtimeMs}`;
    });
}

/** A raw HTTP request (no URL normalisation: the path goes out as written). */
function raw(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('edgetune dashboard: bad input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-dash-bad-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses an agent's data dir, writing nothing into it", async () => {
    const agentDir = join(dir, 'agent-data');
    mkdirSync(agentDir);
    const db = openDatabase(join(agentDir, 'agent.db'), AGENT_MIGRATIONS);
    db.close();
    const before = snapshot(agentDir);
    const r = await runDashboard(['--data-dir', agentDir, '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--data-dir .*agent-data is not an operator store: it has no operator\.db .*agent's data dir.*\[USAGE\]/);
    expect(snapshot(agentDir)).toEqual(before);
  });

  it('refuses an operator.db that is not SQLite, or a SQLite file of another schema, without migrating it', async () => {
    const junkDir = join(dir, 'junk');
    mkdirSync(junkDir);
    writeFileSync(join(junkDir, 'operator.db'), 'not a database at all, just text\n'.repeat(200));
    const junk = await runDashboard(['--data-dir', junkDir, '--port', '0']);
    expect(junk.code).toBe(2);
    expect(junk.stderr).toMatch(/is not an operator store: .*operator\.db cannot be read as SQLite .*\[USAGE\]/);
    expect(readFileSync(join(junkDir, 'operator.db'), 'utf8')).toBe('not a database at all, just text\n'.repeat(200));

    const otherDir = join(dir, 'other');
    mkdirSync(otherDir);
    openDatabase(join(otherDir, 'operator.db'), AGENT_MIGRATIONS).close();
    const before = snapshot(otherDir);
    const other = await runDashboard(['--data-dir', otherDir, '--port', '0']);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/is not an operator store: .*operator\.db lacks the tables devices, pushes \[USAGE\]/);
    expect(snapshot(otherDir)).toEqual(before);
  });

  it('refuses a port in use and a key that is not an ed25519 private key; no store is created', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)));
    try {
      const fresh = join(dir, 'fresh-1');
      const r = await runDashboard(['--data-dir', fresh, '--port', String(port)]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`dashboard: port ${port} on 127\\.0\\.0\\.1 is in use .*--port \\[USAGE\\]`));
      expect(readdirSync(dir)).not.toContain('fresh-1');
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    const keyFile = join(dir, 'operator.pub');
    writeFileSync(keyFile, '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n');
    const k = await runDashboard(['--data-dir', join(dir, 'fresh-2'), '--port', '0', '--key', keyFile]);
    expect(k.code).toBe(2);
    expect(k.stderr).toMatch(/operator\.pub is not a PEM private key.*\[SIGNATURE_INVALID\]/);
    const p = await runDashboard(['--data-dir', join(dir, 'fresh-2'), '--port', '70000']);
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/--port 70000 must be an integer in 0\.\.65535 \[USAGE\]/);
    expect(readdirSync(dir)).not.toContain('fresh-2');
  });

  it('fails when the broker cannot be reached (as every operator command does), and removes the store it had started', async () => {
    const port = await freePort();
    const fresh = join(dir, 'fresh-3');
    const r = await runDashboard(['--data-dir', fresh, '--port', '0', '--broker', `mqtt://127.0.0.1:${port}`]);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toMatch(new RegExp(`edgetune: .*127\\.0\\.0\\.1:${port}.*\\[[A-Z_]+\\]`));
    expect(r.stdout).not.toMatch(/edgetune dashboard: http/);
    expect(readdirSync(dir)).not.toContain('fresh-3');
  });
});

describe('edgetune dashboard on loopback (the default)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-dash-loop-'));
  let broker: TestBroker;
  let dashboard: DashboardProcess;
  let port: number;

  beforeAll(async () => {
    broker = await startTestBroker('aedes', dir);
    dashboard = await startDashboard(['--data-dir', join(dir, 'operator'), '--broker', broker.url, '--port', '0']);
    port = Number(new URL(dashboard.url).port);
  });

  afterAll(async () => {
    expect(await dashboard?.stop()).toBe(0);
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('needs no token on 127.0.0.1 and says so; without --key it says pushes go unsigned', async () => {
    expect(dashboard.token).toBeNull();
    expect(dashboard.stdout()).toMatch(/bound to 127\.0\.0\.1 \(loopback only/);
    expect(dashboard.stdout()).toMatch(/no --key: pushes from the page go unsigned/);
    const r = await raw(port, '/api/fleet');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ devices: [], online: 0, offline: 0, missingReports: 0 });
  });

  it('answers only loopback Host names (a DNS-rebinding page names its own)', async () => {
    const r = await raw(port, '/api/fleet', { host: `attacker.example:${port}` });
    expect(r.status).toBe(421);
    expect(JSON.parse(r.body).error.code).toBe('HOST_REFUSED');
    expect((await raw(port, '/api/fleet', { host: `localhost:${port}` })).status).toBe(200);
  });

  it('takes changes only from its own page: no header, or another Origin, is refused', async () => {
    const plain = await raw(port, '/api/devices/x/resync', {}, 'POST');
    expect(plain.status).toBe(403);
    expect(JSON.parse(plain.body).error.code).toBe('CROSS_SITE');
    const foreign = await raw(port, '/api/devices/x/resync', { 'x-edgetune-dashboard': '1', origin: 'http://attacker.example' }, 'POST');
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body).error.message).toMatch(/Origin http:\/\/attacker\.example is another site/);
    const own = await raw(port, '/api/devices/x/resync', { 'x-edgetune-dashboard': '1', origin: `http://127.0.0.1:${port}` }, 'POST');
    expect(own.status).toBe(400);
    expect(JSON.parse(own.body).error.message).toBe("resync: no device 'x' in this operator store");
  });

  it('reaches no file by URL: the page is served from memory, anything else is a 404', async () => {
    for (const path of ['/assets/../../../package.json', '/assets/..%2f..%2f..%2fpackage.json', '/operator.db', '/assets/app.js.map', '/%2e%2e/%2e%2e/etc/passwd']) {
      const r = await raw(port, path);
      expect(r.status, path).toBe(404);
      expect(r.body).not.toMatch(/"name": ?"edgetune"|SQLite format|root:/);
    }
    const page = await raw(port, '/');
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<script type="module" src="\/assets\/app\.js">/);
    expect((await raw(port, '/api/models/..%2F..%2Foperator.db')).status).toBe(400);
  });
});
