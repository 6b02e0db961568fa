import type { TransportLogger } from '../transport/mqtt-connection.js';

/** Log levels, most severe first. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** A leveled logger writing one line per message (to stderr by default; stdout stays for --json). */
export interface Logger extends TransportLogger {
  /** A logger whose lines carry `name` as a prefix. */
  child(name: string): Logger;
}

/** Create a logger that writes `ISO level [name] message` lines at or above `level`. */
export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stderr.write(l), name = 'edgetune'): Logger {
  const emit = (at: LogLevel, message: string): void => {
    if (RANK[at] > RANK[level]) return;
    write(`${new Date().toISOString()} ${at.padEnd(5)} [${name}] ${message}\n`);
  };
  return {
    error: (m) => emit('error', m),
    warn: (m) => emit('warn', m),
    info: (m) => emit('info', m),
    debug: (m) => emit('debug', m),
    child: (child) => createLogger(level, write, `${name}:${child}`),
  };
}

/** A logger that discards everything (tests, library use). */
export function silentLogger(): Logger {
  const noop = (): void => undefined;
  const self: Logger = { error: noop, warn: noop, info: noop, debug: noop, child: () => self };
  return self;
}
