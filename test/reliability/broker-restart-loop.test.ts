/**
 * Issue 8, "Faults": restart the broker (Mosquitto) again and again while jobs and reports are in flight; nothing
 * may be lost and the agent must come back within its configured backoff.
 *
 * Parts: the agent as a `node bin/edgetune.js start` child process (its debug log on stderr is how the test sees
 * the reconnect delays it scheduled and when it connected), Mosquitto with persistence as a deployment runs it, an
 * operator report collector with a persistent session writing into a real OperatorStore (SQLite, de-duplicated by
 * reportId). The agent reaches Mosquitto through `gatedProxy`, which is open except when a round wants the device
 * offline so that its jobs queue at the broker.
 *
 * Each round pushes 3 signed ping jobs (held 200–800 ms) and restarts Mosquitto at a seeded point:
 * - `broker`: the device is offline (gate closed), its jobs are queued in its persistent session at the broker;
 * - `running`: every job of the round is stored by the agent and one is running (plus a seeded 0–400 ms);
 * - `outbox`: the instant a new report is committed (its publish in flight), so that the jobs still running finish
 *   while the broker is down and their reports wait in the agent's SQLite outbox.
 * The broker stays down a seeded 100–700 ms in half the rounds and 1.5–3 s (long enough for the agent's delays to
 * reach reconnectMaxMs) in the other half. A third of the stops (seeded) are SIGKILL, the rest SIGTERM.
 *
 * Mosquitto settings: `persistence true`, `autosave_on_changes true`, `autosave_interval 1`. With SIGTERM Mosquitto
 * writes its database on exit, so a graceful restart keeps every session, subscription and queued QoS 1 message.
 * With SIGKILL only what it had saved survives: saving after every change (the strictest Mosquitto offers) leaves
 * a window between its PUBACK and its next save. What a SIGKILLed broker acknowledged but never saved is the
 * broker's loss, not the agent's; the test names such messages separately (a lost job is re-pushed by the operator,
 * as an operator would), accepts them only when a SIGKILL came after the acknowledgement, and prints their count.
 *
 * Defaults: 8 rounds (EDGETUNE_FAULT_ROUNDS), seed 8 (EDGETUNE_FAULT_SEED); reconnectInitialMs 250,
 * reconnectMaxMs 2000. No timed assertion: the reconnect times are printed, the assertions are on the delays the
 * agent scheduled and on the attempt that followed the broker's return.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentPaths } from '../../src/agent/agent-paths.js';
import { FleetInbox } from '../../src/operator/fleet-inbox.js';
import { connectOperator } from '../../src/operator/operator-link.js';
import { openDatabase, type SqliteDatabase } from '../../src/store/database.js';
import { AGENT_MIGRATIONS } from '../../src/store/migrations.js';
import { OperatorStore } from '../../src/store/operator-store.js';
import { decodeMessage, encodeMessage } from '../../src/transport/messages.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { parsePrivateKey } from '../../src/transport/signature.js';
import { Topics } from '../../src/transport/topics.js';
import { mulberry32 } from '../../src/util/random.js';
import {
  agentConfigObject, BIN, fleetDir, freePort, gatedProxy, HAVE_MOSQUITTO, MOSQUITTO, pingJob, REPO, testLogger, waitFor,
} from '../integration/agent/fleet-harness.js';
import { faultRounds, faultSeed } from './faults/fault-settings.js';
import { persistentMosquitto, type PersistentMosquitto, type StopSignal } from './faults/persistent-mosquitto.js';

const ROUNDS = faultRounds(8);
const JOBS_PER_ROUND = 3;
const RECONNECT_INITIAL_MS = 250;
const RECONNECT_MAX_MS = 2000;
const DEVICE = 'dev';
/**
 * Mosquitto's autosave: unset, after every change (`autosave_on_changes true`, `autosave_interval 1`); a number N,
 * every N seconds (`autosave_on_changes false`, Mosquitto's default is 1800), to see a SIGKILLed broker lose what it
 * had acknowledged and the operator re-push it.
 */
const AUTOSAVE_S = autosaveSeconds();

function autosaveSeconds(): number | null {
  const raw = process.env.EDGETUNE_FAULT_BROKER_AUTOSAVE_S;
  if (raw === undefined || raw === '') return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`EDGETUNE_FAULT_BROKER_AUTOSAVE_S must be a positive integer, got ${raw}`);
  return n;
}
const MODES = ['broker', 'running', 'outbox'] as const;
type Mode = (typeof MODES)[number];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One line of the agent's log that the test reads. */
type AgentLogEvent =
  | { kind: 'reconnecting'; atMs: number; delayMs: number; attempt: number }
  | { kind: 'connected'; atMs: number; resumed: boolean }
  | { kind: 'started'; atMs: number }
  | { kind: 'redelivered'; atMs: number; jobId: string };

/** `node bin/edgetune.js start` with every stderr line parsed (the harness's spawnAgentProcess keeps only a tail). */
function spawnLoggedAgent(configPath: string): { child: ChildProcess; events: AgentLogEvent[]; tail: () => string } {
  const child = spawn(process.execPath, [BIN, 'start', '--config', configPath], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  const events: AgentLogEvent[] = [];
  let tail: string[] = [];
  const lines = createInterface({ input: child.stderr as NodeJS.ReadableStream });
  lines.on('line', (line) => {
    tail.push(line);
    if (tail.length > 400) tail = tail.slice(-200);
    if (process.env.EDGETUNE_TEST_LOG) process.stderr.write(`${line}\n`);
    const m = /^(\S+) +\w+ +\[[^\]]+\] (.*)$/.exec(line);
    if (!m) return;
    const atMs = Date.parse(m[1] as string);
    const text = m[2] as string;
    let r: RegExpExecArray | null;
    if ((r = /^mqtt: reconnecting in (\d+) ms \(attempt (\d+)\)$/.exec(text))) {
      events.push({ kind: 'reconnecting', atMs, delayMs: Number(r[1]), attempt: Number(r[2]) });
    } else if ((r = /^mqtt: connected to \S+ \(MQTT [\d.]+, session (resumed|new)\)$/.exec(text))) {
      events.push({ kind: 'connected', atMs, resumed: r[1] === 'resumed' });
    } else if ((r = /^job (\S+) seen before; ignored/.exec(text))) {
      events.push({ kind: 'redelivered', atMs, jobId: r[1] as string });
    } else if (/^agent \S+ started /.test(text)) {
      events.push({ kind: 'started', atMs });
    }
  });
  return { child, events, tail: () => tail.join('\n') };
}

/** Where the agent's work stood at one instant, read from its SQLite store. */
interface Snapshot {
  /** Jobs pushed (and acknowledged by the broker) that the agent has not stored yet: queued at the broker. */
  atBroker: string[];
  queued: number;
  running: number;
  reports: number;
  outboxPending: number;
}

describe.skipIf(!HAVE_MOSQUITTO)(`Mosquitto (persistence on) restarted ${ROUNDS} times while jobs and reports are in flight`, () => {
  const fleet = fleetDir();
  const topics = new Topics('edgetune/v1');
  let broker: PersistentMosquitto;
  let proxy: Awaited<ReturnType<typeof gatedProxy>>;
  let store: OperatorStore;
  let collector: MqttConnection | null = null;
  let agent: ReturnType<typeof spawnLoggedAgent> | null = null;
  let agentDb: SqliteDatabase | null = null;
  /** Every report seen on the wire: jobId → the reportIds it came with. */
  const wire = new Map<string, Set<string>>();
  let reportDeliveries = 0;
  /** Every status the collector received. */
  const statuses: Array<{ state: string; sinceMs: number }> = [];

  beforeAll(async () => {
    broker = persistentMosquitto(await freePort(), fleet.dir, AUTOSAVE_S);
    await broker.start();
    proxy = await gatedProxy(Number(new URL(broker.url).port));
    store = new OperatorStore(join(fleet.dir, 'operator', 'operator.db'));
    const inbox = new FleetInbox(store, topics, testLogger('collector'));
    // The operator's collector keeps a persistent session, as a deployment's would: reports published while it is
    // reconnecting wait for it at the broker.
    collector = await connectOperator(
      { url: broker.url, sessionName: 'restart-loop-collector' },
      (m) => {
        const parsed = topics.parse(m.topic);
        if (!parsed) return;
        inbox.handle(parsed, m.payload);
        if (parsed.kind === 'reports') {
          const r = decodeMessage('reports', m.payload, 16 * 1024 * 1024);
          wire.set(r.jobId, (wire.get(r.jobId) ?? new Set()).add(r.reportId));
          reportDeliveries++;
        } else if (parsed.kind === 'status' && m.payload.length > 0) {
          const s = decodeMessage('status', m.payload, 1024 * 1024);
          statuses.push({ state: s.state, sinceMs: Date.parse(s.since) });
        }
      },
      testLogger('collector'),
    );
    await collector.subscribe([topics.allDevices('reports'), topics.allDevices('status')], 1);
  });
  afterAll(async () => {
    if (agent && agent.child.exitCode === null && agent.child.signalCode === null) {
      agent.child.kill('SIGKILL');
      await new Promise((r) => agent?.child.once('exit', r));
    }
    agentDb?.close();
    await collector?.stop();
    await proxy?.stop();
    await broker?.stop('SIGTERM');
    store?.close();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  it('every job reports exactly once, nothing stays in the outbox, the agent never dies and reconnects within its backoff', async () => {
    const configPath = join(fleet.dir, 'agent.json');
    const config = agentConfigObject({
      dir: fleet.dir, deviceId: DEVICE, brokerUrl: proxy.url, publicKey: fleet.publicKey,
      extra: { broker: { reconnectInitialMs: RECONNECT_INITIAL_MS, reconnectMaxMs: RECONNECT_MAX_MS }, logLevel: 'debug' },
    });
    writeFileSync(configPath, JSON.stringify(config));
    const paths = new AgentPaths(config.dataDir as string);
    const key = parsePrivateKey(readFileSync(fleet.privateKey), 'key');
    const random = mulberry32(faultSeed());

    // the plan: every mode equally often and a third SIGKILLs, in a seeded order
    const shuffle = <T>(xs: T[]): T[] => {
      for (let i = xs.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [xs[i], xs[j]] = [xs[j] as T, xs[i] as T];
      }
      return xs;
    };
    const modes = shuffle(Array.from({ length: ROUNDS }, (_, i) => MODES[i % MODES.length] as Mode));
    const signals = shuffle(Array.from({ length: ROUNDS }, (_, i): StopSignal => (i % 3 === 2 ? 'SIGKILL' : 'SIGTERM')));
    // half the outages short, half long enough for the agent's delays to reach reconnectMaxMs
    const outages = shuffle(Array.from({ length: ROUNDS }, (_, i) => (i % 2 === 0 ? 'short' : 'long')));

    const agentProc = spawnLoggedAgent(configPath);
    agent = agentProc;
    const exits: string[] = [];
    agentProc.child.once('exit', (code, signal) => exits.push(`exit ${code ?? signal}`));
    const events = agentProc.events;
    try {
      await waitFor('agent online', () => statuses.some((s) => s.state === 'online'), 60_000);
    } catch (error) {
      throw new Error(`${String(error)}\nagent log:\n${agentProc.tail()}`);
    }
    agentDb = openDatabase(paths.database, AGENT_MIGRATIONS, { readonly: true });
    const db = agentDb;
    const jobState = db.prepare('SELECT state FROM jobs WHERE job_id = ?');
    const reportCount = db.prepare('SELECT COUNT(*) AS n FROM reports');
    const outboxPending = db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'");

    /** Jobs pushed so far (signed bytes kept, so the operator can re-push what a broker lost). */
    const pushed: Array<{ jobId: string; payload: Buffer; pushedAtMs: number }> = [];
    const snapshot = (): Snapshot => {
      const s: Snapshot = { atBroker: [], queued: 0, running: 0, reports: 0, outboxPending: 0 };
      for (const j of pushed) {
        const st = (jobState.get(j.jobId) as { state: string } | undefined)?.state;
        if (st === undefined) s.atBroker.push(j.jobId);
        else if (st === 'queued') s.queued++;
        else if (st === 'running') s.running++;
      }
      s.reports = (reportCount.get() as { n: number }).n;
      s.outboxPending = (outboxPending.get() as { n: number }).n;
      return s;
    };
    /** Publish signed jobs over a fresh operator connection; resolves when the broker acknowledged each. */
    const push = async (payloads: Array<{ jobId: string; payload: Buffer }>): Promise<void> => {
      const c = await connectOperator({ url: broker.url }, () => undefined, testLogger('pusher'));
      try {
        for (const p of payloads) {
          await c.publish(topics.device(DEVICE, 'jobs'), p.payload, { qos: 1 });
          pushed.push({ ...p, pushedAtMs: Date.now() });
        }
      } finally {
        await c.stop();
      }
    };

    const restarts: Array<{ round: number; mode: Mode; signal: StopSignal; stopAtMs: number; upAtMs: number; downMs: number; atStop: Snapshot; beforeStart: Snapshot; reconnectMs: number; resumed: boolean; connected: AgentLogEvent }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const mode = modes[round] as Mode;
      const signal = signals[round] as StopSignal;
      const jobs = Array.from({ length: JOBS_PER_ROUND }, () => pingJob(DEVICE, key, { holdMs: 200 + Math.floor(random() * 600) }));
      const extraMs = Math.floor(random() * 400);
      const downMs = outages[round] === 'short' ? 100 + Math.floor(random() * 600) : 1500 + Math.floor(random() * 1500);
      const reportsBefore = snapshot().reports;

      // the device goes offline: the round's jobs wait in its persistent session at the broker
      if (mode === 'broker') proxy.close();
      await push(jobs.map((j) => ({ jobId: j.jobId, payload: Buffer.from(encodeMessage('jobs', j)) })));
      if (mode === 'running') {
        await waitFor('every job of the round stored by the agent and one running', () => {
          const s = jobs.map((j) => (jobState.get(j.jobId) as { state: string } | undefined)?.state);
          return s.every((x) => x !== undefined) && snapshot().running > 0;
        }, 30_000, 5);
        await sleep(extraMs);
      } else if (mode === 'outbox') {
        await waitFor('a new report committed', () => snapshot().reports > reportsBefore, 30_000, 2);
      }
      const atStop = snapshot();
      const stopAtMs = Date.now();
      await broker.stop(signal);
      if (mode === 'broker') proxy.open();
      await sleep(downMs);
      const beforeStart = snapshot();
      const { spawnAtMs, upAtMs } = await broker.start();
      // (matched from the spawn on: an attempt may connect before the 5 ms probe has seen the port)
      const connected = await waitFor(
        `agent reconnected after restart ${round + 1}`,
        () => events.find((e): e is Extract<AgentLogEvent, { kind: 'connected' }> => e.kind === 'connected' && e.atMs >= spawnAtMs),
        30_000,
        5,
      );
      // the retained status goes back to online (a status the agent published after this restart)
      await waitFor(`status online after restart ${round + 1}`, () => statuses.some((s) => s.state === 'online' && s.sinceMs >= spawnAtMs), 30_000);
      // the agent process that started is still the one serving: it never exited
      expect(exits, `agent process after restart ${round + 1}`).toEqual([]);
      restarts.push({ round, mode, signal, stopAtMs, upAtMs, downMs, atStop, beforeStart, reconnectMs: Math.max(0, connected.atMs - upAtMs), resumed: connected.resumed, connected });
    }

    // A sentinel job pushed last: once its report is at the operator, every earlier job was delivered to the agent
    // (one session, in order) unless the broker lost it.
    const settle = async (what: string): Promise<void> => {
      const sentinel = pingJob(DEVICE, key, {});
      await push([{ jobId: sentinel.jobId, payload: Buffer.from(encodeMessage('jobs', sentinel)) }]);
      await waitFor(`the report of ${what} at the operator`, () => store.listReports({ jobId: sentinel.jobId }).length > 0, 120_000);
      await waitFor('the outbox drained', () => snapshot().outboxPending === 0, 30_000);
    };
    await settle('the sentinel job');

    // Jobs the broker acknowledged to the operator but never delivered: only a SIGKILLed broker may lose them, and
    // the operator re-pushes the same signed job (the agent has never seen its jobId).
    const kills = restarts.filter((r) => r.signal === 'SIGKILL').map((r) => r.stopAtMs);
    const jobsLostByBroker = pushed.filter((j) => jobState.get(j.jobId) === undefined);
    expect(jobsLostByBroker.filter((j) => !kills.some((k) => k >= j.pushedAtMs)).map((j) => j.jobId)).toEqual([]);
    if (jobsLostByBroker.length > 0) {
      await push(jobsLostByBroker.map((j) => ({ jobId: j.jobId, payload: j.payload })));
      await settle('the second sentinel job');
    }
    // every report the agent committed should be at the operator by now; a missing one is examined below
    const allCommitted = (): boolean => (db.prepare('SELECT job_id AS jobId FROM reports').all() as Array<{ jobId: string }>).every((r) => store.listReports({ jobId: r.jobId }).length > 0);
    await waitFor('every committed report at the operator', allCommitted, 10_000).catch(() => undefined);
    agentProc.child.kill('SIGTERM');
    const exitCode = await new Promise((r) => agentProc.child.once('exit', (c) => r(c)));

    // the agent process never died: one start, a clean exit only when told
    expect(exits).toEqual([`exit ${String(exitCode)}`]);
    expect(exitCode).toBe(0);
    expect(events.filter((e) => e.kind === 'started')).toHaveLength(1);

    // every job: exactly one report in the agent store, the same one at the operator, one reportId on the wire
    const agentReports = db.prepare('SELECT r.job_id AS jobId, r.report_id AS reportId, r.seq AS seq, o.state AS outbox, o.sent_at AS sentAt FROM reports r JOIN outbox o ON o.id = r.report_id').all() as Array<{ jobId: string; reportId: string; seq: number; outbox: string; sentAt: string | null }>;
    const perJob = new Map<string, string[]>();
    for (const r of agentReports) perJob.set(r.jobId, [...(perJob.get(r.jobId) ?? []), r.reportId]);
    const allJobs = pushed.map((j) => j.jobId).filter((id, i, a) => a.indexOf(id) === i);
    expect(allJobs.filter((id) => perJob.get(id)?.length !== 1)).toEqual([]);
    expect(snapshot().outboxPending).toBe(0);
    // Reports the broker acknowledged to the agent but never delivered: only a SIGKILL after the PUBACK may explain it.
    const reportsLostByBroker = agentReports.filter((r) => store.listReports({ jobId: r.jobId }).length === 0);
    expect(reportsLostByBroker.filter((r) => !(r.sentAt !== null && kills.some((k) => k >= Date.parse(r.sentAt as string)))).map((r) => r.jobId)).toEqual([]);
    for (const id of allJobs) {
      if (reportsLostByBroker.some((r) => r.jobId === id)) continue;
      expect(store.listReports({ jobId: id }).map((r) => r.reportId)).toEqual(perJob.get(id));
    }
    expect([...wire.entries()].filter(([, ids]) => ids.size !== 1)).toEqual([]);
    expect(store.listReports({ deviceId: DEVICE }).every((r) => r.state === 'ok')).toBe(true);
    // per-device seq: gap-free in the agent store and at the operator (apart from what a SIGKILLed broker lost)
    const seqs = agentReports.map((r) => r.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] as number) + i));
    const lostSeqs = new Set(reportsLostByBroker.map((r) => r.seq));
    expect(store.listReports({ deviceId: DEVICE }).map((r) => r.seq).sort((a, b) => a - b)).toEqual(seqs.filter((s) => !lostSeqs.has(s)));

    // The backoff the agent applied: every delay is what reconnectDelayMs allows for its attempt (equal jitter
    // between half and all of min(max, initial·2^(attempt−1))), so never above reconnectMaxMs, and the count starts
    // again at 1 after every connection (each run of attempts between two connections is 1, 2, 3, …).
    const delays = events.filter((e): e is Extract<AgentLogEvent, { kind: 'reconnecting' }> => e.kind === 'reconnecting');
    expect(delays.length).toBeGreaterThanOrEqual(ROUNDS);
    for (const d of delays) {
      const base = Math.min(RECONNECT_MAX_MS, RECONNECT_INITIAL_MS * 2 ** (d.attempt - 1));
      expect(d.delayMs, `attempt ${d.attempt}`).toBeGreaterThanOrEqual(Math.floor(base / 2));
      expect(d.delayMs, `attempt ${d.attempt}`).toBeLessThanOrEqual(base);
    }
    // The count starts again at 1 once a connection's subscriptions are granted; a connection lost (here: the next
    // restart) before its re-subscription was granted continues the count (src/transport/mqtt-connection.ts: a
    // broker that accepts CONNECT but refuses SUBSCRIBE is not re-hit at the initial delay).
    const chains: number[][] = [];
    for (const e of events) {
      if (e.kind === 'connected') chains.push([]);
      else if (e.kind === 'reconnecting') chains[chains.length - 1]?.push(e.attempt);
    }
    let lastAttempt = 0;
    const broken: number[][] = [];
    for (const c of chains) {
      if (c.length === 0) continue;
      const first = c[0] as number;
      if ((first !== 1 && first !== lastAttempt + 1) || c.some((a, k) => a !== first + k)) broken.push(c);
      lastAttempt = c[c.length - 1] as number;
    }
    expect(broken).toEqual([]);
    // After each restart, the first attempt that fired once the broker accepted connections succeeded: in the chain
    // of "reconnecting" lines before the reconnect, no attempt scheduled to fire after upAt failed (was followed by
    // another "reconnecting" line).
    for (const r of restarts) {
      const chain: Array<Extract<AgentLogEvent, { kind: 'reconnecting' }>> = [];
      for (let i = events.indexOf(r.connected) - 1; i >= 0; i--) {
        const e = events[i] as AgentLogEvent;
        if (e.kind === 'connected') break;
        if (e.kind === 'reconnecting') chain.unshift(e);
      }
      expect(chain.length, `restart ${r.round + 1}: reconnect attempts logged`).toBeGreaterThan(0);
      const failedAfterUp = chain.slice(0, -1).filter((e) => e.atMs + e.delayMs > r.upAtMs);
      expect(failedAfterUp, `restart ${r.round + 1}`).toEqual([]);
    }
    // Persistence kept the agent's session through every restart (with saves after every change, also through the
    // SIGKILLed ones; with timed saves a SIGKILL before the first save loses the session, the broker's loss again).
    const mustResume = restarts.filter((r) => r.signal === 'SIGTERM' || AUTOSAVE_S === null);
    expect(mustResume.filter((r) => !r.resumed).map((r) => r.round + 1)).toEqual([]);

    // the restarts landed where they were meant to (the default plan has every mode at least twice)
    const caught = {
      atBroker: restarts.reduce((n, r) => n + r.atStop.atBroker.filter((id) => !jobsLostByBroker.some((j) => j.jobId === id)).length, 0),
      queued: restarts.reduce((n, r) => n + r.atStop.queued, 0),
      running: restarts.reduce((n, r) => n + r.atStop.running, 0),
      outbox: restarts.reduce((n, r) => n + r.beforeStart.outboxPending, 0),
      unackedAtStop: restarts.reduce((n, r) => n + r.atStop.outboxPending, 0),
    };
    const atCap = delays.filter((d) => RECONNECT_INITIAL_MS * 2 ** (d.attempt - 1) >= RECONNECT_MAX_MS).length;
    if (ROUNDS >= 6) {
      expect(atCap, 'delays at reconnectMaxMs').toBeGreaterThan(0);
      expect(caught.atBroker).toBeGreaterThan(0);
      expect(caught.running).toBeGreaterThan(0);
      expect(caught.outbox).toBeGreaterThan(0);
    }

    const ms = restarts.map((r) => r.reconnectMs).sort((a, b) => a - b);
    const median = ms[Math.floor(ms.length / 2)] as number;
    console.log(
      `broker restart loop: ${ROUNDS} Mosquitto restarts (${kills.length} SIGKILL, ${ROUNDS - kills.length} SIGTERM; autosave ${AUTOSAVE_S === null ? 'on every change' : `every ${AUTOSAVE_S} s`}), ` +
        `${allJobs.length} jobs (${ROUNDS * JOBS_PER_ROUND} + ${allJobs.length - ROUNDS * JOBS_PER_ROUND} sentinel), session resumed after ${restarts.filter((r) => r.resumed).length} restarts, ` +
        `${agentReports.length} reports, lost by a SIGKILLed broker: ${jobsLostByBroker.length} jobs (re-pushed), ${reportsLostByBroker.length} reports; ` +
        `restarts caught ${caught.atBroker} jobs queued at the broker, ${caught.queued} queued at the agent, ${caught.running} running, ` +
        `${caught.unackedAtStop} reports committed but not yet acknowledged, ${caught.outbox} reports in the outbox while the broker was down; redelivered to the agent and ignored: ${events.filter((e) => e.kind === 'redelivered').length} jobs; ` +
        `report deliveries at the collector ${reportDeliveries} for ${wire.size} reports; ${delays.length} reconnect delays scheduled (${atCap} at the cap), max ${Math.max(...delays.map((d) => d.delayMs))} ms ` +
        `(reconnectMaxMs ${RECONNECT_MAX_MS}); reconnect after the broker accepted: median ${median} ms, max ${ms[ms.length - 1]} ms ` +
        `[${restarts.map((r) => `${r.mode}/${r.signal === 'SIGKILL' ? 'KILL' : 'TERM'} ${r.reconnectMs}`).join(', ')}]`,
    );
  }, 600_000);
});
