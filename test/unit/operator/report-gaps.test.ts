import { describe, expect, it } from 'vitest';
import { lastReportSeqOf, reportGaps, resendWindows } from '../../../src/operator/report-gaps.js';
import { countSeqs, formatRanges, intersectRanges, seqRanges, subtractRanges, unionRanges } from '../../../src/util/seq-ranges.js';

describe('reportGaps', () => {
  it('finds holes between stored seqs', () => {
    const g = reportGaps([1, 2, 5, 6, 9], null);
    expect(g.missing).toEqual([
      [3, 4],
      [7, 8],
    ]);
    expect(g.missingCount).toBe(4);
    expect(g.highestSeq).toBe(9);
    expect(g.lastReportSeq).toBeNull();
  });

  it('sees a lost newest report only through the heartbeat lastReportSeq', () => {
    expect(reportGaps([1, 2, 3], null).missingCount).toBe(0);
    const g = reportGaps([1, 2, 3], 6);
    expect(g.missing).toEqual([[4, 6]]);
    expect(g.missingCount).toBe(3);
    expect(g.highestSeq).toBe(6);
    expect(g.lastReportSeq).toBe(6);
  });

  it('counts everything up to lastReportSeq as missing when nothing is stored, and nothing without a heartbeat', () => {
    expect(reportGaps([], 4)).toEqual({ highestSeq: 4, lastReportSeq: 4, missing: [[1, 4]], missingCount: 4 });
    expect(reportGaps([], null)).toEqual({ highestSeq: 0, lastReportSeq: null, missing: [], missingCount: 0 });
    expect(reportGaps([], 0).missingCount).toBe(0);
  });

  it('ignores duplicates and order, and a stale heartbeat below the stored seqs', () => {
    const g = reportGaps([4, 1, 4, 2, 1, 2], 3);
    expect(g.missing).toEqual([[3, 3]]);
    expect(g.highestSeq).toBe(4);
    expect(reportGaps([3, 2, 1, 1], 2).missingCount).toBe(0);
  });

  it('stays small for a huge lastReportSeq (ranges, not lists)', () => {
    const g = reportGaps([1, 2], 2 ** 40);
    expect(g.missing).toEqual([[3, 2 ** 40]]);
    expect(g.missingCount).toBe(2 ** 40 - 2);
  });

  it('treats a malformed lastReportSeq as not said', () => {
    expect(reportGaps([1], -1).lastReportSeq).toBeNull();
    expect(reportGaps([1], 2.5).lastReportSeq).toBeNull();
    expect(reportGaps([1], Number.NaN).missingCount).toBe(0);
  });
});

describe('lastReportSeqOf', () => {
  it('reads a non-negative integer and nothing else', () => {
    expect(lastReportSeqOf({ lastReportSeq: 7 })).toBe(7);
    expect(lastReportSeqOf({ lastReportSeq: 0 })).toBe(0);
    expect(lastReportSeqOf({})).toBeNull();
    expect(lastReportSeqOf(null)).toBeNull();
    expect(lastReportSeqOf({ lastReportSeq: '7' })).toBeNull();
    expect(lastReportSeqOf({ lastReportSeq: -3 })).toBeNull();
    expect(lastReportSeqOf({ lastReportSeq: 1.5 })).toBeNull();
  });
});

describe('range helpers', () => {
  it('seqRanges merges consecutive seqs and drops non-positive ones', () => {
    expect(seqRanges([5, 3, 4, 9, 9, 0, -2, 1.5])).toEqual([
      [3, 5],
      [9, 9],
    ]);
    expect(seqRanges([])).toEqual([]);
  });

  it('subtract, intersect, union, count and format', () => {
    expect(subtractRanges([[1, 10]], [[3, 4], [8, 20]])).toEqual([
      [1, 2],
      [5, 7],
    ]);
    expect(subtractRanges([[1, 3], [6, 9]], [])).toEqual([
      [1, 3],
      [6, 9],
    ]);
    expect(subtractRanges([[1, 3]], [[1, 3]])).toEqual([]);
    expect(intersectRanges([[1, 10]], [[0, 2], [5, 6], [10, 12]])).toEqual([
      [1, 2],
      [5, 6],
      [10, 10],
    ]);
    expect(unionRanges([[5, 7]], [[1, 2], [3, 4], [6, 9]], [])).toEqual([
      [1, 9],
    ]);
    expect(countSeqs([[1, 3], [7, 7]])).toBe(4);
    expect(formatRanges([[2, 4], [7, 7]])).toBe('2-4, 7');
  });
});

describe('resendWindows', () => {
  const limits = { maxSpan: 10, maxStoredBetween: 2, maxJobs: 5 };

  it('one window for a contiguous hole; holes close together share a window', () => {
    expect(resendWindows([[3, 5]], limits)).toEqual({ windows: [{ fromSeq: 3, toSeq: 5 }], rest: [] });
    expect(resendWindows([[3, 3], [6, 6]], limits).windows).toEqual([{ fromSeq: 3, toSeq: 6 }]);
    expect(resendWindows([[3, 3], [7, 7]], limits).windows).toEqual([
      { fromSeq: 3, toSeq: 3 },
      { fromSeq: 7, toSeq: 7 },
    ]);
  });

  it('never spans more than maxSpan seqs and starts and ends on missing seqs', () => {
    const { windows } = resendWindows([[1, 25]], limits);
    expect(windows).toEqual([
      { fromSeq: 1, toSeq: 10 },
      { fromSeq: 11, toSeq: 20 },
      { fromSeq: 21, toSeq: 25 },
    ]);
    const merged = resendWindows([[1, 8], [10, 14]], limits).windows;
    expect(merged).toEqual([
      { fromSeq: 1, toSeq: 10 },
      { fromSeq: 11, toSeq: 14 },
    ]);
    for (const w of merged) expect(w.toSeq - w.fromSeq + 1).toBeLessThanOrEqual(limits.maxSpan);
  });

  it('merges far holes when there would be too many jobs, and leaves what does not fit as rest', () => {
    const far = [1, 5, 9, 13, 17, 21].map((s) => [s, s] as const);
    expect(resendWindows(far, limits).windows).toEqual([
      { fromSeq: 1, toSeq: 9 },
      { fromSeq: 13, toSeq: 21 },
    ]);
    const huge = resendWindows([[1, 100]], limits);
    expect(huge.windows).toHaveLength(5);
    expect(huge.windows[4]).toEqual({ fromSeq: 41, toSeq: 50 });
    expect(huge.rest).toEqual([[51, 100]]);
  });

  it('nothing missing, no window', () => {
    expect(resendWindows([], limits)).toEqual({ windows: [], rest: [] });
  });
});
