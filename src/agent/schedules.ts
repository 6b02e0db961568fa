import { schedule, type ScheduledTask } from 'node-cron';
import { messageOf } from '../util/errors.js';
import type { Logger } from './logger.js';

/** One scheduled duty of the agent. */
export interface ScheduleEntry {
  name: string;
  /** node-cron expression, or null (disabled). */
  cron: string | null;
  run: () => Promise<void> | void;
}

/** Runs the agent's cron duties (heartbeat, re-profile, cleanup); a failing run is logged, never fatal. */
export class Schedules {
  private readonly tasks: ScheduledTask[] = [];
  private readonly log: Logger;

  constructor(log: Logger) {
    this.log = log;
  }

  /** Start every enabled entry. */
  start(entries: readonly ScheduleEntry[]): void {
    for (const e of entries) {
      if (e.cron === null) continue;
      const task = schedule(
        e.cron,
        async () => {
          try {
            await e.run();
          } catch (error) {
            this.log.warn(`schedule ${e.name}: ${messageOf(error)}`);
          }
        },
        { name: `edgetune-${e.name}`, noOverlap: true },
      );
      this.tasks.push(task);
      this.log.debug(`schedule ${e.name}: ${e.cron}`);
    }
  }

  /** When the entry named `name` runs next; null when it is disabled or unknown. */
  nextRunOf(name: string): Date | null {
    return this.tasks.find((t) => t.name === `edgetune-${name}`)?.getNextRun() ?? null;
  }

  /** Stop and destroy every task. */
  async stop(): Promise<void> {
    for (const t of this.tasks.splice(0)) {
      await t.stop();
      await t.destroy();
    }
  }
}
