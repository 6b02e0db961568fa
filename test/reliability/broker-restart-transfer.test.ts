/**
 * Issue 8, "Faults": restart the broker (Mosquitto, persistence on) while an artifact transfer is in flight, chunks
 * and chunk requests included. The broker-restart-loop test carries jobs and reports only; this one carries the
 * operator's `pushJob` (the code behind `edgetune push --wait`) serving a few MB to one or two agents.
 *
 * Parts: two agents as `node bin/edgetune.js start` child processes (persistent MQTT 5 sessions, group `line-1`,
 * their debug log on stderr parsed), Mosquitto with `persistence true` and saves after every change, the operator's
 * `pushJob` in this process with its default broker options (no session name, as `edgetune push` runs without
 * `--session`) writing reports into its real OperatorStore.
 *
 * Each round pushes a random artifact of 4–8 MB in 64, 128 or 256 KiB chunks with action `ping` (`wait: true`) to
 * one device or to the group (both devices), and restarts Mosquitto at a seeded point of a watched device's
 * transfer, read from its SQLite chunk bitmap (polled every 5 ms): `mid` (15–80% of the chunks: chunks are being
 * published, delivered and requested), `tail` (6–10 chunks left, most of them already handed to the broker) or
 * `verified` (the instant its file is installed: the report is being committed and published, and often reaches the
 * restarted broker before the push has reconnected). The broker stays down a seeded 100–700 ms (half the rounds)
 * or 1.5–3 s (the agents' delays reach reconnectMaxMs); a third of the stops are SIGKILL, the rest SIGTERM.
 *
 * Asserted: every `mid`/`tail` restart interrupted the transfer; `pushJob` itself comes through (no error, a report
 * from every expected device); each installed file has the artifact's sha256 and none existed before its device had
 * every chunk (polled throughout: model file first, then the bitmap); no staging file is left; each job has exactly
 * one report in each agent's store and the same reportId once in the operator store; agent sessions resumed; the
 * agent processes never exit. chunksSent / chunksResent of every push, the chunks each device had at the stop, stall
 * re-requests, reports that waited for the push in its session and the reconnect times are printed (no timed
 * assertion).
 *
 * Found with it (fixed in src/operator, regression tests in test/integration/agent/push-reconnect.test.ts and
 * test/unit/agent/artifact-server-reconnect.test.ts): the push used a clean session, so what devices published while
 * it was reconnecting (they are often back first) was dropped: their post-reconnect chunk requests (the transfer then
 * waited for the device's 10 s stall timer) and their reports (the push waited until its timeout); and chunks lost
 * with the push's connection or queued behind it were sent only when a new request came.
 *
 * Defaults: 6 rounds (EDGETUNE_FAULT_ROUNDS), seed 8 (EDGETUNE_FAULT_SEED).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentPaths } from '../../src/agent/agent-paths.js';
import { createLogger } from '../../src/agent/logger.js';
import { pushJob, type PushResult } from '../../src/operator/push-job.js';
import { openDatabase, type SqliteDatabase } from '../../src/store/database.js';
import { AGENT_MIGRATIONS } from '../../src/store/migrations.js';
import { OperatorStore } from '../../src/store/operator-store.js';
import { mulberry32 } from '../../src/util/random.js';
import { agentConfigObject, BIN, fleetDir, freePort, HAVE_MOSQUITTO, REPO, sha256Of, waitFor } from '../integration/agent/fleet-harness.js';
import { faultRounds, faultSeed } from './faults/fault-settings.js';
import { persistentMosquitto, type PersistentMosquitto, type StopSignal } from './faults/persistent-mosquitto.js';

const ROUNDS = faultRounds(6);
const DEVICES = ['dev-a', 'dev-b'] as const;
type DeviceId = (typeof DEVICES)[number];
const GROUP = 'line-1';
const RECONNECT_INITIAL_MS = 250;
const RECONNECT_MAX_MS = 2000;
const MIB = 1024 * 1024;
const CHUNK_SIZES = [64 * 1024, 128 * 1024, 256 * 1024];
const TOPIC_PREFIX = 'edgetune/v1';

type Point = 'mid' | 'tail' | 'verified';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One line of a log (agent stderr or the operator's logger) that the test reads. */
type LogEvent =
  | { kind: 'connected'; atMs: number; resumed: boolean }
  | { kind: 'reconnecting'; atMs: number; delayMs: number; attempt: number }
  | { kind: 'started'; atMs: number }
  | { kind: 'stalled'; atMs: number };

function parseLogLine(line: string): LogEvent | null {
  const m = /^(\S+) +\w+ +\[[^\]]+\] (.*)$/.exec(line);
  if (!m) return null;
  const atMs = Date.parse(m[1] as string);
  const text = m[2] as string;
  let r: RegExpExecArray | null;
  if ((r = /^mqtt: reconnecting in (\d+) ms \(attempt (\d+)\)$/.exec(text))) return { kind: 'reconnecting', atMs, delayMs: Number(r[1]), attempt: Number(r[2]) };
  if ((r = /^mqtt: connected to \S+ \(MQTT [\d.]+, session (resumed|new)\)$/.exec(text))) return { kind: 'connected', atMs, resumed: r[1] === 'resumed' };
  if (/^artifact \S+: no chunk for \d+ s; asking again$/.test(text)) return { kind: 'stalled', atMs };
  if (/^agent \S+ started /.test(text)) return { kind: 'started', atMs };
  return null;
}

/** `node bin/edgetune.js start` with every stderr line parsed. */
function spawnLoggedAgent(configPath: string): { child: ChildProcess; events: LogEvent[]; exits: string[]; tail: () => string } {
  const child = spawn(process.execPath, [BIN, 'start', '--config', configPath], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  const events: LogEvent[] = [];
  const exits: string[] = [];
  child.once('exit', (code, signal) => exits.push(`exit ${code ?? signal}`));
  let tail: string[] = [];
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    tail.push(line);
    if (tail.length > 400) tail = tail.slice(-200);
    if (process.env.EDGETUNE_TEST_LOG) process.stderr.write(`${line}\n`);
    const e = parseLogLine(line);
    if (e) events.push(e);
  });
  return { child, events, exits, tail: () => tail.join('\n') };
}

interface RunningAgent {
  deviceId: DeviceId;
  proc: ReturnType<typeof spawnLoggedAgent>;
  paths: AgentPaths;
  db: SqliteDatabase | null;
}

/** One round's record, printed at the end. */
interface RoundRecord {
  round: number;
  target: DeviceId | 'group';
  watched: DeviceId;
  signal: StopSignal;
  downMs: number;
  bytes: number;
  chunkSize: number;
  chunks: number;
  point: Point;
  triggerAt: number;
  /** Chunks each expected device had when the broker was stopped. */
  atStop: Record<string, number>;
  /** …and just before it was started again (chunks already in the agent's socket are written meanwhile). */
  beforeStart: Record<string, number>;
  result: PushResult;
  /** From the broker accepting connections again to each agent's reconnect, and to the operator's. */
  agentReconnectMs: Record<string, number>;
  operatorReconnectMs: number;
  stalls: number;
  /** Expected devices whose report the broker acknowledged before the push had reconnected. */
  reportedWhileAway: number;
}

describe.skipIf(!HAVE_MOSQUITTO)(`Mosquitto (persistence on) restarted ${ROUNDS} times while pushJob transfers an artifact to one or two agents`, () => {
  const fleet = fleetDir();
  let broker: PersistentMosquitto;
  const agents: RunningAgent[] = [];
  let store: OperatorStore | null = null;

  beforeAll(async () => {
    broker = persistentMosquitto(await freePort(), fleet.dir);
    await broker.start();
  });
  afterAll(async () => {
    for (const a of agents) {
      const c = a.proc.child;
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await new Promise((r) => c.once('exit', r));
      }
      a.db?.close();
    }
    store?.close();
    await broker?.stop('SIGTERM');
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  it('every transfer completes verified, pushJob survives each restart, every job reports exactly once', async () => {
    const random = mulberry32(faultSeed());
    const shuffle = <T>(xs: T[]): T[] => {
      for (let i = xs.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [xs[i], xs[j]] = [xs[j] as T, xs[i] as T];
      }
      return xs;
    };
    // the plan: each target kind equally often, a third SIGKILLs, half the outages long, in a seeded order
    const targetKinds: Array<DeviceId | 'group'> = ['dev-a', 'group', 'dev-b'];
    const targets = shuffle(Array.from({ length: ROUNDS }, (_, i) => targetKinds[i % targetKinds.length] as DeviceId | 'group'));
    const signals = shuffle(Array.from({ length: ROUNDS }, (_, i): StopSignal => (i % 3 === 2 ? 'SIGKILL' : 'SIGTERM')));
    const outages = shuffle(Array.from({ length: ROUNDS }, (_, i) => (i % 2 === 0 ? 'short' : 'long')));
    // where the stop lands: mid-transfer (15–80% of the chunks), in the tail (6–10 chunks left, most of them already
    // handed to the broker), or the instant the watched device has verified and installed the file (its report is
    // being committed and published, and it often reaches the restarted broker before the push is back)
    const POINTS = ['mid', 'tail', 'verified'] as const;
    const points = shuffle(Array.from({ length: ROUNDS }, (_, i) => POINTS[i % POINTS.length] as Point));

    for (const deviceId of DEVICES) {
      const configPath = join(fleet.dir, `${deviceId}.json`);
      const config = agentConfigObject({
        dir: fleet.dir, deviceId, groups: [GROUP], brokerUrl: broker.url, publicKey: fleet.publicKey,
        extra: { broker: { reconnectInitialMs: RECONNECT_INITIAL_MS, reconnectMaxMs: RECONNECT_MAX_MS }, logLevel: 'debug' },
      });
      writeFileSync(configPath, JSON.stringify(config));
      agents.push({ deviceId, proc: spawnLoggedAgent(configPath), paths: new AgentPaths(config.dataDir as string), db: null });
    }
    for (const a of agents) {
      try {
        await waitFor(`${a.deviceId} connected`, () => a.proc.events.some((e) => e.kind === 'connected'), 60_000);
      } catch (error) {
        throw new Error(`${String(error)}\n${a.deviceId} log:\n${a.proc.tail()}`);
      }
      await waitFor(`${a.deviceId} store`, () => existsSync(a.paths.database), 10_000);
      a.db = openDatabase(a.paths.database, AGENT_MIGRATIONS, { readonly: true });
    }
    const agentOf = (id: DeviceId): RunningAgent => agents.find((a) => a.deviceId === id) as RunningAgent;
    /** Chunks a device has committed for `sha` (received_chunks stays at the total once the artifact is complete). */
    const have = (id: DeviceId, sha: string): number =>
      ((agentOf(id).db as SqliteDatabase).prepare('SELECT received_chunks AS n FROM artifacts WHERE sha256 = ?').get(sha) as { n: number } | undefined)?.n ?? 0;

    const operatorDir = join(fleet.dir, 'operator');
    const operatorLines: string[] = [];
    const records: RoundRecord[] = [];
    const partialUses: string[] = [];

    for (let round = 0; round < ROUNDS; round++) {
      const target = targets[round] as DeviceId | 'group';
      const signal = signals[round] as StopSignal;
      const expected: DeviceId[] = target === 'group' ? [...DEVICES] : [target];
      const watched = expected[Math.floor(random() * expected.length)] as DeviceId;
      const bytes = Math.floor((4 + random() * 4) * MIB);
      const chunkSize = CHUNK_SIZES[Math.floor(random() * CHUNK_SIZES.length)] as number;
      const chunks = Math.ceil(bytes / chunkSize);
      const point = points[round] as Point;
      const triggerAt = point === 'mid' ? Math.max(1, Math.floor(chunks * (0.15 + random() * 0.65))) : point === 'tail' ? chunks - 6 - Math.floor(random() * 5) : chunks;
      const downMs = outages[round] === 'short' ? 100 + Math.floor(random() * 600) : 1500 + Math.floor(random() * 1500);
      const modelPath = join(fleet.dir, `artifact-${round}.bin`);
      writeFileSync(modelPath, randomBytes(bytes));
      const sha = sha256Of(modelPath);

      // No partial file is ever used: whenever the model file exists (looked at first), its device has every chunk.
      const checkNoPartialUse = (): void => {
        for (const id of expected) {
          const exists = existsSync(agentOf(id).paths.model(sha));
          const n = have(id, sha);
          if (exists && n < chunks) partialUses.push(`round ${round + 1}: ${id} had the model file with ${n}/${chunks} chunks`);
        }
      };

      const logStart = operatorLines.length;
      let outcome: { result: PushResult } | { error: unknown } | null = null;
      const push = pushJob({
        modelPath,
        target: target === 'group' ? { group: GROUP } : { device: target },
        action: 'ping',
        broker: { url: broker.url },
        topicPrefix: TOPIC_PREFIX,
        keyPath: fleet.privateKey,
        wait: true,
        timeoutMs: 300_000,
        chunkSizeBytes: chunkSize,
        operatorDataDir: operatorDir,
        discoveryMs: 500,
        log: createLogger('debug', (l) => {
          operatorLines.push(l.trimEnd());
          if (process.env.EDGETUNE_TEST_LOG) process.stderr.write(`[round ${round + 1}] ${l}`);
        }, 'push'),
      }).then(
        (result) => (outcome = { result }),
        (error: unknown) => (outcome = { error }),
      );
      const pushFailed = (): void => {
        const o = outcome as { error: unknown } | { result: PushResult } | null;
        if (o && 'error' in o) throw new Error(`round ${round + 1}: pushJob failed: ${String(o.error)}`);
      };

      await waitFor(`round ${round + 1}: ${watched} at ${point === 'verified' ? 'the installed file' : `${triggerAt}/${chunks} chunks`}`, () => {
        pushFailed();
        checkNoPartialUse();
        return point === 'verified' ? existsSync(agentOf(watched).paths.model(sha)) : have(watched, sha) >= triggerAt;
      }, 120_000, 5);
      const atStop: Record<string, number> = {};
      const stopAtMs = Date.now();
      await broker.stop(signal);
      for (const id of expected) atStop[id] = have(id, sha);
      checkNoPartialUse();
      await sleep(downMs);
      const beforeStart: Record<string, number> = {};
      for (const id of expected) beforeStart[id] = have(id, sha);
      checkNoPartialUse();
      const { spawnAtMs, upAtMs } = await broker.start();

      await waitFor(`round ${round + 1}: pushJob settled`, () => {
        checkNoPartialUse();
        return outcome !== null;
      }, 300_000, 10);
      await push;
      pushFailed();
      const result = (outcome as unknown as { result: PushResult }).result;
      // both agents are back before the next round (a group push discovers members by their retained status)
      const agentReconnectMs: Record<string, number> = {};
      for (const a of agents) {
        const c = await waitFor(`${a.deviceId} reconnected after restart ${round + 1}`, () => a.proc.events.find((e) => e.kind === 'connected' && e.atMs >= spawnAtMs), 60_000);
        agentReconnectMs[a.deviceId] = Math.max(0, c.atMs - upAtMs);
        expect(c.kind === 'connected' && c.resumed, `${a.deviceId} session resumed after restart ${round + 1}`).toBe(true);
        expect(a.proc.exits, `${a.deviceId} process after restart ${round + 1}`).toEqual([]);
      }
      const opEvents = operatorLines.slice(logStart).map(parseLogLine).filter((e): e is LogEvent => e !== null);
      const opConnected = opEvents.find((e) => e.kind === 'connected' && e.atMs >= spawnAtMs);
      // the operator's own connection came back after the restart (it had to, to serve the rest of the chunks)
      expect(opConnected, `round ${round + 1}: pushJob reconnected`).toBeDefined();

      // the restart interrupted the transfer (or, for 'verified', came right after the file was installed)
      if (point === 'verified') expect(atStop[watched]).toBe(chunks);
      else expect(atStop[watched], `round ${round + 1}: chunks of ${watched} at the stop`).toBeLessThan(chunks);
      // pushJob: a report from every expected device, each ok and for a stored, verified artifact
      expect(result.devices).toEqual([...expected].sort());
      expect(result.reports.map((r) => r.deviceId)).toEqual([...expected].sort());
      for (const r of result.reports) {
        expect(r.state, `round ${round + 1}: report of ${r.deviceId}`).toBe('ok');
        expect((r.pong as { artifactStored?: unknown } | undefined)?.artifactStored).toBe(true);
        expect((r.artifact as { sha256?: unknown } | null)?.sha256).toBe(sha);
      }
      expect(result.chunksSent).toBeGreaterThanOrEqual(chunks);
      store ??= new OperatorStore(join(operatorDir, 'operator.db'));
      for (const id of expected) {
        const a = agentOf(id);
        // the installed file is the artifact, and nothing of it is left in staging
        expect(sha256Of(a.paths.model(sha)), `round ${round + 1}: ${id} model file`).toBe(sha);
        expect(readdirSync(a.paths.stagingDir).filter((f) => f.startsWith(sha))).toEqual([]);
        // exactly one report for the job in the agent's store, the same one once at the operator
        const agentReports = (a.db as SqliteDatabase).prepare('SELECT report_id AS reportId FROM reports WHERE job_id = ?').all(result.jobId) as Array<{ reportId: string }>;
        expect(agentReports, `round ${round + 1}: ${id} reports in its store`).toHaveLength(1);
        const atOperator = store.listReports({ jobId: result.jobId, deviceId: id });
        expect(atOperator.map((r) => r.reportId), `round ${round + 1}: ${id} reports at the operator`).toEqual(agentReports.map((r) => r.reportId));
      }
      const stalls = agents.reduce((n, a) => n + a.proc.events.filter((e) => e.kind === 'stalled' && e.atMs >= spawnAtMs).length, 0);
      // reports the restarted broker acknowledged to a device before the push had reconnected: they waited for it in
      // the push's session (with a clean session they would be lost and the push would wait for its timeout)
      const reportedWhileAway = expected.filter((id) => {
        const row = (agentOf(id).db as SqliteDatabase).prepare('SELECT o.sent_at AS sentAt FROM reports r JOIN outbox o ON o.id = r.report_id WHERE r.job_id = ?').get(result.jobId) as { sentAt: string | null } | undefined;
        return row?.sentAt != null && Date.parse(row.sentAt) > stopAtMs && Date.parse(row.sentAt) < (opConnected as LogEvent).atMs;
      }).length;
      records.push({
        round, target, watched, signal, downMs, bytes, chunkSize, chunks, point, triggerAt, atStop, beforeStart, result, agentReconnectMs,
        operatorReconnectMs: Math.max(0, (opConnected as LogEvent).atMs - upAtMs), stalls, reportedWhileAway,
      });
      rmSync(modelPath, { force: true });
    }

    expect(partialUses).toEqual([]);
    // no stray reports: every job in the operator store came from a push of this test, one per device
    const all = (store as OperatorStore).listReports();
    const jobs = new Set(records.map((r) => r.result.jobId));
    expect(all.filter((r) => !jobs.has(r.jobId))).toEqual([]);
    expect(all).toHaveLength(records.reduce((n, r) => n + r.result.devices.length, 0));

    // the agent processes never died: one start each, a clean exit only when told
    for (const a of agents) {
      a.proc.child.kill('SIGTERM');
      const code = await new Promise((r) => a.proc.child.once('exit', (c) => r(c)));
      expect(code).toBe(0);
      expect(a.proc.exits).toEqual(['exit 0']);
      expect(a.proc.events.filter((e) => e.kind === 'started')).toHaveLength(1);
    }

    const sum = (f: (r: RoundRecord) => number): number => records.reduce((n, r) => n + f(r), 0);
    const agentMs = records.flatMap((r) => Object.values(r.agentReconnectMs)).sort((a, b) => a - b);
    const opMs = records.map((r) => r.operatorReconnectMs).sort((a, b) => a - b);
    const median = (xs: number[]): number => xs[Math.floor(xs.length / 2)] as number;
    console.log(
      `broker restart during transfers: ${ROUNDS} Mosquitto restarts (${records.filter((r) => r.signal === 'SIGKILL').length} SIGKILL), ` +
        `${sum((r) => r.result.devices.length)} transfers of ${(sum((r) => r.bytes) / MIB).toFixed(1)} MB pushed; ` +
        `chunks: ${sum((r) => r.chunks * r.result.devices.length)} needed by the devices, ${sum((r) => r.result.chunksSent)} sent, ${sum((r) => r.result.chunksResent)} of them re-sent to one device; ` +
        `stall re-requests ${sum((r) => r.stalls)}; reports published before the push had reconnected ${sum((r) => r.reportedWhileAway)}; agent reconnect after the broker accepted: median ${median(agentMs)} ms, max ${agentMs[agentMs.length - 1]} ms; ` +
        `pushJob reconnect: median ${median(opMs)} ms, max ${opMs[opMs.length - 1]} ms\n` +
        records
          .map(
            (r) =>
              `  round ${r.round + 1}: ${r.target} ${(r.bytes / MIB).toFixed(1)} MB / ${r.chunks} × ${r.chunkSize / 1024} KiB, ${r.signal} at ${r.watched} ${r.triggerAt} (${r.point}) ` +
              `(had ${Object.entries(r.atStop).map(([d, n]) => `${d} ${n}`).join(', ')}; ${Object.entries(r.beforeStart).map(([d, n]) => `${d} ${n}`).join(', ')} before the start), down ${r.downMs} ms; ` +
              `sent ${r.result.chunksSent}, re-sent ${r.result.chunksResent}; reconnect agents ${Object.entries(r.agentReconnectMs).map(([d, ms]) => `${d} ${ms}`).join(', ')} ms, pushJob ${r.operatorReconnectMs} ms; ` +
              `stalls ${r.stalls}, reported while the push was away ${r.reportedWhileAway}; push ${r.result.seconds.toFixed(1)} s`,
          )
          .join('\n'),
    );
  }, 900_000);
});
