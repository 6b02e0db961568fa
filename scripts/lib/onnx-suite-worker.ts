/**
 * A worker process of `runSuite` (scripts/lib/onnx-suite.ts): takes one model at a time over the fork IPC channel,
 * checks the original in onnxruntime (unless the job already says), runs each method with `runCase` and reports:
 *   ← SuiteJob   → { type: 'start', method } · { type: 'original', check } · { type: 'case', result } … { type: 'done' }
 * It is killed when a case runs past its limit; a native crash ends it, and the pool charges the case it was running.
 */
import { checkOriginal, runCase, type SuiteJob, type WorkerMessage } from './onnx-suite.js';

function send(message: WorkerMessage): void {
  process.send?.(message);
}

async function runJob(job: SuiteJob): Promise<void> {
  let original = job.original;
  if (!original) {
    send({ type: 'start', method: 'original' });
    original = await checkOriginal(job.model);
    send({ type: 'original', check: original });
  }
  for (const method of job.methods) {
    send({ type: 'start', method });
    send({ type: 'case', result: await runCase(job.model, method, original, job.workDir) });
  }
  send({ type: 'done' });
}

process.on('message', (job: SuiteJob) => {
  runJob(job).catch((error: unknown) => {
    // runCase classifies every error of compress; one escaping here is the harness's own: end, the pool charges it.
    process.stderr.write(`onnx-suite worker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(70);
  });
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
