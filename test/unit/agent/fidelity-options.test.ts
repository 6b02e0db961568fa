import { describe, expect, it } from 'vitest';
import { optionsToFlags } from '../../../src/agent/agent-services.js';
import { compressPassThrough, fidelityOptions, tunePassThrough } from '../../../src/agent/actions/job-options.js';
import type { JobContext } from '../../../src/agent/job-context.js';
import { EdgetuneError } from '../../../src/util/errors.js';

/** Only the job's action and options are read by the option helpers. */
const ctx = (options: Record<string, unknown>, action = 'deploy'): JobContext => ({ job: { action, options } }) as unknown as JobContext;

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
    const out = compressPassThrough(ctx({ method: 'int8', force: true, confidence: 0.9, noHoldout: true, maxAccuracyDrop: 1 }));
    expect(out).toEqual({ maxAccuracyDrop: 1, force: true, confidence: 0.9, holdout: false });
    expect(optionsToFlags(out)).toEqual(['--max-accuracy-drop', '1', '--force', '--confidence', '0.9', '--no-holdout']);
  });

  it('leaves the compress defaults alone when the options are absent or false', () => {
    expect(compressPassThrough(ctx({}))).toEqual({});
    expect(compressPassThrough(ctx({ force: false, noHoldout: false }))).toEqual({});
    expect(fidelityOptions(ctx({}))).toEqual({ force: false, confidence: undefined, noHoldout: false });
  });

  it('tune gets confidence and noHoldout (held-out judgement is its default), not force', () => {
    expect(optionsToFlags(tunePassThrough(ctx({ confidence: 0.9, noHoldout: true, force: true, maxAccuracyDrop: 1 }, 'tune')))).toEqual(['--max-accuracy-drop', '1', '--confidence', '0.9', '--no-holdout']);
    expect(tunePassThrough(ctx({}, 'tune'))).toEqual({});
  });

  it('passes confidence 0 (point estimates) through', () => {
    expect(optionsToFlags(compressPassThrough(ctx({ confidence: 0 })))).toEqual(['--confidence', '0']);
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
    const e = rejection(() => compressPassThrough(ctx(options, 'compress')));
    expect(e.code).toBe('JOB_INVALID');
    expect(e.message).toContain(name);
    expect(e.message).toMatch(/^compress: /);
  });
});
