import type { AgentStore } from '../store/agent-store.js';
import { messageOf } from '../util/errors.js';
import type { PublishLink } from './artifact-receiver.js';
import type { Logger } from './logger.js';

/**
 * Publishes pending outbox rows with QoS 1 and marks each sent only when the broker acknowledges it (PUBACK).
 * Rows keep their id, so a re-publish after a reconnect or restart carries the same reportId and the operator
 * de-duplicates. At most `window` publishes are in flight.
 */
export class OutboxRelay {
  private readonly store: AgentStore;
  private readonly link: PublishLink;
  private readonly log: Logger;
  private readonly window: number;
  private running = false;
  private again = false;
  private idleWaiters: Array<() => void> = [];

  constructor(store: AgentStore, link: PublishLink, log: Logger, window = 16) {
    this.store = store;
    this.link = link;
    this.log = log;
    this.window = window;
  }

  /** Publish what is pending (no-op while disconnected; runs again if called during a flush). */
  flush(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.drain()
      .catch((error: unknown) => this.log.warn(`outbox: ${messageOf(error)}`))
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.flush();
        } else {
          for (const w of this.idleWaiters.splice(0)) w();
        }
      });
  }

  /** Resolves when no flush is running (tests and shutdown). */
  whenIdle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    for (;;) {
      this.again = false;
      if (!this.link.connected) return;
      const rows = this.store.pendingOutbox(this.window);
      if (rows.length === 0) return;
      const results = await Promise.allSettled(
        rows.map(async (row) => {
          this.store.noteOutboxAttempt(row.id);
          await this.link.publish(row.topic, row.payload, { qos: 1 });
          this.store.markOutboxSent(row.id);
        }),
      );
      const failed = results.filter((r) => r.status === 'rejected');
      if (failed.length > 0) {
        this.log.info(`outbox: ${failed.length} report(s) not acknowledged yet; will re-publish after reconnect`);
        return;
      }
    }
  }
}
