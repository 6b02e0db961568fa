/**
 * Which of a device's reports the operator has not got. Every report carries the device's own sequence number
 * (1, 2, 3, … committed in the device's store), so the holes in the seqs the operator stored, up to the highest seq
 * the device says it has committed (`lastReportSeq` in its heartbeat), are exactly the reports that never arrived.
 * Pure: no store, no clock. Seq sets are kept as inclusive ranges so a bogus `lastReportSeq` cannot blow up memory.
 */
import { countSeqs, seqRanges, subtractRanges, type SeqRange } from '../util/seq-ranges.js';

/** A device's missing reports as the operator sees them. */
export interface ReportGaps {
  /** Highest seq known to exist: the largest of the stored seqs and the heartbeat's `lastReportSeq` (0: none). */
  highestSeq: number;
  /** The heartbeat's `lastReportSeq`, or null when the device has not said (no heartbeat, or an older agent). */
  lastReportSeq: number | null;
  /** Seqs in 1..highestSeq that are not stored, as ascending, disjoint, non-adjacent ranges. */
  missing: SeqRange[];
  /** How many seqs `missing` covers. */
  missingCount: number;
}

/**
 * The reports missing at the operator: every seq in 1..max(stored, lastReportSeq) that is not among `storedSeqs`.
 * Without a `lastReportSeq` only holes below the highest stored seq can be seen, not a lost newest report.
 */
export function reportGaps(storedSeqs: Iterable<number>, lastReportSeq: number | null): ReportGaps {
  const stored = seqRanges(storedSeqs);
  const maxStored = stored.length > 0 ? (stored[stored.length - 1] as SeqRange)[1] : 0;
  const last = lastReportSeq !== null && Number.isSafeInteger(lastReportSeq) && lastReportSeq >= 0 ? lastReportSeq : null;
  const highestSeq = Math.max(maxStored, last ?? 0);
  const missing = highestSeq > 0 ? subtractRanges([[1, highestSeq]], stored) : [];
  return { highestSeq, lastReportSeq: last, missing, missingCount: countSeqs(missing) };
}

/** The `lastReportSeq` of a heartbeat (parsed JSON), or null when it has none or it is not a non-negative integer. */
export function lastReportSeqOf(heartbeat: unknown): number | null {
  if (typeof heartbeat !== 'object' || heartbeat === null) return null;
  const v = (heartbeat as { lastReportSeq?: unknown }).lastReportSeq;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/** One `resend-reports` job's range. */
export interface ResendWindow {
  fromSeq: number;
  toSeq: number;
}

/** Bounds on the `resend-reports` jobs that cover a device's gaps. */
export interface ResendWindowLimits {
  /** Seqs one job may cover (the agent refuses more). */
  maxSpan: number;
  /** Two holes go into one job when at most this many stored reports lie between them (they are re-sent too). */
  maxStoredBetween: number;
  /** At most this many jobs per device; beyond it holes are merged regardless of `maxStoredBetween`. */
  maxJobs: number;
}

/** Default window limits: the agent's 10,000-seq cap, holes up to 32 stored reports apart merged, 25 jobs. */
export const DEFAULT_RESEND_LIMITS: ResendWindowLimits = { maxSpan: 10_000, maxStoredBetween: 32, maxJobs: 25 };

function windowsFor(missing: readonly SeqRange[], maxSpan: number, maxStoredBetween: number): ResendWindow[] {
  const out: ResendWindow[] = [];
  for (const [a, b] of missing) {
    let s = a;
    while (s <= b) {
      const cur = out[out.length - 1];
      if (cur && s - cur.toSeq - 1 <= maxStoredBetween) {
        const end = Math.min(b, cur.fromSeq + maxSpan - 1);
        if (end >= s) {
          cur.toSeq = end;
          s = end + 1;
          continue;
        }
      }
      const end = Math.min(b, s + maxSpan - 1);
      out.push({ fromSeq: s, toSeq: end });
      s = end + 1;
    }
  }
  return out;
}

/**
 * The `resend-reports` jobs that cover `missing`: each starts and ends on a missing seq and spans at most `maxSpan`
 * seqs; holes close together share a job (re-sending a few stored reports costs less than another round trip; the
 * operator drops them by reportId). `rest` is what did not fit in `maxJobs` jobs (ask again in a later run).
 */
export function resendWindows(missing: readonly SeqRange[], limits: ResendWindowLimits = DEFAULT_RESEND_LIMITS): { windows: ResendWindow[]; rest: SeqRange[] } {
  let windows = windowsFor(missing, limits.maxSpan, limits.maxStoredBetween);
  if (windows.length > limits.maxJobs) windows = windowsFor(missing, limits.maxSpan, Number.POSITIVE_INFINITY);
  if (windows.length <= limits.maxJobs) return { windows, rest: [] };
  const kept = windows.slice(0, limits.maxJobs);
  const lastKept = (kept[kept.length - 1] as ResendWindow).toSeq;
  return { windows: kept, rest: subtractRanges(missing, [[1, lastKept]]) };
}
