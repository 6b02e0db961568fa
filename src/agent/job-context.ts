import type { ResolvedAgentConfig } from '../config/load-agent-config.js';
import type { AgentStore } from '../store/agent-store.js';
import type { JobMessage } from '../transport/messages.js';
import type { AgentPaths } from './agent-paths.js';
import type { AgentServices, HardwareJson, ServiceCallOptions } from './agent-services.js';
import type { Logger } from './logger.js';

/** Everything a job action may use: the job, the store, the files, the services, limits, progress and cancel. */
export interface JobContext {
  job: JobMessage;
  deviceId: string;
  store: AgentStore;
  paths: AgentPaths;
  services: AgentServices;
  config: ResolvedAgentConfig;
  signal: AbortSignal;
  log: Logger;
  /** Progress on the events topic (QoS 0, best effort). */
  progress(stage: string, progress: number | null, message?: string): void;
  /** Options for a service call bounded by the profile time limit. */
  callOptions(): ServiceCallOptions;
  /** The hardware JSON (probed once per agent run), or null when the probe is not available. */
  hardware(): Promise<HardwareJson | null>;
}

/** Fields an action adds to its report (`{ reportId, jobId, action, ...result }`). */
export type ActionResult = Record<string, unknown>;

/** One job action. Throw an EdgetuneError to fail the job; the runner turns it into a failed report. */
export type ActionHandler = (ctx: JobContext) => Promise<ActionResult>;
