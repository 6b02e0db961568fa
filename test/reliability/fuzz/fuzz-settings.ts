/** Fuzz run settings from the environment, so that big runs and single-case reruns need no code change. */
import type { CaseRecord } from './fuzz-protocol.js';
import { MUTATION_KINDS, type MutationKind } from './model-mutations.js';

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer, got '${raw}'`);
  return n;
}

/** The settings of one run. */
export interface FuzzSettings {
  /** EDGETUNE_FUZZ_SEED: the PRNG seed (default fixed, so the default run is the same every time). */
  seed: number;
  /** EDGETUNE_FUZZ_COUNT: mutated models through the library entry points (default 1000). */
  count: number;
  /** EDGETUNE_FUZZ_CLI_COUNT: mutated models through the real CLI, split over compress, eval and profile (default 30). */
  cliCount: number;
  /** EDGETUNE_FUZZ_CASES: only these case indices (comma-separated), to rerun a finding. */
  only: number[] | null;
  /** EDGETUNE_FUZZ_KIND: force one mutation kind. */
  kind: MutationKind | undefined;
  /** EDGETUNE_FUZZ_CASE_TIMEOUT_MS: a case still running after this is a hang (default 60 s). */
  caseTimeoutMs: number;
}

/** Read the settings. */
export function fuzzSettings(): FuzzSettings {
  const kind = process.env.EDGETUNE_FUZZ_KIND;
  if (kind && !(MUTATION_KINDS as readonly string[]).includes(kind)) throw new RangeError(`EDGETUNE_FUZZ_KIND must be one of ${MUTATION_KINDS.join(', ')}`);
  const only = process.env.EDGETUNE_FUZZ_CASES;
  return {
    seed: intFromEnv('EDGETUNE_FUZZ_SEED', 20_240_611),
    count: intFromEnv('EDGETUNE_FUZZ_COUNT', 1000),
    cliCount: intFromEnv('EDGETUNE_FUZZ_CLI_COUNT', 30),
    only: only ? only.split(',').map((s) => Number(s.trim())) : null,
    kind: kind as MutationKind | undefined,
    caseTimeoutMs: intFromEnv('EDGETUNE_FUZZ_CASE_TIMEOUT_MS', 60_000),
  };
}

/** One line per finding, with the command that reruns exactly that case. */
export function describeFinding(r: CaseRecord, settings: FuzzSettings, testFile: string): string {
  const o = r.outcome;
  const what = o.kind === 'bug' ? `${o.bug} ${o.code}` : o.kind === 'harness-error' ? `harness ${o.code}` : o.kind;
  const detail = o.kind === 'bug' && o.detail ? `\n      ${o.detail.split('\n').join('\n      ')}` : '';
  return `case ${r.index} [${r.baseId}, ${r.mutation}: ${r.detail}; ${r.target}] -> ${what}: ${o.message}${detail}\n    rerun: EDGETUNE_FUZZ_SEED=${settings.seed}${settings.kind ? ` EDGETUNE_FUZZ_KIND=${settings.kind}` : ''} EDGETUNE_FUZZ_CASES=${r.index} npx vitest run ${testFile}`;
}
