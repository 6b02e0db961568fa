/**
 * Issue 8, "Security": Mosquitto with TLS that requires client certificates (`require_certificate true`,
 * `use_identity_as_username true`: the certificate CN is the username) and per-device ACL `pattern` rules on each
 * device's own topic subtree. A CA, the server certificate and device certificates are made with `openssl` in the
 * test's temp dir. A real agent connects with its ca/cert/key from the config and serves a job; then device A's
 * certificate tries to read device B's jobs, to subscribe to every device, and to publish reports and status in
 * B's name: every attempt must fail. A client without a certificate, and one whose certificate comes from a
 * foreign CA, are refused at the handshake.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { connectOperator } from '../../src/operator/operator-link.js';
import { encodeMessage, type ReportMessage } from '../../src/transport/messages.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { parsePrivateKey } from '../../src/transport/signature.js';
import { Topics } from '../../src/transport/topics.js';
import { agentConfig, fleetDir, freePort, HAVE_MOSQUITTO, MOSQUITTO, pingJob, startAgent, testLogger, waitFor } from '../integration/agent/fleet-harness.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import { userInfo } from 'node:os';

const HAVE_OPENSSL = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA (key + self-signed cert) named `name` in `dir`. */
function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`]);
}

/** A key and a certificate with common name `cn` signed by CA `ca`; `server` adds the loopback SAN. */
function makeCert(dir: string, ca: string, cn: string, server = false): { cert: string; key: string } {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${cn}.key`, '-out', `${cn}.csr`, '-subj', `/CN=${cn}`]);
  const args = ['x509', '-req', '-in', `${cn}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${cn}.crt`, '-days', '2'];
  if (server) {
    writeFileSync(join(dir, `${cn}.ext`), 'subjectAltName = IP:127.0.0.1, DNS:localhost\n');
    args.push('-extfile', `${cn}.ext`);
  }
  openssl(dir, args);
  return { cert: join(dir, `${cn}.crt`), key: join(dir, `${cn}.key`) };
}

const PREFIX = 'edgetune/v1';
const ACL = `# the operator may do everything under the prefix
user operator
topic readwrite ${PREFIX}/#

# every device: only its own subtree (the certificate CN is the username)
pattern read ${PREFIX}/devices/%u/jobs
pattern read ${PREFIX}/devices/%u/chunks/#
pattern write ${PREFIX}/devices/%u/status
pattern write ${PREFIX}/devices/%u/hello
pattern write ${PREFIX}/devices/%u/heartbeat
pattern write ${PREFIX}/devices/%u/requests
pattern write ${PREFIX}/devices/%u/events
pattern write ${PREFIX}/devices/%u/reports
pattern read ${PREFIX}/artifacts/#
pattern read ${PREFIX}/groups/#
`;

describe.skipIf(!HAVE_MOSQUITTO || !HAVE_OPENSSL)('TLS client certificates and per-device ACLs (Mosquitto)', () => {
  const fleet = fleetDir();
  const pki = join(fleet.dir, 'pki');
  const topics = new Topics(PREFIX);
  let port = 0;
  let url = '';
  let mosquitto: ChildProcess | null = null;
  let agentB: Agent | null = null;
  let operator: MqttConnection | null = null;
  const opSeen: Array<{ topic: string; payload: string }> = [];
  const certs: Record<string, { cert: string; key: string }> = {};

  beforeAll(async () => {
    execFileSync('mkdir', ['-p', pki]);
    makeCa(pki, 'ca');
    makeCa(pki, 'foreign-ca');
    certs.server = makeCert(pki, 'ca', 'localhost', true);
    for (const cn of ['devA', 'devB', 'operator']) certs[cn] = makeCert(pki, 'ca', cn);
    certs.forgedA = (() => {
      openssl(pki, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'forged.key', '-out', 'forged.csr', '-subj', '/CN=devA']);
      openssl(pki, ['x509', '-req', '-in', 'forged.csr', '-CA', 'foreign-ca.crt', '-CAkey', 'foreign-ca.key', '-CAcreateserial', '-out', 'forged.crt', '-days', '2']);
      return { cert: join(pki, 'forged.crt'), key: join(pki, 'forged.key') };
    })();
    writeFileSync(join(pki, 'acl'), ACL);
    port = await freePort();
    url = `mqtts://127.0.0.1:${port}`;
    writeFileSync(
      join(pki, 'mosquitto.conf'),
      [
        `listener ${port} 127.0.0.1`,
        `cafile ${join(pki, 'ca.crt')}`,
        `certfile ${certs.server.cert}`,
        `keyfile ${certs.server.key}`,
        'require_certificate true',
        'use_identity_as_username true',
        `acl_file ${join(pki, 'acl')}`,
        // started as root, Mosquitto drops to user `mosquitto`, which cannot read the keys in our private temp dir
        `user ${userInfo().username}`,
        'persistence false',
        'log_dest none',
        '',
      ].join('\n'),
    );
    mosquitto = spawn(MOSQUITTO, ['-c', join(pki, 'mosquitto.conf')], { stdio: 'ignore' });
    await waitFor('mosquitto TLS listener', () => new Promise<boolean>((resolve) => {
      const s = netConnect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    }), 10_000);
    operator = await connectOperator({ url, ca: join(pki, 'ca.crt'), ...certs.operator }, (m) => {
      opSeen.push({ topic: m.topic, payload: m.payload.toString() });
    }, testLogger('operator'));
    await operator.subscribe([topics.allDevices('reports'), topics.allDevices('status')], 1);
  });
  afterAll(async () => {
    await agentB?.stop();
    await operator?.stop();
    mosquitto?.kill('SIGKILL');
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  const opReport = (jobId: string): Promise<ReportMessage> =>
    waitFor(`report of ${jobId}`, () => {
      const hit = opSeen.find((m) => m.topic.endsWith('/reports') && m.payload.includes(jobId));
      return hit ? (JSON.parse(hit.payload) as ReportMessage) : null;
    }, 30_000);

  it('an agent connects with ca/cert/key from its config and serves a job over TLS', async () => {
    agentB = await startAgent(agentConfig({
      dir: fleet.dir, deviceId: 'devB', brokerUrl: url, publicKey: fleet.publicKey,
      extra: { broker: { ca: join(pki, 'ca.crt'), cert: certs.devB?.cert, key: certs.devB?.key } },
    }));
    const key = parsePrivateKey(readFileSync(fleet.privateKey), 'key');
    const job = pingJob('devB', key);
    await operator?.publish(topics.device('devB', 'jobs'), encodeMessage('jobs', job), { qos: 1 });
    const report = await opReport(job.jobId);
    expect(report.state).toBe('ok');
    expect(report.deviceId).toBe('devB');
  });

  it("device A's certificate cannot read B's jobs, subscribe to every device, or publish reports and status as B", async () => {
    const seenByA: string[] = [];
    const a = await connectOperator({ url, ca: join(pki, 'ca.crt'), ...certs.devA }, (m) => {
      seenByA.push(m.topic);
    }, testLogger('attacker'));
    try {
      // Mosquitto 2.0 grants these SUBSCRIBEs and applies the ACL to every delivery instead (a v5 broker may also
      // refuse them): either way, checked below, A must receive nothing outside its own subtree
      const subscriptions: string[] = [];
      for (const f of [topics.device('devB', 'jobs'), topics.allDevices('jobs'), topics.allDevices('reports'), '#', '$SYS/#']) {
        subscriptions.push(`${f} ${await a.subscribe([f], 1).then(() => 'granted', () => 'refused')}`);
      }
      await a.subscribe([topics.device('devA', 'jobs')], 1);

      // publishing as B: a forged report and a forged status; then a legitimate report on A's own topic as a sentinel
      const forged = { reportId: 'forged-1', jobId: 'forged-job', action: 'ping', deviceId: 'devB', seq: 999, state: 'ok', createdAt: new Date().toISOString(), artifact: null, error: null };
      const forgedReport = a.publish(topics.device('devB', 'reports'), JSON.stringify(forged), { qos: 1 }).then(() => 'acked', (e: unknown) => `refused: ${String(e)}`);
      const forgedStatus = a.publish(topics.device('devB', 'status'), JSON.stringify({ state: 'offline', at: new Date().toISOString() }), { qos: 1, retain: true }).then(() => 'acked', (e: unknown) => `refused: ${String(e)}`);
      // MQTT 5: Mosquitto answers PUBACK "Not authorized" (with 3.1.1 it would drop silently; the sentinel covers both)
      expect(await forgedReport).toMatch(/refused: .*Not authorized/);
      expect(await forgedStatus).toMatch(/refused: .*Not authorized/);
      const sentinel = { ...forged, reportId: 'sentinel-1', jobId: 'sentinel-job', deviceId: 'devA' };
      await a.publish(topics.device('devA', 'reports'), JSON.stringify(sentinel), { qos: 1 });
      await waitFor('the sentinel at the operator', () => opSeen.some((m) => m.payload.includes('sentinel-job')), 10_000);

      // jobs for B then for A: A receives its own, never B's
      await operator?.publish(topics.device('devB', 'jobs'), 'for B', { qos: 1 });
      await operator?.publish(topics.device('devB', 'reports'), 'a report of B', { qos: 1 });
      await operator?.publish(topics.device('devA', 'jobs'), 'for A', { qos: 1 });
      await waitFor('A got its own job', () => seenByA.includes(topics.device('devA', 'jobs')), 10_000);
      expect([...new Set(seenByA)]).toEqual([topics.device('devA', 'jobs')]);
      console.log(`A's subscriptions: ${subscriptions.join(', ')}; A received ${seenByA.length} message(s), all on its own jobs topic`);
      // nothing forged reached the operator; B's retained status is still B's own
      expect(opSeen.filter((m) => m.payload.includes('forged'))).toEqual([]);
      expect(opSeen.filter((m) => m.topic === topics.device('devB', 'status')).every((m) => JSON.parse(m.payload).state === 'online')).toBe(true);
    } finally {
      await a.stop();
    }
  });

  it('a client without a certificate, or with a certificate from a foreign CA, is refused', async () => {
    await expect(connectOperator({ url, ca: join(pki, 'ca.crt'), connectTimeoutMs: 3_000 }, () => undefined, testLogger('nocert'))).rejects.toThrow();
    await expect(connectOperator({ url, ca: join(pki, 'ca.crt'), ...certs.forgedA, connectTimeoutMs: 3_000 }, () => undefined, testLogger('forged'))).rejects.toThrow();
    // a server the client cannot verify is refused by the client (rejectUnauthorized stays on)
    await expect(connectOperator({ url, ca: join(pki, 'foreign-ca.crt'), ...certs.devA, connectTimeoutMs: 3_000 }, () => undefined, testLogger('mitm'))).rejects.toThrow();
  });
});
