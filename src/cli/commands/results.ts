import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import type { CommandModule } from '../main.js';
import { OperatorStore } from '../../store/operator-store.js';
import { compareAcrossDevices, formatComparisonTable, summarizeReport } from '../../operator/compare-results.js';
import { EdgetuneError } from '../../util/errors.js';

/** `edgetune results`: stored reports, comparing the same model across devices. */
export const commandModule: CommandModule = {
  command: 'results',
  describe: "reports in the operator's store, the same model compared across devices (latency, size, energy, fidelity; each device's tune choice and front)",
  builder: (y: Argv) =>
    y
      .option('device', { type: 'string', describe: 'only this device' })
      .option('model', { type: 'string', describe: 'only this model (sha256 of the pushed file)' })
      .option('job', { type: 'string', describe: 'only this job id' })
      .option('data-dir', { type: 'string', default: './.edgetune-operator', describe: "the operator's store directory" })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' }),
  handler: async (args) => {
    const model = args.model as string | undefined;
    if (model !== undefined && !/^[0-9a-f]{64}$/.test(model)) throw new EdgetuneError('USAGE', `--model '${model}' must be a sha256 (64 lower-case hex digits)`);
    const dbPath = join(String(args.dataDir), 'operator.db');
    if (!existsSync(dbPath)) throw new EdgetuneError('USAGE', `no operator store at ${dbPath} (push something first, or pass --data-dir)`);
    const store = new OperatorStore(dbPath);
    try {
      const rows = store.listReports({
        ...(args.device !== undefined ? { deviceId: String(args.device) } : {}),
        ...(model !== undefined ? { modelSha256: model } : {}),
        ...(args.job !== undefined ? { jobId: String(args.job) } : {}),
      });
      const names = store.artifactNames();
      const comparison = compareAcrossDevices(rows, names);
      if (args.json === true) {
        const reports = rows.map((r) => JSON.parse(r.payload) as unknown);
        process.stdout.write(`${JSON.stringify({ reports, summaries: rows.map((r) => summarizeReport(r, names)), comparison })}\n`);
        return;
      }
      if (rows.length === 0) {
        process.stdout.write('no reports match\n');
        return;
      }
      process.stdout.write(formatComparisonTable(comparison));
    } finally {
      store.close();
    }
  },
};
