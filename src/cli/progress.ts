import cliProgress from 'cli-progress';

/** A progress reporter for long commands: a bar on a TTY (stderr), nothing otherwise. */
export interface StageProgress {
  update(stage: string, done: number, total: number): void;
  stop(): void;
}

/** Make a stage-aware progress bar on stderr when it is a terminal. */
export function stageProgress(): StageProgress {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: '{stage} [{bar}] {value}/{total}', hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let current = '';
  return {
    update(stage, done, total) {
      if (!started || stage !== current) {
        if (started) bar.stop();
        bar.start(total, done, { stage });
        started = true;
        current = stage;
      } else bar.update(done, { stage });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** Print a command result: one JSON object with --json, else the human text. */
export function printResult(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, (_k, v) => (v === Infinity ? 'Infinity' : v))}\n` : `${text()}\n`);
}
