import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EdgetuneError, type ErrorCode } from '../util/errors.js';

/** bin/edgetune.js of this installation (src/agent and dist/agent are both two levels below the package root). */
export const EDGETUNE_BIN = fileURLToPath(new URL('../../bin/edgetune.js', import.meta.url));

/** Caller input for {@link runCliChild}. */
export interface CliChildOptions {
  /** Wall-clock limit; the child is SIGKILLed after it. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Working directory (a private scratch directory). */
  cwd: string;
  /** Largest stdout accepted (the JSON result), default 32 MiB. */
  maxStdoutBytes?: number;
  /** Extra environment variables (the child otherwise gets only PATH, HOME, LANG). */
  env?: Record<string, string>;
  /** Called with each complete stderr line (progress and logs of the child). */
  onStderrLine?: (line: string) => void;
  /** Take a JSON result without an `error` member as the result even when the exit code is 1 (e.g. `tune` finding no
   * candidate within the constraints still prints the whole search). */
  resultOnExitOne?: boolean;
}

const KNOWN_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'USAGE', 'MODEL_INVALID', 'MODEL_UNSUPPORTED', 'DATASET_INVALID', 'CONFIG_INVALID', 'SIGNATURE_INVALID', 'ARTIFACT_INVALID',
  'JOB_INVALID', 'LIMIT_EXCEEDED', 'PASS_FAILED', 'RUNTIME_FAILED', 'CHILD_CRASHED', 'CHILD_TIMEOUT', 'CHILD_OOM', 'BROKER_FAILED',
  'STORE_FAILED', 'IO_FAILED', 'FIDELITY_FAILED', 'ABORTED',
]);

/** True when a child's USAGE error says the command itself does not exist in this build. */
export function isUnknownCommandMessage(message: string): boolean {
  return /unknown (argument|command)|name a command|did you mean/i.test(message);
}

/**
 * Run `node bin/edgetune.js ARGS --json` in a child process and return its one JSON object. Work that loads
 * onnxruntime or untrusted models runs this way so that a native crash, a hang or a memory blow-up costs the
 * child, never the agent. Failures map to CHILD_CRASHED / CHILD_TIMEOUT / CHILD_OOM or the child's own error code.
 */
export function runCliChild(args: readonly string[], options: CliChildOptions): Promise<unknown> {
  const maxStdout = options.maxStdoutBytes ?? 32 * 1024 * 1024;
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: process.env.LANG ?? 'C.UTF-8', ...options.env };
  if (process.env.HOME) env.HOME = process.env.HOME;
  const command = args[0] ?? '';
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new EdgetuneError('ABORTED', `${command}: aborted before start`));
      return;
    }
    const child = spawn(process.execPath, [EDGETUNE_BIN, ...args, '--json'], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let outBytes = 0;
    let overflow = false;
    let stderrTail = '';
    let partial = '';
    let killedFor: 'timeout' | 'abort' | 'overflow' | null = null;
    const kill = (why: 'timeout' | 'abort' | 'overflow'): void => {
      if (killedFor) return;
      killedFor = why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill('timeout'), options.timeoutMs);
    const onAbort = (): void => kill('abort');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (b: Buffer) => {
      outBytes += b.length;
      if (outBytes > maxStdout) {
        overflow = true;
        kill('overflow');
        return;
      }
      out.push(b);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      stderrTail = (stderrTail + s).slice(-4096);
      partial += s;
      const lines = partial.split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.length > 0) options.onStderrLine?.(line);
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(new EdgetuneError('RUNTIME_FAILED', `${command}: cannot start child process: ${error.message}`, { cause: error }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      const stdout = Buffer.concat(out).toString('utf8').trim();
      let parsed: unknown;
      try {
        parsed = stdout.length > 0 ? JSON.parse(stdout) : undefined;
      } catch {
        parsed = undefined;
      }
      if (killedFor === 'timeout') {
        reject(new EdgetuneError('CHILD_TIMEOUT', `${command}: no result within ${Math.round(options.timeoutMs / 1000)} s; child killed`));
        return;
      }
      if (killedFor === 'abort') {
        reject(new EdgetuneError('ABORTED', `${command}: aborted`));
        return;
      }
      if (overflow) {
        reject(new EdgetuneError('RUNTIME_FAILED', `${command}: printed more than ${maxStdout} bytes of JSON; child killed`));
        return;
      }
      if (signal) {
        const oom = /out of memory|allocation failed|Cannot allocate memory|std::bad_alloc/i.test(stderrTail);
        reject(new EdgetuneError(oom ? 'CHILD_OOM' : 'CHILD_CRASHED', `${command}: child process died of ${signal}${oom ? ' (out of memory)' : ''}: ${lastLine(stderrTail)}`));
        return;
      }
      const isResult = parsed !== undefined && typeof parsed === 'object' && parsed !== null && !('error' in parsed);
      if ((code === 0 || (code === 1 && options.resultOnExitOne === true)) && isResult) {
        resolve(parsed);
        return;
      }
      const err = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      if (err && typeof err.message === 'string') {
        const childCode = typeof err.code === 'string' && KNOWN_CODES.has(err.code) ? (err.code as ErrorCode) : 'RUNTIME_FAILED';
        if (childCode === 'USAGE' && isUnknownCommandMessage(err.message)) {
          reject(new EdgetuneError('RUNTIME_FAILED', `'${command}' is not available in this edgetune build (${err.message})`));
          return;
        }
        reject(new EdgetuneError(childCode, `${command}: ${err.message}`));
        return;
      }
      const oom = /out of memory|allocation failed/i.test(stderrTail);
      reject(new EdgetuneError(oom ? 'CHILD_OOM' : 'CHILD_CRASHED', `${command}: child exited with code ${code} without a result: ${lastLine(stderrTail)}`));
    });
  });
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 500);
}
