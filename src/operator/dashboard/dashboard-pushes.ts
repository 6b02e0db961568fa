import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DEVICE_ID_PATTERN } from '../../config/agent-config-schema.js';
import { decodeModel } from '../../onnx/model-codec.js';
import type { JobAction, ReportMessage } from '../../transport/messages.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { EdgetuneError, errorCodeOf, messageOf } from '../../util/errors.js';
import type { Logger } from '../../agent/logger.js';
import { jobOptionsFromArgs } from '../job-option-args.js';
import type { OperatorBrokerOptions } from '../operator-link.js';
import { pushJob, type PushProgress, type PushTarget } from '../push-job.js';

/** Actions the Push page offers: the ones that take a model file and need no dataset. */
export const DASHBOARD_PUSH_ACTIONS = ['deploy', 'profile', 'tune', 'compress', 'eval', 'ping'] as const satisfies readonly JobAction[];

/** Dataset names the page may pick: directories of `--data-dir/datasets/`, never a path. */
const DATASET_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** Largest model the page may upload (the body is held in memory once while it is checked). */
export const MAX_UPLOAD_BYTES = 512 * 1024 * 1024;

/** A push started from the page, as the page shows it. */
export interface PushRunView {
  pushId: string;
  jobId: string | null;
  fileName: string;
  sha256: string;
  bytes: number;
  /** The dataset sent along (a name under `--data-dir/datasets/`), or null. */
  dataset: string | null;
  target: PushTarget;
  action: JobAction;
  signed: boolean;
  state: 'running' | 'done' | 'failed';
  startedAt: string;
  finishedAt: string | null;
  /** Chunks sent and, per device, chunks received and whether it reported. */
  progress: PushProgress | null;
  reports: Array<{ deviceId: string; reportId: string; state: string; error: { code: string; message: string } | null }>;
  error: { code: string; message: string } | null;
}

/** What the page submitted. */
export interface PushSubmission {
  fileName: string;
  bytes: Uint8Array;
  targetKind: string;
  targetId: string;
  action: string;
  /** KEY=VALUE job options, one per entry (as `push --option`). */
  options: string[];
  /** A dataset directory under `--data-dir/datasets/` sent with the job (empty: none). */
  dataset: string;
}

/** Caller input for {@link DashboardPushes}. */
export interface DashboardPushesOptions {
  dataDir: string;
  /** The broker without a persistent session name (each push uses its own). */
  broker: OperatorBrokerOptions;
  topicPrefix: string;
  chunkSizeBytes: number;
  keyPath?: string;
  timeoutMs: number;
  log: Logger;
  onChange: (run: PushRunView) => void;
}

/** A display file name: its last path part, restricted to [A-Za-z0-9._-] (never a path). */
export function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const clean = base.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '').slice(0, 128);
  return clean.length > 0 ? clean : 'model.onnx';
}

/**
 * Pushes started from the Push page: the upload is checked (target, action, options, ONNX) before anything is
 * written, stored content-addressed under `--data-dir/uploads/`, then pushed with the operator's key by
 * {@link pushJob} in the background; every progress step goes to `onChange` (the live stream).
 */
export class DashboardPushes {
  private readonly o: DashboardPushesOptions;
  private readonly runs = new Map<string, PushRunView>();
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();

  constructor(o: DashboardPushesOptions) {
    this.o = o;
  }

  /** The datasets the page may send: directories under `--data-dir/datasets/` (ONNX test-data layout), sorted. */
  datasets(): string[] {
    const dir = join(this.o.dataDir, 'datasets');
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && DATASET_NAME.test(e.name))
      .map((e) => e.name)
      .sort();
  }

  /** Recent pushes, newest first. */
  list(): PushRunView[] {
    return [...this.runs.values()].sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.pushId.localeCompare(a.pushId));
  }

  /** Check a submission and start its push; throws USAGE / MODEL_INVALID (nothing written, nothing sent) on bad input. */
  submit(s: PushSubmission): PushRunView {
    const kind = s.targetKind;
    if (kind !== 'device' && kind !== 'group') throw new EdgetuneError('USAGE', `push: target must be a device or a group, not '${kind}'`);
    if (!DEVICE_ID_PATTERN.test(s.targetId)) throw new EdgetuneError('USAGE', `push: ${kind} '${s.targetId}' must match [A-Za-z0-9_-]{1,64}`);
    if (!(DASHBOARD_PUSH_ACTIONS as readonly string[]).includes(s.action)) throw new EdgetuneError('USAGE', `push: action '${s.action}' is not one of ${DASHBOARD_PUSH_ACTIONS.join(', ')}`);
    const action = s.action as JobAction;
    const jobOptions = jobOptionsFromArgs(action, s.options);
    let dataDir: string | undefined;
    if (s.dataset !== '') {
      if (!DATASET_NAME.test(s.dataset) || !this.datasets().includes(s.dataset)) {
        throw new EdgetuneError('USAGE', `push: dataset '${s.dataset}' is not one of the directories in ${join(this.o.dataDir, 'datasets')} (${this.datasets().join(', ') || 'none'})`);
      }
      dataDir = join(this.o.dataDir, 'datasets', s.dataset);
    }
    if (action === 'eval' && dataDir === undefined) throw new EdgetuneError('USAGE', 'push: eval needs a dataset');
    const fileName = safeFileName(s.fileName);
    if (s.bytes.byteLength === 0) throw new EdgetuneError('MODEL_INVALID', `push: ${fileName} is empty; nothing was sent`);
    if (s.bytes.byteLength > MAX_UPLOAD_BYTES) throw new EdgetuneError('LIMIT_EXCEEDED', `push: ${fileName} is ${s.bytes.byteLength} bytes, over the page's ${MAX_UPLOAD_BYTES}-byte limit (use \`npx edgetune push\`); nothing was sent`);
    if (action !== 'ping') {
      try {
        decodeModel(s.bytes, {
          readExternal: (location, _offset, _length, tensorName) => {
            throw new EdgetuneError('MODEL_INVALID', `tensor '${tensorName}' keeps its data in the separate file '${location}', and a push sends one file`);
          },
        });
      } catch (error) {
        throw new EdgetuneError('MODEL_INVALID', `push: ${fileName} is not an ONNX model: ${messageOf(error)}; nothing was sent`, { cause: error });
      }
    }
    const sha256 = createHash('sha256').update(s.bytes).digest('hex');
    const dir = join(this.o.dataDir, 'uploads', sha256);
    mkdirSync(dir, { recursive: true });
    const modelPath = join(dir, fileName);
    writeFileAtomic(modelPath, s.bytes);

    const target: PushTarget = kind === 'device' ? { device: s.targetId } : { group: s.targetId };
    const run: PushRunView = {
      pushId: `push-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`,
      jobId: null,
      fileName,
      sha256,
      bytes: s.bytes.byteLength,
      dataset: s.dataset === '' ? null : s.dataset,
      target,
      action,
      signed: this.o.keyPath !== undefined,
      state: 'running',
      startedAt: new Date().toISOString(),
      finishedAt: null,
      progress: null,
      reports: [],
      error: null,
    };
    this.runs.set(run.pushId, run);
    const abort = new AbortController();
    const done = this.run(run, modelPath, dataDir, jobOptions, abort.signal).finally(() => this.running.delete(run.pushId));
    this.running.set(run.pushId, { abort, done });
    this.o.onChange(run);
    return run;
  }

  private async run(run: PushRunView, modelPath: string, dataDir: string | undefined, jobOptions: Record<string, unknown>, signal: AbortSignal): Promise<void> {
    const report = (r: ReportMessage): PushRunView['reports'][number] => ({ deviceId: r.deviceId, reportId: r.reportId, state: r.state, error: r.error });
    try {
      const result = await pushJob({
        modelPath,
        ...(dataDir !== undefined ? { dataDir } : {}),
        target: run.target,
        action: run.action,
        broker: this.o.broker,
        topicPrefix: this.o.topicPrefix,
        ...(this.o.keyPath !== undefined ? { keyPath: this.o.keyPath } : {}),
        wait: true,
        timeoutMs: this.o.timeoutMs,
        chunkSizeBytes: this.o.chunkSizeBytes,
        operatorDataDir: this.o.dataDir,
        jobOptions,
        log: this.o.log,
        signal,
        onProgress: (p) => {
          const before = JSON.stringify(run.progress);
          run.jobId = p.jobId;
          run.progress = p;
          if (JSON.stringify(p) !== before) this.o.onChange(run);
        },
      });
      run.jobId = result.jobId;
      run.reports = result.reports.map(report);
      run.state = result.reports.every((r) => r.state === 'ok') ? 'done' : 'failed';
      if (run.state === 'failed') {
        const bad = result.reports.filter((r) => r.state !== 'ok');
        run.error = { code: bad[0]?.error?.code ?? 'RUNTIME_FAILED', message: bad.map((r) => `${r.deviceId}: ${r.error?.message ?? 'failed'}`).join('; ') };
      }
      this.o.log.info(`dashboard push ${run.pushId}: job ${result.jobId} (${run.action}) ${run.state}`);
    } catch (error) {
      run.state = 'failed';
      run.error = { code: errorCodeOf(error), message: messageOf(error) };
      this.o.log.warn(`dashboard push ${run.pushId} (${run.fileName} → ${'device' in run.target ? run.target.device : `group ${run.target.group}`}): ${messageOf(error)} [${run.error.code}]`);
    }
    run.finishedAt = new Date().toISOString();
    this.o.onChange(run);
  }

  /** Abort the pushes still running and wait for them to close their connections. */
  async stop(): Promise<void> {
    const all = [...this.running.values()];
    for (const r of all) r.abort.abort();
    await Promise.all(all.map((r) => r.done));
  }
}
