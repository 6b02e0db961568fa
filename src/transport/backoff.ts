/**
 * Reconnect delay for attempt `attempt` (0-based): exponential from `initialMs` capped at `maxMs`, with "equal
 * jitter" (half fixed, half random) so that a fleet does not reconnect in step after a broker restart.
 * `random` returns [0, 1) and is injected so that the function stays pure.
 */
export function reconnectDelayMs(attempt: number, initialMs: number, maxMs: number, random: () => number): number {
  if (!Number.isInteger(attempt) || attempt < 0) throw new RangeError(`attempt ${attempt} must be a non-negative integer`);
  if (!(initialMs > 0) || !(maxMs >= initialMs)) throw new RangeError(`need 0 < initialMs (${initialMs}) <= maxMs (${maxMs})`);
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 40));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(base / 2 + (base / 2) * r);
}
