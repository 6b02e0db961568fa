import { describe, expect, it } from 'vitest';
import { optionsToFlags } from '../../../src/agent/agent-services.js';
import { compressPassThrough, tunePassThrough } from '../../../src/agent/actions/job-options.js';
import { parseJobOptions } from '../../../src/agent/actions/job-option-schemas.js';
import { EdgetuneError } from '../../../src/util/errors.js';

/** The options as a handler reads them: parsed by the action's schema. */
const compressFlags = (options: Record<string, unknown>, action: 'compress' | 'deploy' = 'deploy') => compressPassThrough(parseJobOptions(action, options));
const tuneFlags = (options: Record<string, unknown>) => tunePassThrough(parseJobOptions('tune', options));

function rejection(fn: () => unknown): EdgetuneError {
  try {
    fn();
  } catch (error) {
    if (error instanceof EdgetuneError) return error;
    throw error;
  }
  throw new Error('expected a JOB_INVALID rejection');
}

describe('fidelity job options pass through to edgetune compress', () => {
  it('force, confidence and noHoldout become --force, --confidence X and --no-holdout', () => {
    const out = compressFlags({ method: 'int8', force: true, confidence: 0.9, noHoldout: true, maxAccuracyDrop: 1 });
    expect(out).toEqual({ maxAccuracyDrop: 1, force: true, confidence: 0.9, holdout: false });
    expect(optionsToFlags(out)).toEqual(['--max-accuracy-drop', '1', '--force', '--confidence', '0.9', '--no-holdout']);
  });

  it('leaves the compress defaults alone when the options are absent or false', () => {
    expect(compressFlags({})).toEqual({});
    expect(compressFlags({ force: false, noHoldout: false })).toEqual({});
    expect(parseJobOptions('deploy', {})).toMatchObject({ force: false, noHoldout: false });
    expect(parseJobOptions('deploy', {}).confidence).toBeUndefined();
  });

  it('tune gets confidence and noHoldout (held-out judgement is its default); force is not a tune option', () => {
    expect(optionsToFlags(tuneFlags({ confidence: 0.9, noHoldout: true, maxAccuracyDrop: 1 }))).toEqual(['--max-accuracy-drop', '1', '--confidence', '0.9', '--no-holdout']);
    expect(tuneFlags({})).toEqual({});
    expect(rejection(() => tuneFlags({ force: true })).message).toMatch(/^tune: options\.force is not a tune option/);
  });

  it('passes confidence 0 (point estimates) through', () => {
    expect(optionsToFlags(compressFlags({ confidence: 0 }))).toEqual(['--confidence', '0']);
  });

  it.each([
    [{ force: 'yes' }, 'options.force'],
    [{ force: 1 }, 'options.force'],
    [{ noHoldout: 'true' }, 'options.noHoldout'],
    [{ confidence: 1 }, 'options.confidence'],
    [{ confidence: 1.5 }, 'options.confidence'],
    [{ confidence: -0.1 }, 'options.confidence'],
    [{ confidence: '0.9' }, 'options.confidence'],
    [{ confidence: Number.NaN }, 'options.confidence'],
  ])('rejects %j with JOB_INVALID naming %s', (options, name) => {
    const e = rejection(() => compressFlags(options, 'compress'));
    expect(e.code).toBe('JOB_INVALID');
    expect(e.message).toContain(name);
    expect(e.message).toMatch(/^compress: /);
  });
});
