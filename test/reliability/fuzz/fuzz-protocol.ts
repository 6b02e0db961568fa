/** Messages between the fuzz harness (parent) and the fuzz worker process (child), and case outcomes. */
import type { MutationKind } from './model-mutations.js';

/** How one case ended. `bug` and the harness-detected kinds are findings; `refused` and `ok` are the contract. */
export type CaseOutcome =
  | { kind: 'refused'; code: string; message: string }
  | { kind: 'ok'; message: string }
  | {
      kind: 'bug';
      bug: 'not-an-edgetune-error' | 'run-time-code' | 'stray-files' | 'file-left-behind' | 'output-does-not-load' | 'invalid-result' | 'hang' | 'crash' | 'memory' | 'unhandled-rejection';
      code: string;
      message: string;
      detail?: string;
    }
  | { kind: 'harness-error'; code: string; message: string };

/** Parent → child. */
export type ParentToChild =
  | { type: 'init'; seed: number; workDir: string; repoRoot: string; forceKind?: MutationKind }
  | { type: 'run'; index: number }
  | { type: 'exit' };

/** Child → parent. */
export type ChildToParent =
  | { type: 'ready' }
  | { type: 'case'; index: number; baseId: string; mutation: string; detail: string; target: string; bytes: number }
  | { type: 'done'; index: number; outcome: CaseOutcome; ms: number }
  | { type: 'unhandled'; index: number | null; message: string };

/** A finished case with what the parent knows about it. */
export interface CaseRecord {
  index: number;
  baseId: string;
  mutation: string;
  detail: string;
  target: string;
  outcome: CaseOutcome;
  ms: number;
}
