import type { Argv } from 'yargs';
import type { CommandModule } from '../main.js';
import { printResult, stageProgress } from '../progress.js';

/** `edgetune eval MODEL --data DIR [--reference REF]`. */
export const commandModule: CommandModule = {
  command: 'eval <model>',
  describe: 'accuracy and fidelity of a model on a dataset in the ONNX test-data layout',
  builder: (y: Argv) =>
    y
      .positional('model', { type: 'string', demandOption: true })
      .option('data', { type: 'string', demandOption: true, describe: 'dataset directory (test_data_set_N/input_K.pb, label.pb)' })
      .option('reference', { type: 'string', describe: 'reference model (usually the original): agreement, cosine, SQNR, KL' })
      .option('output-index', { type: 'number', default: 0, describe: 'which model output top-1, agreement and KL score (cosine and SQNR cover every output)' })
      .option('temperature', { type: 'number', default: 1, describe: 'softmax temperature for KL' })
      .option('json', { type: 'boolean', default: false }),
  handler: async (args) => {
    const { evaluateModelFiles } = await import('../../compress/evaluate-files.js');
    const progress = stageProgress();
    try {
      const result = await evaluateModelFiles({
        modelPath: String(args.model),
        dataDir: String(args.data),
        ...(args.reference ? { referencePath: String(args.reference) } : {}),
        outputIndex: args['output-index'] as number,
        temperature: args.temperature as number,
        onProgress: (done, total) => progress.update('eval', done, total),
      });
      progress.stop();
      const pct = (v: number | null): string => (v === null ? 'n/a' : `${(v * 100).toFixed(2)}%`);
      const num = (v: number | null, digits: number): string => (v === null ? 'n/a' : v.toFixed(digits));
      // With several outputs the summary's cosine and SQNR are the worst output's; each output gets a line.
      const several = result.outputs !== null && result.outputs.length > 1;
      printResult(args.json === true, result, () =>
        [
          `samples ${result.samples}`,
          `top-1 ${pct(result.top1)}${result.referenceTop1 !== null ? ` (reference ${pct(result.referenceTop1)})` : ''}`,
          `agreement ${pct(result.agreement)}  cosine ${num(result.cosine, 5)}  SQNR ${num(result.sqnrDb, 2)} dB  KL ${num(result.kl, 5)}${several ? `  (worst output '${result.worstOutput}')` : result.outputs?.[0]?.collapsed ? '  COLLAPSED (constant across samples)' : ''}`,
          ...(several
            ? result.outputs!.map((o) => `  output '${o.name}': cosine ${o.cosine.toFixed(5)}  SQNR ${o.sqnrDb.toFixed(2)} dB  max error ${o.maxAbsError.toPrecision(3)}${o.collapsed ? '  COLLAPSED (constant across samples)' : ''}`)
            : []),
        ].join('\n'),
      );
    } finally {
      progress.stop();
    }
  },
};
