import type { ResolvedAgentConfig } from '../config/load-agent-config.js';
import type { AgentStore, JobRow } from '../store/agent-store.js';
import { jobMessageSchema, type JobMessage } from '../transport/messages.js';
import { EdgetuneError, errorCodeOf, messageOf } from '../util/errors.js';
import { ACTION_HANDLERS } from './actions/index.js';
import type { AgentPaths } from './agent-paths.js';
import type { AgentServices, HardwareJson, ServiceCallOptions } from './agent-services.js';
import type { ActionResult, JobContext } from './job-context.js';
import type { Logger } from './logger.js';

/** A job that was interrupted this many times (agent killed while it ran) is failed instead of run again. */
export const MAX_JOB_ATTEMPTS = 3;

/** What the runner needs from the agent. */
export interface JobRunnerDeps {
  config: ResolvedAgentConfig;
  store: AgentStore;
  paths: AgentPaths;
  services: AgentServices;
  log: Logger;
  hardware: () => Promise<HardwareJson | null>;
  publishEvent: (jobId: string, stage: string, progress: number | null, message?: string) => void;
  /** Commit the job's final report (and state) and hand it to the outbox. */
  finish: (job: { jobId: string; action: string; job: JobMessage | null }, outcome: { result: ActionResult } | { error: EdgetuneError }) => void;
}

/**
 * Runs queued jobs one at a time, oldest first. A failing job becomes a failed report; nothing a job does can stop
 * the runner. On stop() the running job is aborted and left 'running', so the next start runs it again.
 */
export class JobRunner {
  private readonly d: JobRunnerDeps;
  private loopPromise: Promise<void> | null = null;
  private wake = false;
  private stopped = false;
  private current: AbortController | null = null;

  constructor(deps: JobRunnerDeps) {
    this.d = deps;
  }

  /** A job became runnable: run the queue (no-op if already running). */
  notify(): void {
    if (this.stopped) return;
    if (this.loopPromise) {
      this.wake = true;
      return;
    }
    this.loopPromise = this.loop().finally(() => {
      this.loopPromise = null;
      if (this.wake && !this.stopped) {
        this.wake = false;
        this.notify();
      }
    });
  }

  /** Resolves when the queue is empty and nothing runs. */
  async whenIdle(): Promise<void> {
    while (this.loopPromise) await this.loopPromise;
  }

  /** Abort the running job and stop taking new ones. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.abort();
    if (this.loopPromise) await this.loopPromise;
  }

  private async loop(): Promise<void> {
    for (;;) {
      this.wake = false;
      if (this.stopped) return;
      const next = this.d.store.jobsInStates(['queued'])[0];
      if (!next) return;
      await this.runOne(next);
    }
  }

  private async runOne(row: JobRow): Promise<void> {
    const { store, log } = this.d;
    let job: JobMessage;
    try {
      job = jobMessageSchema.parse(JSON.parse(row.payload));
    } catch (error) {
      this.d.finish({ jobId: row.jobId, action: row.action, job: null }, { error: new EdgetuneError('JOB_INVALID', `stored job ${row.jobId} is unreadable: ${messageOf(error)}`) });
      return;
    }
    if (row.attempts >= MAX_JOB_ATTEMPTS) {
      this.d.finish(
        { jobId: job.jobId, action: job.action, job },
        { error: new EdgetuneError('RUNTIME_FAILED', `job ${job.jobId} was interrupted ${row.attempts} times (the agent stopped while it ran); not trying again`) },
      );
      return;
    }
    store.setJobState(job.jobId, 'running');
    const controller = new AbortController();
    this.current = controller;
    const ctx = this.context(job, controller.signal);
    log.info(`job ${job.jobId} (${job.action}) started`);
    this.d.publishEvent(job.jobId, 'started', 0);
    let outcome: { result: ActionResult } | { error: EdgetuneError };
    try {
      const result = await ACTION_HANDLERS[job.action](ctx);
      outcome = { result };
    } catch (error) {
      if (controller.signal.aborted && this.stopped) {
        log.info(`job ${job.jobId} interrupted by shutdown; it runs again at the next start`);
        this.current = null;
        return;
      }
      const e = error instanceof EdgetuneError ? error : new EdgetuneError(errorCodeOf(error), messageOf(error), { cause: error });
      outcome = { error: e };
    }
    this.current = null;
    try {
      this.d.finish({ jobId: job.jobId, action: job.action, job }, outcome);
    } catch (error) {
      log.error(`job ${job.jobId}: cannot store its report: ${messageOf(error)}`);
    }
    if ('error' in outcome) log.warn(`job ${job.jobId} (${job.action}) failed: ${outcome.error.message} [${outcome.error.code}]`);
    else log.info(`job ${job.jobId} (${job.action}) done`);
    this.d.publishEvent(job.jobId, 'error' in outcome ? 'failed' : 'done', 1);
  }

  private context(job: JobMessage, signal: AbortSignal): JobContext {
    const d = this.d;
    const callOptions = (): ServiceCallOptions => ({
      signal,
      timeoutMs: d.config.limits.maxProfileSeconds * 1000,
      memoryLimitBytes: d.config.limits.maxChildMemoryMb * 1024 * 1024,
      onProgress: (stage, fraction) => d.publishEvent(job.jobId, stage, fraction),
      workDir: d.paths.workDir,
      onLog: (line) => d.log.debug(`[${job.action} child] ${line}`),
    });
    return {
      job,
      deviceId: d.config.deviceId,
      store: d.store,
      paths: d.paths,
      services: d.services,
      config: d.config,
      signal,
      log: d.log.child(job.action),
      progress: (stage, progress, message) => d.publishEvent(job.jobId, stage, progress, message),
      callOptions,
      hardware: d.hardware,
    };
  }
}
