/**
 * Sets of report sequence numbers as ascending, disjoint, inclusive ranges: what the device's `resend-reports`
 * action and the operator's gap finder share. Pure. Ranges keep a bogus huge seq from blowing up memory.
 */

/** An inclusive range of seqs, `[from, to]`. */
export type SeqRange = readonly [from: number, to: number];

/** Number of seqs in a list of ranges. */
export function countSeqs(ranges: readonly SeqRange[]): number {
  return ranges.reduce((n, [a, b]) => n + (b - a + 1), 0);
}

/** Ascending, de-duplicated ranges of a list of seqs (any order, duplicates allowed; non-positive or non-integer ignored). */
export function seqRanges(seqs: Iterable<number>): SeqRange[] {
  const sorted = [...new Set(seqs)].filter((s) => Number.isSafeInteger(s) && s >= 1).sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s === last[1] + 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}

/** Whether `seq` lies in one of the ranges. */
export function inRanges(ranges: readonly SeqRange[], seq: number): boolean {
  return ranges.some(([a, b]) => seq >= a && seq <= b);
}

/** `ranges` minus `remove` (both ascending and disjoint), as ranges. */
export function subtractRanges(ranges: readonly SeqRange[], remove: readonly SeqRange[]): SeqRange[] {
  const out: SeqRange[] = [];
  for (const [a, b] of ranges) {
    let start = a;
    for (const [c, d] of remove) {
      if (d < start || c > b) continue;
      if (c > start) out.push([start, c - 1]);
      start = Math.max(start, d + 1);
      if (start > b) break;
    }
    if (start <= b) out.push([start, b]);
  }
  return out;
}

/** The union of range lists (any order, overlaps allowed), as ascending, disjoint, non-adjacent ranges. */
export function unionRanges(...lists: ReadonlyArray<readonly SeqRange[]>): SeqRange[] {
  const all = lists.flat().filter(([a, b]) => a <= b).sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [a, b] of all) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** The seqs in both `a` and `b` (each ascending and disjoint). */
export function intersectRanges(a: readonly SeqRange[], b: readonly SeqRange[]): SeqRange[] {
  return subtractRanges(a, subtractRanges(a, b));
}

/** The ranges as text: `2-4, 7`. */
export function formatRanges(ranges: readonly SeqRange[]): string {
  return ranges.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(', ');
}
