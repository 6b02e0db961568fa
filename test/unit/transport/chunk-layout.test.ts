import { describe, expect, it } from 'vitest';
import { reconnectDelayMs } from '../../../src/transport/backoff.js';
import { chunkCount, chunkLength, missingChunks, nextRequestBatch } from '../../../src/transport/chunk-layout.js';

describe('chunk layout', () => {
  it('counts chunks and sizes the last one', () => {
    expect(chunkCount(0, 10)).toBe(0);
    expect(chunkCount(10, 10)).toBe(1);
    expect(chunkCount(11, 10)).toBe(2);
    expect(chunkLength(0, 11, 10)).toBe(10);
    expect(chunkLength(1, 11, 10)).toBe(1);
    expect(() => chunkLength(2, 11, 10)).toThrow(RangeError);
    expect(() => chunkCount(10, 0)).toThrow(RangeError);
  });

  it('lists missing chunks and fills the request window without repeats', () => {
    const missing = missingChunks([0, 2, 5], 8);
    expect(missing).toEqual([1, 3, 4, 6, 7]);
    expect(nextRequestBatch(missing, new Set([1]), 3)).toEqual([3, 4]);
    expect(nextRequestBatch(missing, new Set([1, 3, 4]), 3)).toEqual([]);
    expect(nextRequestBatch([], new Set(), 16)).toEqual([]);
  });
});

describe('reconnectDelayMs', () => {
  it('grows exponentially to the cap with jitter between half and all of the step', () => {
    expect(reconnectDelayMs(0, 1000, 60_000, () => 0)).toBe(500);
    expect(reconnectDelayMs(0, 1000, 60_000, () => 1)).toBe(1000);
    expect(reconnectDelayMs(3, 1000, 60_000, () => 0.5)).toBe(6000);
    expect(reconnectDelayMs(50, 1000, 60_000, () => 1)).toBe(60_000);
    expect(reconnectDelayMs(50, 1000, 60_000, () => 0)).toBe(30_000);
  });

  it('spreads a fleet: different random draws give different delays', () => {
    const delays = new Set([0.1, 0.3, 0.6, 0.9].map((r) => reconnectDelayMs(4, 1000, 60_000, () => r)));
    expect(delays.size).toBe(4);
  });

  it('refuses nonsense input', () => {
    expect(() => reconnectDelayMs(-1, 1000, 2000, Math.random)).toThrow(RangeError);
    expect(() => reconnectDelayMs(0, 3000, 2000, Math.random)).toThrow(RangeError);
  });
});
