/** Number of chunks for an artifact of `bytes` split into `chunkSize` pieces (0 for an empty file). */
export function chunkCount(bytes: number, chunkSize: number): number {
  if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`bytes ${bytes} must be a non-negative integer`);
  if (!Number.isInteger(chunkSize) || chunkSize <= 0) throw new RangeError(`chunkSize ${chunkSize} must be a positive integer`);
  return Math.ceil(bytes / chunkSize);
}

/** Byte length of chunk `index` (the last one may be short). */
export function chunkLength(index: number, bytes: number, chunkSize: number): number {
  const n = chunkCount(bytes, chunkSize);
  if (!Number.isInteger(index) || index < 0 || index >= n) throw new RangeError(`chunk ${index} is outside 0..${n - 1}`);
  return index === n - 1 ? bytes - index * chunkSize : chunkSize;
}

/** Indices in 0..chunks-1 not in `received`, ascending. */
export function missingChunks(received: Iterable<number>, chunks: number): number[] {
  const have = new Set(received);
  const out: number[] = [];
  for (let i = 0; i < chunks; i++) if (!have.has(i)) out.push(i);
  return out;
}

/**
 * Next chunks to request: missing ones not already outstanding, enough to bring the outstanding count up to
 * `window`. Receiver-driven flow control keeps the broker's and the agent's buffers small.
 */
export function nextRequestBatch(missing: readonly number[], outstanding: ReadonlySet<number>, window: number): number[] {
  const room = window - outstanding.size;
  if (room <= 0) return [];
  const out: number[] = [];
  for (const i of missing) {
    if (out.length >= room) break;
    if (!outstanding.has(i)) out.push(i);
  }
  return out;
}
