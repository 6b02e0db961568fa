import { spawn } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { createCliServices, type AgentServices, type HardwareJson } from '../../../src/agent/agent-services.js';
import { encodeModel } from '../../../src/onnx/model-codec.js';
import { pushJob } from '../../../src/operator/push-job.js';
import { planStages } from '../../../src/operator/rollout/rollout-plan.js';
import type { RolloutStatus } from '../../../src/operator/rollout/run-rollout.js';
import { openDatabase } from '../../../src/store/database.js';
import { hugeExpand } from '../../unit/profile/profile-test-models.js';
import { agentConfig, BIN, fleetDir, HAVE_MOSQUITTO, MNIST_MLP, REPO, runCli, sha256Of, startAgent, startTestBroker, testLogger, waitFor, type TestBroker } from '../agent/fleet-harness.js';

/**
 * Issue 18, staged rollouts, through the built CLI (`npm run build` first) against 20 real agents on one real broker
 * (Mosquitto where installed, else the embedded one) and a real operator SQLite file.
 *
 * The agents run in this test's process (one Node process, 20 `Agent`s, each with its own MQTT session, SQLite store
 * and data directory), and their services are the real ones: each deploy's health-check profile is an onnxruntime
 * child process. The deploys use method 'none' and a 3-iteration profile, so a deploy costs one short child. The
 * hardware probe (`edgetune hw`, a child) runs once per device class instead of once per agent: the agents share
 * this machine, so twenty probes would give the same answer twenty times.
 *
 * The device class that fails: agents configured as a small-memory board (profile pi4 with limits.maxChildMemoryMb
 * SMALL_MEMORY_MB). The rolled-out model expands its input to HEAVY_ELEMENTS floats: its health-check profile stays
 * far below the default limit but is killed on the small boards (CHILD_OOM), so the deploy fails there and only there.
 * The baseline model (the MNIST MLP) profiles well within both limits.
 */
const DEVICES = 20;
const GROUP = 'cameras';
const SMALL_MEMORY_MB = 256;
const HEAVY_ELEMENTS = 16_000_000; // 64 MB of float32 output: about 350 MB resident in the profiling child
const PROFILE_OPTIONS = ['--option', 'method=none', '--option', 'iterations=3', '--option', 'warmup=0', '--option', 'energy=off'];
const ABORT_ID = 'ro-abort-test';
const ABORT_STAGES = [10, 50, 100];
const RESUME_ID = 'ro-resume-test';
const RESUME_STAGES = [10, 50, 100];
const RESCNN = join(REPO, 'test/fixtures/models/mnist-rescnn.onnx');

const ids = Array.from({ length: DEVICES }, (_, i) => `cam-${String(i).padStart(2, '0')}`);
// The rollout's own planner says which devices its second stage takes: a quarter of that stage's new devices are
// small boards, and one device of the last stage (never reached) as well.
const abortPlan = planStages(ABORT_ID, ids, ABORT_STAGES);
const stage2 = abortPlan[1]?.devices ?? [];
const SMALL = new Set([...stage2.slice(0, Math.round(stage2.length / 4)), ...(abortPlan[2]?.devices.slice(0, 1) ?? [])]);

/** The real CLI services of a device class, its hardware probe run once and shared by the agents of the class. */
function classServices(profile: string): AgentServices {
  const cli = createCliServices({ deviceProfile: { name: profile } });
  let probe: Promise<HardwareJson> | null = null;
  return { ...cli, probeHardware: (o) => (probe ??= cli.probeHardware(o)) };
}

function opDb(dir: string) {
  return openDatabase(join(dir, 'operator.db'), [], { readonly: true });
}

describe(`staged rollout over ${DEVICES} agents (${HAVE_MOSQUITTO ? 'Mosquitto' : 'embedded broker'})`, () => {
  const fleet = fleetDir();
  const opDir = join(fleet.dir, 'operator');
  const heavy = join(fleet.dir, 'heavy.onnx');
  let broker: TestBroker;
  const agents = new Map<string, Agent>();
  const common = (): string[] => ['--broker', broker.url, '--data-dir', opDir, '--key', fleet.privateKey];
  const liveOf = (id: string): string | undefined => agents.get(id)?.store.variantWithRole('live')?.variantId;

  beforeAll(async () => {
    expect(stage2.length).toBeGreaterThanOrEqual(4);
    writeFileSync(heavy, encodeModel(hugeExpand(HEAVY_ELEMENTS)));
    broker = await startTestBroker(HAVE_MOSQUITTO ? 'mosquitto' : 'aedes', fleet.dir);
    const small = classServices('pi4');
    const big = classServices('pi5');
    const started = await Promise.all(
      ids.map((id) =>
        startAgent(
          agentConfig({
            dir: fleet.dir,
            deviceId: id,
            groups: [GROUP],
            brokerUrl: broker.url,
            publicKey: fleet.publicKey,
            extra: SMALL.has(id) ? { deviceProfile: { name: 'pi4' }, limits: { maxChildMemoryMb: SMALL_MEMORY_MB } } : { deviceProfile: { name: 'pi5' } },
          }),
          { services: SMALL.has(id) ? small : big },
        ),
      ),
    );
    started.forEach((a, i) => agents.set(ids[i] as string, a));
    // The baseline every device runs before the rollouts (what a rollback returns to).
    const baseline = await pushJob({
      modelPath: MNIST_MLP,
      target: { group: GROUP },
      action: 'deploy',
      broker: { url: broker.url },
      topicPrefix: 'edgetune/v1',
      keyPath: fleet.privateKey,
      wait: true,
      timeoutMs: 120_000,
      chunkSizeBytes: 256 * 1024,
      operatorDataDir: opDir,
      jobOptions: { method: 'none', iterations: 3, warmup: 0, energy: 'off' },
      discoveryMs: 2000,
      log: testLogger('baseline'),
    });
    expect(baseline.reports.map((r) => [r.deviceId, r.state])).toEqual(ids.map((id) => [id, 'ok']));
  }, 180_000);

  afterAll(async () => {
    await Promise.all([...agents.values()].map((a) => a.stop()));
    await broker?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  it('stops at the stage where a quarter of the devices fail the health check, and rolls back the ones that activated', async () => {
    const mlp = sha256Of(MNIST_MLP);
    const heavySha = sha256Of(heavy);
    for (const id of ids) expect(liveOf(id)).toBe(mlp);
    const run = await runCli([
      'rollout', heavy, '--group', GROUP, '--stages', ABORT_STAGES.map((p) => `${p}%`).join(','), '--min-success', '0.95', '--abort-failure-rate', '0.1',
      '--stage-timeout-s', '120', '--rollback-on-abort', '--rollout-id', ABORT_ID, ...PROFILE_OPTIONS, ...common(), '--json',
    ]);
    expect(run.code, run.stderr).toBe(1);
    const status = JSON.parse(run.stdout) as RolloutStatus;
    expect(status.state).toBe('aborted');
    expect(status.stages.map((s) => s.state)).toEqual(['passed', 'aborted', 'pending']);
    // the recorded choice is the planner's
    for (const [i, s] of abortPlan.entries()) expect(status.devices.filter((d) => d.stage === i + 1).map((d) => d.deviceId)).toEqual(s.devices);
    const failedIn2 = status.devices.filter((d) => d.stage === 2 && d.outcome === 'failed');
    expect(failedIn2.map((d) => d.deviceId).sort()).toEqual(stage2.filter((id) => SMALL.has(id)).sort());
    for (const d of failedIn2) expect(d.reason).toMatch(/CHILD_OOM/);
    expect(status.stages[1]?.reason).toMatch(new RegExp(`${failedIn2.length} of ${stage2.length} devices failed`));
    // stage 3 was never pushed to
    const stage3 = status.devices.filter((d) => d.stage === 3);
    expect(stage3.every((d) => d.jobId === null && d.outcome === 'pending')).toBe(true);
    const db = opDb(opDir);
    try {
      const pushedTo = new Set((db.prepare('SELECT target FROM pushes WHERE artifact_sha256 = ?').all(heavySha) as Array<{ target: string }>).map((r) => r.target));
      for (const d of stage3) expect(pushedTo.has(`device:${d.deviceId}`)).toBe(false);
      expect(pushedTo.size).toBe(abortPlan[0]!.devices.length + stage2.length);
    } finally {
      db.close();
    }
    // every device that made the heavy model live was rolled back, and nothing else was
    const activated = status.devices.filter((d) => d.activated);
    expect(activated.length).toBe(abortPlan[0]!.devices.length + stage2.length - failedIn2.length);
    for (const d of status.devices) expect(d.rollback === null ? null : d.rollback.state).toBe(d.activated ? 'ok' : null);
    for (const id of ids) expect(liveOf(id), id).toBe(mlp);
    for (const d of activated) expect(agents.get(d.deviceId)?.store.variantWithRole('previous')?.variantId).toBe(heavySha);

    const text = await runCli(['rollout', 'status', ABORT_ID, '--data-dir', opDir]);
    expect(text.code).toBe(0);
    const ok2 = stage2.length - failedIn2.length;
    expect(text.stdout).toContain(`stage 2 (50%): aborted; ${stage2.length} device(s): ${ok2} succeeded, ${failedIn2.length} failed, 0 pending`);
    expect(text.stdout).toMatch(/rollback ok/);
    const again = await runCli(['rollout', '--resume', ABORT_ID, ...common()]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/has aborted .*nothing to resume/);
  }, 240_000);

  it('an operator SIGKILLed between stages, and again inside a stage, resumes with --resume and pushes to no device twice', async () => {
    const rescnn = sha256Of(RESCNN);
    const plan = planStages(RESUME_ID, ids, RESUME_STAGES);
    const spawnCli = (args: string[]) => {
      const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      return { child, exited, stderr: () => stderr };
    };
    const query = <T>(sql: string, ...params: unknown[]): T[] => {
      try {
        const db = opDb(opDir);
        try {
          return db.prepare(sql).all(...params) as T[];
        } finally {
          db.close();
        }
      } catch {
        return []; // the store is not there yet
      }
    };
    const stageState = (stage: number): string | null =>
      query<{ state: string }>('SELECT state FROM rollout_stages WHERE rollout_id = ? AND stage = ?', RESUME_ID, stage)[0]?.state ?? null;
    const pushedTo = (): string[] => query<{ target: string }>('SELECT target FROM pushes WHERE artifact_sha256 = ? ORDER BY target', rescnn).map((p) => p.target);
    const sigkill = async (run: ReturnType<typeof spawnCli>): Promise<void> => {
      run.child.kill('SIGKILL');
      expect(await run.exited).toBe(null); // killed, not finished
    };

    // 1. killed between stages: stage 1 passed, stage 2 waits out --bake-s
    const first = spawnCli(['rollout', RESCNN, '--group', GROUP, '--stages', RESUME_STAGES.map((p) => `${p}%`).join(','), '--bake-s', '5', '--stage-timeout-s', '120', '--rollout-id', RESUME_ID, ...PROFILE_OPTIONS, ...common()]);
    await waitFor(`stage 1 of ${RESUME_ID} passed`, () => stageState(1) === 'passed', 120_000, 100);
    await sigkill(first);
    expect(pushedTo()).toEqual(plan[0]!.devices.map((d) => `device:${d}`).sort());

    // 2. the resumed operator is killed again inside stage 2, once part of its jobs are published
    const second = spawnCli(['rollout', '--resume', RESUME_ID, ...common()]);
    const inside = plan[0]!.devices.length + Math.ceil(plan[1]!.devices.length / 2);
    await waitFor(`half of stage 2 pushed (${second.stderr()})`, () => pushedTo().length >= inside, 120_000, 50);
    expect(stageState(2)).toBe('running');
    await sigkill(second);
    const beforeThird = pushedTo();
    expect(beforeThird.length).toBeLessThan(DEVICES);

    // 3. resumed to the end
    const resumed = await runCli(['rollout', '--resume', RESUME_ID, ...common(), '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const status = JSON.parse(resumed.stdout) as RolloutStatus;
    expect(status.state).toBe('completed');
    expect(status.stages.map((s) => [s.state, s.succeeded, s.failed])).toEqual(plan.map((p) => ['passed', p.devices.length, 0]));
    // one push per device: no device that had its job was pushed to again
    expect(pushedTo()).toEqual(ids.map((d) => `device:${d}`).sort());
    expect(resumed.stderr).toMatch(new RegExp(`stage 2 \\(${RESUME_STAGES[1]}%\\): ${plan[1]!.devices.length} device\\(s\\): \\d+ to push, \\d+ pushed before`));
    for (const d of status.devices) expect(d.jobId).not.toBeNull();
    for (const id of ids) expect(liveOf(id), id).toBe(rescnn);
  }, 240_000);
});
