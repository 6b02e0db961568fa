import { createHash } from 'node:crypto';
import { EdgetuneError } from '../../util/errors.js';

/**
 * Pure planning of a staged rollout (issue 18): stage sizes, which devices each stage takes, whether a device's
 * report counts as a success, and whether a stage advances, halts or aborts the rollout. No clock, network or disk:
 * the adapter (run-rollout.ts) pushes, waits and stores.
 */

/** Success criteria and thresholds of a rollout, as the operator gave them (checked by {@link checkRolloutCriteria}). */
export interface RolloutCriteria {
  /** Cumulative shares of the group, percent, strictly increasing, the last 100 (e.g. [5, 25, 100]). */
  stagesPercent: number[];
  /** Share of a stage's devices that must succeed before the next stage starts, in [0, 1]. */
  minSuccess: number;
  /** Share of a stage's devices whose failure aborts the rollout (strictly more than this), in [0, 1]. */
  abortFailureRate: number;
  /** A report's p50 latency (ms) above this is a failure (null: no latency bound). */
  maxLatencyMs: number | null;
}

/** How one device fared in its stage. */
export type DeviceOutcome = 'pending' | 'succeeded' | 'failed';

/** A device's report judged against the criteria. */
export interface ReportJudgement {
  outcome: 'succeeded' | 'failed';
  /** The device made the rollout's model live (a rollback applies to it). */
  activated: boolean;
  /** The p50 latency the report carries (ms), null when it has none. */
  latencyMs: number | null;
  /** Why it failed (null on success). */
  reason: string | null;
}

/** What a stage's outcomes mean for the rollout. */
export type StageDecision =
  | { decision: 'wait' }
  | { decision: 'passed'; succeeded: number; failed: number }
  | { decision: 'halted'; succeeded: number; failed: number; reason: string }
  | { decision: 'abort'; succeeded: number; failed: number; reason: string };

/** Tolerance for comparing shares of small integer counts with thresholds given as decimals. */
const EPS = 1e-9;

/**
 * Parse `--stages 5%,25%,100%` (the % sign is optional): cumulative percentages, each in (0, 100], strictly
 * increasing, the last exactly 100. USAGE naming the problem otherwise.
 */
export function parseStages(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) throw new EdgetuneError('USAGE', `rollout: --stages '${text}' must be a comma-separated list of percentages such as 5%,25%,100%`);
  const out: number[] = [];
  for (const p of parts) {
    const m = /^(\d+(?:\.\d+)?)%?$/.exec(p);
    const v = m ? Number(m[1]) : Number.NaN;
    if (!Number.isFinite(v) || v <= 0 || v > 100) throw new EdgetuneError('USAGE', `rollout: --stages '${text}': '${p}' is not a percentage in (0, 100]`);
    const last = out[out.length - 1];
    if (last !== undefined && v <= last) throw new EdgetuneError('USAGE', `rollout: --stages '${text}' must increase: ${p} does not exceed ${last}%`);
    out.push(v);
  }
  if (out[out.length - 1] !== 100) throw new EdgetuneError('USAGE', `rollout: --stages '${text}' must end at 100% (the last stage is the whole group)`);
  return out;
}

/** Check a share given on the command line: a number in [0, 1], else USAGE naming the flag. */
export function checkShare(flag: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new EdgetuneError('USAGE', `rollout: --${flag} ${String(value)} must be a number in [0, 1] (a share of a stage's devices)`);
  }
  return value;
}

/** Check the whole criteria object (stages, shares, latency bound): USAGE naming the first problem. */
export function checkRolloutCriteria(c: RolloutCriteria): RolloutCriteria {
  parseStages(c.stagesPercent.map((p) => `${p}%`).join(','));
  checkShare('min-success', c.minSuccess);
  checkShare('abort-failure-rate', c.abortFailureRate);
  if (c.maxLatencyMs !== null && !(Number.isFinite(c.maxLatencyMs) && c.maxLatencyMs > 0)) {
    throw new EdgetuneError('USAGE', `rollout: --max-latency-ms ${String(c.maxLatencyMs)} must be a positive number of milliseconds`);
  }
  return c;
}

/**
 * How many devices the rollout has reached by the end of each stage (cumulative), for a group of `deviceCount`:
 * ceil(share × count), at least one device in the first stage of a non-empty group, the last stage the whole group.
 */
export function cumulativeStageCounts(stagesPercent: readonly number[], deviceCount: number): number[] {
  if (!Number.isInteger(deviceCount) || deviceCount < 0) throw new RangeError(`deviceCount ${deviceCount} must be a non-negative integer`);
  const out: number[] = [];
  let prev = 0;
  stagesPercent.forEach((p, i) => {
    let n = i === stagesPercent.length - 1 ? deviceCount : Math.ceil((p * deviceCount) / 100 - EPS);
    if (i === 0 && deviceCount > 0) n = Math.max(1, n);
    n = Math.min(deviceCount, Math.max(prev, n));
    out.push(n);
    prev = n;
  });
  return out;
}

/** The rank key of a device in a rollout: sha256 of `rolloutId` and the device id (hex). */
export function deviceRankKey(rolloutId: string, deviceId: string): string {
  return createHash('sha256').update(`${rolloutId}\n${deviceId}`).digest('hex');
}

/**
 * The devices in rollout order: sorted by a hash of the rollout id and the device id, so that the order is fixed for
 * a rollout (and recorded), differs between rollouts, and does not favour devices by name.
 */
export function orderDevices(rolloutId: string, deviceIds: readonly string[]): string[] {
  return [...new Set(deviceIds)]
    .map((id) => ({ id, key: deviceRankKey(rolloutId, id) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id.localeCompare(b.id)))
    .map((d) => d.id);
}

/** Assign each device its stage (1-based): the rollout order cut at the cumulative stage counts. */
export function planStages(rolloutId: string, deviceIds: readonly string[], stagesPercent: readonly number[]): Array<{ stage: number; percent: number; devices: string[] }> {
  const order = orderDevices(rolloutId, deviceIds);
  const counts = cumulativeStageCounts(stagesPercent, order.length);
  return stagesPercent.map((percent, i) => ({ stage: i + 1, percent, devices: order.slice(i === 0 ? 0 : (counts[i - 1] as number), counts[i] as number) }));
}

function numberAt(v: unknown, ...path: string[]): number | null {
  let cur: unknown = v;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null) return null;
    cur = (cur as Record<string, unknown>)[k];
  }
  return typeof cur === 'number' && Number.isFinite(cur) ? cur : null;
}

/**
 * Judge a device's report of the rollout's job: a success is a report in state ok whose model went live (the deploy's
 * own fidelity gate and health-check profile passed, or the tune's health check), with a p50 latency within
 * `maxLatencyMs` when one is given. Delivery alone is not success.
 */
export function judgeReport(report: Record<string, unknown>, criteria: Pick<RolloutCriteria, 'maxLatencyMs'>): ReportJudgement {
  const activated = report.activated === true;
  const latencyMs = numberAt(report, 'profile', 'latencyMs', 'p50') ?? numberAt(report, 'health', 'latencyMs');
  const fail = (reason: string): ReportJudgement => ({ outcome: 'failed', activated, latencyMs, reason });
  if (report.state !== 'ok') {
    const error = (report.error ?? {}) as { code?: unknown; message?: unknown };
    return fail(`${typeof error.message === 'string' ? error.message : `report state ${String(report.state)}`} [${typeof error.code === 'string' ? error.code : '?'}]`);
  }
  const health = report.health as { ok?: unknown; reason?: unknown } | undefined;
  if (health && health.ok === false) return fail(`health check failed: ${typeof health.reason === 'string' ? health.reason : 'no reason given'}`);
  if (report.rolledBack === true) return fail('the device rolled the model back itself');
  const fidelity = report.fidelity as { passed?: unknown } | null | undefined;
  if (fidelity && fidelity.passed === false && report.forced !== true) return fail('the fidelity gate failed');
  if (!activated) return fail('the model was not made live (activated: false)');
  if (criteria.maxLatencyMs !== null) {
    if (latencyMs === null) return fail(`the report carries no p50 latency to hold against --max-latency-ms ${criteria.maxLatencyMs}`);
    if (latencyMs > criteria.maxLatencyMs) return fail(`p50 latency ${latencyMs.toFixed(3)} ms exceeds --max-latency-ms ${criteria.maxLatencyMs}`);
  }
  return { outcome: 'succeeded', activated, latencyMs, reason: null };
}

/**
 * The decision on a stage from its devices' outcomes. While devices are pending (and the stage has not timed out)
 * the answer is 'wait'; once every device has an outcome (a timed-out stage counts its pending devices as failed):
 * failures above `abortFailureRate` abort the rollout, else a success share of at least `minSuccess` passes the stage,
 * else the rollout halts (it stops without rolling back). An empty stage passes.
 */
export function decideStage(outcomes: readonly DeviceOutcome[], o: { timedOut: boolean; minSuccess: number; abortFailureRate: number }): StageDecision {
  const size = outcomes.length;
  const succeeded = outcomes.filter((x) => x === 'succeeded').length;
  const pending = outcomes.filter((x) => x === 'pending').length;
  if (pending > 0 && !o.timedOut) return { decision: 'wait' };
  const failed = size - succeeded;
  if (size === 0) return { decision: 'passed', succeeded: 0, failed: 0 };
  const failRate = failed / size;
  const timedOutNote = pending > 0 ? ` (${pending} without a report when the stage timed out)` : '';
  if (failRate > o.abortFailureRate + EPS) {
    return { decision: 'abort', succeeded, failed, reason: `${failed} of ${size} devices failed${timedOutNote}: ${pct(failRate)} exceeds --abort-failure-rate ${o.abortFailureRate}` };
  }
  const successRate = succeeded / size;
  if (successRate + EPS >= o.minSuccess) return { decision: 'passed', succeeded, failed };
  return { decision: 'halted', succeeded, failed, reason: `${succeeded} of ${size} devices succeeded${timedOutNote}: ${pct(successRate)} is below --min-success ${o.minSuccess}` };
}

function pct(share: number): string {
  return `${(share * 100).toFixed(1)} %`;
}
