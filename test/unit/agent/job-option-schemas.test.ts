import { describe, expect, it } from 'vitest';
import {
  DETECTION_DECODERS,
  JOB_OPTION_SCHEMAS,
  MAX_DETECTION_LABELS_BYTES,
  jobOptionProblems,
  optionNamesOf,
  parseJobOptions,
} from '../../../src/agent/actions/job-option-schemas.js';
import { DECODER_NAMES } from '../../../src/detect/decoders/index.js';
import { jobOptionsFromArgs } from '../../../src/operator/job-option-args.js';
import { JOB_ACTIONS } from '../../../src/transport/messages.js';
import { EdgetuneError } from '../../../src/util/errors.js';

function refusal(fn: () => unknown): EdgetuneError {
  try {
    fn();
  } catch (error) {
    if (error instanceof EdgetuneError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('job option schemas (one per action)', () => {
  it('has a strict schema for every job action, with a description on the action and on every field (the docs tables)', () => {
    expect(Object.keys(JOB_OPTION_SCHEMAS).sort()).toEqual([...JOB_ACTIONS].sort());
    for (const action of JOB_ACTIONS) {
      const schema = JOB_OPTION_SCHEMAS[action];
      expect(schema.description, action).toBeTruthy();
      for (const [name, field] of Object.entries(schema.shape)) expect((field as { description?: string }).description, `${action}.${name}`).toBeTruthy();
      expect(schema.safeParse({ surelyNotAnOption: 1 }).success, action).toBe(false);
    }
  });

  it('keeps the option names the handlers read', () => {
    expect(optionNamesOf('ping')).toEqual(['holdMs']);
    expect(optionNamesOf('rollback')).toEqual([]);
    expect(optionNamesOf('profile').sort()).toEqual(['energy', 'iterations', 'opProfile', 'shapes', 'threads', 'variantId', 'warmup']);
    expect(optionNamesOf('delete')).toEqual(['variantId']);
    expect(optionNamesOf('activate').sort()).toEqual(['force', 'variantId']);
    expect(optionNamesOf('eval').sort()).toEqual(['detection', 'reference', 'variantId']);
    expect(optionNamesOf('resend-reports')).toEqual(['fromSeq', 'toSeq']);
    for (const name of ['method', 'activate', 'calibration', 'perChannel', 'ratio', 'targetCache', 'keepFloat', 'maxAccuracyDrop', 'biasCorrection', 'force', 'confidence', 'noHoldout', 'iterations', 'shapes']) {
      expect(optionNamesOf('deploy'), name).toContain(name);
    }
    for (const name of ['activate', 'healthMaxLatencyMs', 'maxLatencyMs', 'budgetS', 'objective', 'candidates', 'iterations', 'shapes', 'confidence', 'noHoldout']) {
      expect(optionNamesOf('tune'), name).toContain(name);
    }
    // tune has no --force and no op profile: both used to be accepted and ignored
    expect(optionNamesOf('tune')).not.toContain('force');
    expect(optionNamesOf('tune')).not.toContain('opProfile');
  });

  it('applies the handlers’ defaults', () => {
    expect(parseJobOptions('deploy', {})).toMatchObject({ method: 'plan', activate: true, force: false, noHoldout: false });
    expect(parseJobOptions('compress', {})).toMatchObject({ method: 'plan', activate: false });
    expect(parseJobOptions('tune', {})).toMatchObject({ activate: true });
    expect(parseJobOptions('ping', {})).toEqual({ holdMs: 0 });
  });

  it.each([
    ['profile', { shape: 'x=1x3x48x192' }, /^profile: options\.shape \(did you mean shapes\?\) is not a profile option; profile takes iterations, /],
    ['profile', { iterations: 'abc' }, /^profile: options\.iterations must be an integer in 1\.\.1000000, got "abc"$/],
    ['profile', { iterations: 0, warmup: -1 }, /options\.iterations must be an integer in 1\.\.1000000, got 0; options\.warmup must be an integer in 0\.\.100000, got -1/],
    ['profile', { shapes: { x: [1, 3, 0, 192] } }, /options\.shapes\.x\.2 must map input names to shapes/],
    ['profile', { shapes: 'x=1x3x48x192' }, /options\.shapes must map input names to shapes/],
    ['deploy', { method: 'int9' }, /options\.method must be one of int8, int8-dynamic, fp16, int4, prune, sparsity, lowrank, plan, none, got "int9"/],
    ['deploy', { method: 'none', calibration: 'entropy' }, /options\.calibration applies to the compression, and method 'none' compresses nothing/],
    ['deploy', { targetCache: 65536 }, /options\.targetCache must be l1, l2, l3 or a byte count, got 65536/],
    ['tune', { force: true, maxLatencyMS: 3 }, /options\.force, options\.maxLatencyMS \(did you mean maxLatencyMs\?\) are not tune options/],
    ['rollback', { variantId: 'a'.repeat(64) }, /options\.variantId is not a rollback option; rollback takes no options/],
    ['delete', {}, /options\.variantId is required/],
    ['activate', { force: 'yes' }, /options\.force must be true or false, got "yes"/],
    ['compress', { confidence: 1 }, /options\.confidence must be 0 \(point estimates\) or a number in \(0, 1\), got 1/],
  ] as const)('%s refuses %j with JOB_INVALID naming the option', (action, options, message) => {
    const e = refusal(() => parseJobOptions(action, options));
    expect(e.code).toBe('JOB_INVALID');
    expect(e.message).toMatch(message);
    expect(jobOptionProblems(action, options).length).toBeGreaterThan(0);
  });

  it('accepts shapes for profile, deploy and tune', () => {
    expect(parseJobOptions('profile', { shapes: { x: [1, 3, 48, 192] } }).shapes).toEqual({ x: [1, 3, 48, 192] });
    expect(jobOptionProblems('deploy', { shapes: { x: [1, 3, 48, 192], mask: [1, 48] } })).toEqual([]);
    expect(jobOptionProblems('tune', { shapes: { x: [1, 3, 48, 192] } })).toEqual([]);
  });
});

describe('the detection option (issue 14: a detector job, its decoder config and labels inline)', () => {
  const blazeface = { decoder: 'ssd-anchors', decoderConfig: { preset: 'blazeface-back-256' } };
  const labels = { images: [{ id: 1, file_name: 'a.jpg', width: 640, height: 480 }], annotations: [], categories: [{ id: 1, name: 'face' }] };

  it('is an option of deploy, compress, tune and eval, and of no other action', () => {
    for (const action of JOB_ACTIONS) expect(optionNamesOf(action).includes('detection'), action).toBe(['deploy', 'compress', 'tune', 'eval'].includes(action));
    expect(parseJobOptions('compress', { detection: blazeface }).detection).toEqual(blazeface);
    expect(parseJobOptions('tune', { detection: { ...blazeface, labels, refConf: 0.6 } }).detection).toEqual({ ...blazeface, labels, refConf: 0.6 });
    expect(parseJobOptions('eval', { detection: { decoder: 'yolo', labels } }).detection).toEqual({ decoder: 'yolo', labels });
    // deploy with method 'none' still evaluates (against labels), so the task is not a compress-only option
    expect(jobOptionProblems('deploy', { method: 'none', detection: { decoder: 'db-text' } })).toEqual([]);
  });

  it('names the decoders the detector code knows', () => {
    expect([...DETECTION_DECODERS].sort()).toEqual([...DECODER_NAMES].sort());
  });

  it.each([
    ['eval', { reference: 'source', detection: { ...blazeface, preset: 'x' } }, /^eval: options\.detection\.preset is not a detection option; detection takes decoder, decoderConfig, labels, refConf$/],
    ['compress', { detection: { ...blazeface, lables: {}, conf: 1 } }, /options\.detection\.lables, options\.detection\.conf are not detection options; detection takes decoder, /],
    ['tune', { detection: { decoder: 'ssd' } }, /options\.detection\.decoder must be one of ssd-anchors, yolo, db-text, got "ssd"/],
    ['deploy', { detection: {} }, /options\.detection\.decoder is required/],
    ['deploy', { detection: 'ssd-anchors' }, /options\.detection must be an object { decoder, decoderConfig\?, labels\?, refConf\? }, got "ssd-anchors"/],
    ['compress', { detection: { decoder: 'yolo', refConf: 1.5 } }, /options\.detection\.refConf must be a number in 0\.\.1, got 1\.5/],
    ['compress', { detection: { decoder: 'yolo', decoderConfig: [1, 2] } }, /options\.detection\.decoderConfig must be a JSON object \(the decoder's options\), got \[1,2\]/],
    ['eval', { detection: blazeface }, /options\.detection has no labels, so the detections are scored against a reference's: give options\.reference/],
  ] as const)('%s refuses %j with JOB_INVALID naming the option', (action, options, message) => {
    const e = refusal(() => parseJobOptions(action, options));
    expect(e.code).toBe('JOB_INVALID');
    expect(e.message).toMatch(message);
  });

  it('caps the inline labels, and does not print them back', () => {
    const big = { ...labels, info: { note: 'x'.repeat(MAX_DETECTION_LABELS_BYTES) } };
    const problems = jobOptionProblems('compress', { detection: { decoder: 'yolo', labels: big } });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.option).toBe('detection.labels');
    expect(problems[0]!.message).toMatch(/^options\.detection\.labels is \d+ bytes of JSON; a job carries at most 49152 \(48 KiB\)$/);
    const wrong = jobOptionProblems('compress', { detection: { decoder: 'yolo', labels: ['y'.repeat(1000)] } });
    expect(wrong[0]!.message.length).toBeLessThan(200);
  });

  it('push --option detection=JSON reads the object', () => {
    expect(jobOptionsFromArgs('compress', [`detection=${JSON.stringify(blazeface)}`])).toEqual({ detection: blazeface });
    expect(refusal(() => jobOptionsFromArgs('compress', ['detection={"decoder":"ssd-anchors","x":1}'])).message).toMatch(/--option detection=.*compress option detection/);
  });
});

describe('push --option KEY=VALUE, read by the schema of the action', () => {
  it('keeps a value the field takes as a string a string, else reads it as JSON', () => {
    expect(jobOptionsFromArgs('deploy', ['iterations=50', 'energy=off', 'activate=false', 'targetCache=65536', 'confidence=0.9', 'keepFloat=123'])).toEqual({
      iterations: 50,
      energy: 'off',
      activate: false,
      targetCache: '65536',
      confidence: 0.9,
      keepFloat: '123',
    });
    expect(jobOptionsFromArgs('profile', ['shapes={"x":[1,3,48,192]}'])).toEqual({ shapes: { x: [1, 3, 48, 192] } });
    expect(jobOptionsFromArgs('rollback', [])).toEqual({});
  });

  it('refuses every unknown key and bad value at once, with USAGE naming each and what it must be', () => {
    const e = refusal(() => jobOptionsFromArgs('profile', ['shape=x=1x3x48x192', 'iterations=abc', 'warmup=2', 'opProfile=yes']));
    expect(e.code).toBe('USAGE');
    expect(e.message).toContain('--option shape=x=1x3x48x192: shape is not a profile option (give input shapes with --shape NAME=DxDxD, repeatable)');
    expect(e.message).toContain('--option iterations=abc: profile option iterations must be an integer in 1..1000000');
    expect(e.message).toContain('--option opProfile=yes: profile option opProfile must be true or false');
    expect(e.message).toMatch(/profile takes iterations, warmup, threads, energy, shapes, opProfile, variantId/);
    expect(e.message).not.toContain('warmup=2');
  });

  it('refuses malformed pairs and a key given twice', () => {
    expect(refusal(() => jobOptionsFromArgs('ping', ['=1'])).message).toMatch(/must be KEY=VALUE/);
    expect(refusal(() => jobOptionsFromArgs('ping', ['a-b=1'])).message).toMatch(/plain identifier/);
    expect(refusal(() => jobOptionsFromArgs('ping', ['holdMs=1', 'holdMs=2'])).message).toMatch(/--option holdMs given twice/);
    expect(refusal(() => jobOptionsFromArgs('ping', ['holdMs=1.5'])).message).toMatch(/ping option holdMs must be an integer in 0\.\.60000/);
  });
});
