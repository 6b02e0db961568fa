import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectionFlags } from '../../../src/agent/agent-services.js';
import { detectionJobOption, preparePushData, resolveJobDetection } from '../../../src/operator/detection-push.js';
import { pushJob } from '../../../src/operator/push-job.js';
import { silentLogger } from '../../../src/agent/logger.js';
import { EdgetuneError } from '../../../src/util/errors.js';

const REPO = join(import.meta.dirname, '../../..');
const FACES = join(REPO, 'test/fixtures/faces');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgetune-detection-push-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function refusal(fn: () => unknown): EdgetuneError {
  try {
    fn();
  } catch (error) {
    if (error instanceof EdgetuneError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('push --task detection: the files read into the job option', () => {
  it('puts the decoder config and the labels inline, remembering which files they came from', () => {
    const config = file('bf.json', '{"preset":"blazeface-back-256"}');
    const { option, sources } = detectionJobOption('eval', { decoder: 'ssd-anchors', decoderConfigPath: config, labelsPath: join(FACES, 'labels.json'), refConf: 0.4 });
    expect(option.decoder).toBe('ssd-anchors');
    expect(option.decoderConfig).toEqual({ preset: 'blazeface-back-256' });
    expect((option.labels as { images: unknown[] }).images).toHaveLength(9);
    expect(option.refConf).toBe(0.4);
    expect(sources).toEqual({ decoderConfig: `--decoder-config ${config}`, labels: `--labels ${join(FACES, 'labels.json')}` });
    const task = resolveJobDetection(option, sources);
    expect(task.preset.layout).toBe('nhwc');
    expect(task.labels?.images).toHaveLength(9);
  });

  it('refuses an action without a detector task, and files it cannot read or parse, naming the flag and the file', () => {
    expect(refusal(() => detectionJobOption('profile', { decoder: 'yolo' })).message).toBe('push: --task detection applies to deploy, compress, tune, eval, not to profile');
    const missing = refusal(() => detectionJobOption('eval', { decoder: 'yolo', decoderConfigPath: join(dir, 'nope.json') }));
    expect(missing.code).toBe('USAGE');
    expect(missing.message).toMatch(/^push: --decoder-config .*nope\.json cannot be read: /);
    const labels = refusal(() => detectionJobOption('eval', { decoder: 'yolo', labelsPath: file('labels.json', '{"images": [') }));
    expect(labels.code).toBe('DATASET_INVALID');
    expect(labels.message).toMatch(/^push: --labels .*labels\.json is not valid JSON: .*; nothing was sent$/);
  });

  it('resolves the task as the device will: a bad preset or bad labels are refused naming their file', () => {
    const config = file('bad.json', '{"preset":"blazeface-sideways"}');
    const e = refusal(() => resolveJobDetection({ decoder: 'ssd-anchors', decoderConfig: { preset: 'blazeface-sideways' } }, { decoderConfig: `--decoder-config ${config}` }));
    expect(e.code).toBe('USAGE');
    expect(e.message).toMatch(/blazeface-sideways/);
    expect(e.message).toMatch(/; nothing was sent$/);
    const labels = refusal(() => resolveJobDetection({ decoder: 'yolo', labels: { images: 'none' } }, { labels: '--labels coco.json' }));
    expect(labels.message).toMatch(/^push: --labels coco\.json: /);
    expect(refusal(() => resolveJobDetection({ decoder: 'retina' })).message).toMatch(/unknown decoder 'retina'; known: ssd-anchors, yolo, db-text/);
  });
});

describe('push --data: an image folder needs a detector task and MODEL', () => {
  const images = (): string => {
    const folder = join(dir, 'photos');
    mkdirSync(folder);
    copyFileSync(join(FACES, 'skimage-camera.jpg'), join(folder, 'skimage-camera.jpg'));
    return folder;
  };

  it('refuses a folder of images without --task detection, saying what it needs', () => {
    const e = refusal(() => preparePushData({ dataDir: images(), task: null }));
    expect(e.code).toBe('USAGE');
    expect(e.message).toMatch(/^push: --data .*photos is a folder of images; images are a detector's data and need --task detection --decoder NAME/);
  });

  it('refuses a folder of images without MODEL, and passes the test-data layout through untouched', () => {
    const task = resolveJobDetection({ decoder: 'yolo' });
    expect(refusal(() => preparePushData({ dataDir: images(), task })).message).toMatch(/is a folder of images: converting it needs MODEL/);
    const sets = join(dir, 'sets');
    mkdirSync(join(sets, 'test_data_set_0'), { recursive: true });
    writeFileSync(join(sets, 'test_data_set_0', 'input_0.pb'), Buffer.alloc(0));
    for (const t of [null, task]) {
      const data = preparePushData({ dataDir: sets, task: t });
      expect(data).toMatchObject({ dataDir: sets, fromImages: false, images: null });
      data.cleanup();
      expect(existsSync(join(sets, 'test_data_set_0', 'input_0.pb'))).toBe(true);
    }
  });

  it('pushJob refuses a task given both as --task detection and as --option detection, writing nothing', async () => {
    const operator = join(dir, 'operator');
    await expect(
      pushJob({
        target: { device: 'dev' },
        action: 'eval',
        dataDir: images(),
        detection: { decoder: 'yolo' },
        jobOptions: { detection: { decoder: 'yolo' }, reference: 'source' },
        broker: { url: 'mqtt://127.0.0.1:1' },
        topicPrefix: 'edgetune/v1',
        wait: false,
        timeoutMs: 1000,
        chunkSizeBytes: 65536,
        operatorDataDir: operator,
        log: silentLogger(),
      }),
    ).rejects.toThrow(/push: give the detector task with --task detection or with --option detection=…, not both/);
    expect(existsSync(join(operator, 'bundles'))).toBe(false);
  });
});

describe('detectionFlags: a job task as the flags of an eval / compress / tune child', () => {
  it('writes the inline config and labels as JSON files in the scratch directory and names them', () => {
    const scratch = join(dir, 'scratch');
    const labels = { images: [], annotations: [], categories: [{ id: 1, name: 'face' }] };
    const args = detectionFlags({ decoder: 'ssd-anchors', decoderConfig: { preset: 'blazeface-back-256' }, labels, refConf: 0.45 }, scratch);
    expect(args).toEqual(['--task', 'detection', '--decoder', 'ssd-anchors', '--decoder-config', join(scratch, 'decoder-config.json'), '--labels', join(scratch, 'labels.json'), '--ref-conf', '0.45']);
    expect(JSON.parse(readFileSync(join(scratch, 'decoder-config.json'), 'utf8'))).toEqual({ preset: 'blazeface-back-256' });
    expect(JSON.parse(readFileSync(join(scratch, 'labels.json'), 'utf8'))).toEqual(labels);
  });

  it('passes file paths through and writes nothing for them', () => {
    const scratch = join(dir, 'scratch');
    expect(detectionFlags({ decoder: 'yolo', decoderConfigPath: '/cfg.json', labelsPath: '/coco.json' }, scratch)).toEqual(['--task', 'detection', '--decoder', 'yolo', '--decoder-config', '/cfg.json', '--labels', '/coco.json']);
    expect(detectionFlags({ decoder: 'db-text' }, scratch)).toEqual(['--task', 'detection', '--decoder', 'db-text']);
    expect(existsSync(scratch) ? readdirSync(scratch) : []).toEqual([]);
  });
});
