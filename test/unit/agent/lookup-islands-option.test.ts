import { describe, expect, it } from 'vitest';
import { optionsToFlags } from '../../../src/agent/agent-services.js';
import { compressPassThrough } from '../../../src/agent/actions/job-options.js';
import { parseJobOptions } from '../../../src/agent/actions/job-option-schemas.js';

describe('job option lookupIslands', () => {
  it('reaches edgetune compress as --no-lookup-islands, and is left out when not given (the CLI default: on)', () => {
    const off = compressPassThrough(parseJobOptions('compress', { method: 'int8', lookupIslands: false }));
    expect(off.lookupIslands).toBe(false);
    expect(optionsToFlags(off)).toContain('--no-lookup-islands');
    const absent = compressPassThrough(parseJobOptions('deploy', { method: 'int8' }));
    expect(absent).not.toHaveProperty('lookupIslands');
  });

  it('is refused unless a boolean', () => {
    expect(() => parseJobOptions('compress', { method: 'int8', lookupIslands: 'no' })).toThrow(/lookupIslands/);
  });
});

describe('job option hardSwishProduct', () => {
  it('reaches edgetune compress as --no-hard-swish-product (the flag the CLI defines), and is left out when not given', () => {
    const off = compressPassThrough(parseJobOptions('compress', { method: 'int8', hardSwishProduct: false }));
    expect(optionsToFlags(off)).toEqual(['--no-hard-swish-product']);
    expect(compressPassThrough(parseJobOptions('compress', { method: 'int8' }))).not.toHaveProperty('hardSwishProduct');
    expect(() => parseJobOptions('compress', { method: 'int8', hardSwishProduct: 1 })).toThrow(/hardSwishProduct/);
  });
});
