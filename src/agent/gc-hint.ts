import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * A handle on V8's garbage collector for the transfer path. Every received chunk leaves a few chunk-sized Buffers
 * behind (socket reads, packet parsing); they live outside the JS heap, so V8 collects them only after tens of MB
 * have piled up. Collecting the young generation every few MB keeps the agent's RSS flat during a transfer.
 * Returns null when the runtime does not allow it (the agent then simply relies on V8's own heuristics).
 */
export function createGcHint(): ((kind: 'minor' | 'major') => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    if (typeof gc !== 'function') return null;
    return (kind) => (gc as (o?: { type: string }) => void)({ type: kind });
  } catch {
    return null;
  }
}
