/** Stable error codes: every error that crosses a module boundary carries one. */
export type ErrorCode =
  | 'USAGE'
  | 'MODEL_INVALID'
  | 'MODEL_UNSUPPORTED'
  | 'DATASET_INVALID'
  | 'CONFIG_INVALID'
  | 'SIGNATURE_INVALID'
  | 'ARTIFACT_INVALID'
  | 'JOB_INVALID'
  | 'LIMIT_EXCEEDED'
  | 'PASS_FAILED'
  | 'RUNTIME_FAILED'
  | 'CHILD_CRASHED'
  | 'CHILD_TIMEOUT'
  | 'CHILD_OOM'
  | 'BROKER_FAILED'
  | 'BROKER_UNREACHABLE'
  | 'STORE_FAILED'
  | 'IO_FAILED'
  | 'FIDELITY_FAILED'
  | 'ABORTED';

/** Codes that mean "the caller gave us something bad": CLI exit code 2. */
const BAD_INPUT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'USAGE',
  'MODEL_INVALID',
  'MODEL_UNSUPPORTED',
  'DATASET_INVALID',
  'CONFIG_INVALID',
  'SIGNATURE_INVALID',
  'ARTIFACT_INVALID',
  'JOB_INVALID',
  'LIMIT_EXCEEDED',
  // every node of the broker list refused the connection or does not resolve: a wrong list, not a passing fault
  'BROKER_UNREACHABLE',
]);

/** The one error class of edgetune: a message that names the thing, a stable code, an optional cause. */
export class EdgetuneError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EdgetuneError';
    this.code = code;
  }

  /** True when the error is the caller's input, not a failure at run time. */
  get isBadInput(): boolean {
    return BAD_INPUT_CODES.has(this.code);
  }
}

/** Exit code for an error per SPEC.md: 2 bad input, 1 failure at run time. */
export function exitCodeFor(error: unknown): 1 | 2 {
  return error instanceof EdgetuneError && error.isBadInput ? 2 : 1;
}

/** The error's code, or 'RUNTIME_FAILED' for anything that is not an EdgetuneError. */
export function errorCodeOf(error: unknown): ErrorCode {
  return error instanceof EdgetuneError ? error.code : 'RUNTIME_FAILED';
}

/** A one-line message for any thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
