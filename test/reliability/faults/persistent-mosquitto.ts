/**
 * Mosquitto as a deployment runs it (persistence on), on a fixed loopback port so that it can be stopped with a
 * chosen signal and started again at the same address. Used by the broker-restart fault tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { MOSQUITTO, waitFor } from '../../integration/agent/fleet-harness.js';

/** How a restart stops the broker: SIGTERM lets Mosquitto save its database on exit, SIGKILL does not. */
export type StopSignal = 'SIGTERM' | 'SIGKILL';

/** A persistent Mosquitto the test stops and starts. */
export interface PersistentMosquitto {
  url: string;
  port: number;
  /** Mosquitto's own log file (error, warning, notice, information). */
  logPath: string;
  /** Start; resolves with when it was spawned and when it was first seen accepting connections (polled every 5 ms). */
  start(): Promise<{ spawnAtMs: number; upAtMs: number }>;
  /** Stop with `signal`; resolves when the process has exited. */
  stop(signal: StopSignal): Promise<void>;
}

/**
 * Mosquitto with `persistence true` in `dir`. `autosaveSeconds` null: save after every change
 * (`autosave_on_changes true`, `autosave_interval 1`, the strictest Mosquitto offers); a number N: every N seconds.
 */
export function persistentMosquitto(port: number, dir: string, autosaveSeconds: number | null = null): PersistentMosquitto {
  const dataDir = join(dir, 'mosquitto-data');
  mkdirSync(dataDir, { recursive: true });
  const conf = join(dir, 'mosquitto-persistent.conf');
  const logPath = join(dir, 'mosquitto.log');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${dataDir}/`,
      ...(autosaveSeconds === null ? ['autosave_on_changes true', 'autosave_interval 1'] : ['autosave_on_changes false', `autosave_interval ${autosaveSeconds}`]),
      // started as root, Mosquitto would drop to user `mosquitto`, which cannot write into our private temp dir
      `user ${userInfo().username}`,
      `log_dest file ${logPath}`,
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
    ].join('\n') + '\n',
  );
  let child: ChildProcess | null = null;
  const accepts = (): Promise<boolean> =>
    new Promise((resolve) => {
      const s = netConnect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    logPath,
    async start() {
      const spawnAtMs = Date.now();
      const c = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
      child = c;
      await waitFor(`mosquitto on port ${port}`, async () => {
        if (c.exitCode !== null) throw new Error(`mosquitto exited with ${c.exitCode} (see ${logPath})`);
        return accepts();
      }, 20_000, 5);
      return { spawnAtMs, upAtMs: Date.now() };
    },
    async stop(signal) {
      const c = child;
      child = null;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill(signal);
      });
    },
  };
}
