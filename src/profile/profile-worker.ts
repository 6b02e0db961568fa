/**
 * Entry point of the profiling child process (forked by profile-child.ts). It waits for a `start` message, measures,
 * sends `measured` then `extras` (or `failed` with a stable code) and exits. A native crash, a hang or runaway
 * memory here is the parent's to detect; nothing in this process is trusted to report it.
 */
import { EdgetuneError, errorCodeOf, messageOf } from '../util/errors.js';
import { computeExtras, measureModel, type ChildIo } from './profile-run.js';
import type { ChildMessage, ParentMessage } from './profile-types.js';

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, undefined, () => resolve());
  });
}

let energyGo: ((v: { minDurationMs: number }) => void) | null = null;

const io: ChildIo = {
  progress: (progress) => void send({ type: 'progress', progress }),
  energyReady: () =>
    new Promise((resolve) => {
      energyGo = resolve;
      void send({ type: 'energy-ready' });
    }),
  energyDone: (w) => void send({ type: 'energy-done', startNs: String(w.startNs), endNs: String(w.endNs), inferences: w.inferences }),
};

async function run(message: Extract<ParentMessage, { type: 'start' }>): Promise<void> {
  try {
    const { measurement, state } = await measureModel(message.request, io);
    await send({ type: 'measured', measurement });
    const extras = await computeExtras(message.request, state, io);
    await send({ type: 'extras', extras });
  } catch (error) {
    const code = error instanceof EdgetuneError ? error.code : errorCodeOf(error);
    await send({ type: 'failed', code, message: messageOf(error) });
  }
  process.disconnect?.();
  process.exit(0);
}

process.on('message', (raw: ParentMessage) => {
  if (raw.type === 'start') void run(raw);
  else if (raw.type === 'energy-go' && energyGo) {
    const go = energyGo;
    energyGo = null;
    go({ minDurationMs: raw.minDurationMs });
  }
});
// The parent going away must not leave an orphan running a model.
process.on('disconnect', () => process.exit(0));
