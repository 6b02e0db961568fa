/**
 * Issue 8, "Faults": a profiling child that segfaults, hangs or exhausts memory, round after round. The agent is a
 * real `node bin/edgetune.js start` process; each round pushes a signed profile job whose child fails one of three
 * ways, then a ping job that must still be served. The agent's VmRSS after the last round is compared with the
 * one after the first round (the first round loads the profiling modules).
 *
 * Injection: hang = mnist-mlp with 1,000,000 iterations under limits.maxProfileSeconds = 3 (the child is killed at
 * the limit); memory = a valid ConstantOfShape model that fills 1.6 GB under limits.maxChildMemoryMb = 400;
 * segfault = SIGSEGV sent to the running profile child (the agent sees exactly what a native crash gives it: a
 * child that died by SIGSEGV). Rounds: EDGETUNE_FAULT_ROUNDS (default 7 rounds of the three kinds = 21 faulting
 * jobs, ~45 s; EDGETUNE_FAULT_ROUNDS=20 gives the issue's 20 of each kind).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMessage, type ReportMessage } from '../../src/transport/messages.js';
import { parsePrivateKey } from '../../src/transport/signature.js';
import {
  agentConfigObject, fleetDir, HAVE_MOSQUITTO, ManualOperator, MNIST_MLP, pingJob, sha256Of, signedJobFor, spawnAgentProcess, startTestBroker, waitFor, type TestBroker,
} from '../integration/agent/fleet-harness.js';
import { childPids, faultRounds, memoryHogModel, vmRssBytes } from './faults/fault-settings.js';

/** A process's command line; '' when it has exited between listing and reading (/proc/PID is gone). */
function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

const ROUNDS = faultRounds(7);
const CHUNK = 64 * 1024;
const RSS_TOLERANCE_BYTES = 40 * 1024 * 1024;

describe.skipIf(!HAVE_MOSQUITTO)('profiling child that segfaults, hangs or exhausts memory (Mosquitto, agent process)', () => {
  const fleet = fleetDir();
  let broker: TestBroker;
  let op: ManualOperator;
  let agent: ReturnType<typeof spawnAgentProcess> | null = null;

  beforeAll(async () => {
    broker = await startTestBroker('mosquitto', fleet.dir);
    op = new ManualOperator(broker.url);
    await op.connect();
  });
  afterAll(async () => {
    if (agent && agent.child.exitCode === null && agent.child.signalCode === null) {
      agent.child.kill('SIGKILL');
      await new Promise((r) => agent?.child.once('exit', r));
    }
    await op?.close();
    await broker?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  it(`${ROUNDS} rounds of segfault + hang + out-of-memory: each a failed report with the child's error, the agent serves the next job, VmRSS does not grow`, async () => {
    const configPath = join(fleet.dir, 'agent.json');
    writeFileSync(
      configPath,
      JSON.stringify(agentConfigObject({ dir: fleet.dir, deviceId: 'dev', brokerUrl: broker.url, publicKey: fleet.publicKey, extra: { limits: { maxProfileSeconds: 3, maxChildMemoryMb: 400 } } })),
    );
    const key = parsePrivateKey(readFileSync(fleet.privateKey), 'key');
    const hogPath = join(fleet.dir, 'hog.onnx');
    writeFileSync(hogPath, memoryHogModel(400 * 1024 * 1024));
    const models = { hang: MNIST_MLP, segv: MNIST_MLP, oom: hogPath } as const;
    for (const p of new Set(Object.values(models))) op.serve(sha256Of(p), p, CHUNK);
    // the artifacts' manifests, retained: the agent asks for the chunks only once
    for (const p of new Set(Object.values(models))) {
      const { manifest } = signedJobFor({ path: p, deviceId: 'dev', action: 'profile', chunkSize: CHUNK, key });
      await op.publish(op.topics.manifest(manifest.sha256), encodeMessage('manifest', manifest), true);
    }

    agent = spawnAgentProcess(configPath);
    const pid = agent.child.pid as number;
    await waitFor('agent online', () => op.statuses.get('dev') === 'online', 60_000);

    const outcomes: Array<{ round: number; kind: string; code: string | undefined }> = [];
    let rssAfterFirst = 0;
    let rssAfterLast = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of ['segv', 'hang', 'oom'] as const) {
        const options = kind === 'oom' ? { iterations: 1, warmup: 0 } : { iterations: 1_000_000, warmup: 0 };
        const { job } = signedJobFor({ path: models[kind], deviceId: 'dev', action: 'profile', chunkSize: CHUNK, key, options });
        await op.publish(op.topics.device('dev', 'jobs'), encodeMessage('jobs', job));
        if (kind === 'segv') {
          const victim = await waitFor('the profile child', () => childPids(pid).find((c) => cmdlineOf(c).includes('profile-worker')), 30_000, 20);
          process.kill(victim, 'SIGSEGV');
        }
        const report: ReportMessage = await op.report(job.jobId, 60_000);
        outcomes.push({ round, kind, code: report.error?.code });
        expect(report.state, `${kind} round ${round}: ${JSON.stringify(report.error)}`).toBe('failed');
        // the next job is served by the same agent process
        const ping = pingJob('dev', key);
        await op.publish(op.topics.device('dev', 'jobs'), encodeMessage('jobs', ping));
        expect((await op.report(ping.jobId, 30_000)).state).toBe('ok');
        expect(agent.child.exitCode).toBeNull();
      }
      // no profiling child outlives its job
      expect(childPids(pid).filter((c) => readFileSync(`/proc/${c}/cmdline`, 'utf8').includes('profile-worker'))).toEqual([]);
      if (round === 0) rssAfterFirst = vmRssBytes(pid);
      rssAfterLast = vmRssBytes(pid);
    }
    console.log(`child faults: ${outcomes.length} faulting jobs, codes ${JSON.stringify(outcomes.reduce<Record<string, number>>((a, o) => ({ ...a, [`${o.kind}:${o.code}`]: (a[`${o.kind}:${o.code}`] ?? 0) + 1 }), {}))}; agent VmRSS after round 1 ${(rssAfterFirst / 2 ** 20).toFixed(1)} MB, after round ${ROUNDS} ${(rssAfterLast / 2 ** 20).toFixed(1)} MB`);
    expect(outcomes.filter((o) => o.kind === 'segv').every((o) => o.code === 'CHILD_CRASHED')).toBe(true);
    expect(outcomes.filter((o) => o.kind === 'hang').every((o) => o.code === 'CHILD_TIMEOUT')).toBe(true);
    expect(outcomes.filter((o) => o.kind === 'oom').every((o) => o.code === 'CHILD_OOM')).toBe(true);
    expect(rssAfterLast - rssAfterFirst).toBeLessThan(RSS_TOLERANCE_BYTES);
  }, 600_000);
});
