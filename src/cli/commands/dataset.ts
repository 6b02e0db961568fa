import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import type { CommandModule } from '../main.js';
import { printResult } from '../progress.js';
import { EdgetuneError, messageOf } from '../../util/errors.js';

/** `edgetune dataset -o DIR --input a.npy [--input b.npy] [--labels y.npy] [--batch N]`. */
export const commandModule: CommandModule = {
  command: 'dataset',
  describe: 'convert .npy / raw float32 arrays into the ONNX test-data layout',
  builder: (y: Argv) =>
    y
      .option('input', { type: 'string', array: true, demandOption: true, describe: '.npy file per model input (in input order), or raw float32 with --shape' })
      .option('shape', { type: 'string', array: true, describe: 'DxDxD per raw float32 input (batch first)' })
      .option('labels', { type: 'string', describe: '.npy of integer class indices, one per sample' })
      .option('batch', { type: 'number', default: 32, describe: 'samples per test_data_set_N' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'dataset directory to create (must be empty)' })
      .option('json', { type: 'boolean', default: false, describe: 'print exactly one JSON object on stdout (progress and logs go to stderr)' }),
  handler: async (args) => {
    const { parseNpy, parseRawFloat32 } = await import('../../compress/npy.js');
    const { writeDataset } = await import('../../compress/dataset-writer.js');
    const { sliceBatch } = await import('../../compress/dataset.js');
    const { DataType } = await import('../../onnx/dtype.js');
    const { requireOutputDirectory } = await import('../../util/atomic-file.js');
    // The dataset directory itself is created; the directory it goes in must exist.
    requireOutputDirectory(String(args.output), '-o');
    const inputs = (args.input as string[]).map((path, k) => {
      const bytes = read(path);
      const shape = (args.shape as string[] | undefined)?.[k];
      if (path.endsWith('.npy')) return parseNpy(bytes, path);
      if (!shape) throw new EdgetuneError('USAGE', `${path}: raw float32 input needs --shape DxDxD`);
      const dims = shape.split('x').map(Number);
      if (dims.some((d) => !Number.isInteger(d) || d <= 0)) throw new EdgetuneError('USAGE', `--shape '${shape}' is not DxDxD`);
      return parseRawFloat32(bytes, dims, path);
    });
    const samples = inputs[0]!.dims[0] ?? 0;
    if (samples === 0) throw new EdgetuneError('DATASET_INVALID', `${args.input}: no samples`);
    for (const t of inputs) if (t.dims[0] !== samples) throw new EdgetuneError('DATASET_INVALID', `${t.name}: ${t.dims[0]} samples, the first input has ${samples}`);
    let labels = args.labels ? parseNpy(read(String(args.labels)), String(args.labels)) : undefined;
    if (labels) {
      if (labels.values.length !== samples) throw new EdgetuneError('DATASET_INVALID', `${labels.name}: ${labels.values.length} labels for ${samples} samples`);
      if (labels.dataType !== DataType.INT64) {
        labels = { ...labels, dataType: DataType.INT64, values: BigInt64Array.from(Array.from(labels.values as ArrayLike<number>, (v) => BigInt(Math.trunc(Number(v))))) };
      }
      labels = { ...labels, dims: [samples] };
    }
    const batch = args.batch as number;
    if (!(Number.isInteger(batch) && batch > 0)) throw new EdgetuneError('USAGE', `--batch must be a positive integer, got ${batch}`);
    const sets = [];
    for (let start = 0; start < samples; start += batch) {
      const end = Math.min(samples, start + batch);
      sets.push({ inputs: inputs.map((t) => sliceBatch(t, start, end)), ...(labels ? { labels: sliceBatch(labels, start, end) } : {}) });
    }
    const count = writeDataset(String(args.output), sets);
    printResult(args.json === true, { output: String(args.output), sets: count, samples, inputs: inputs.map((t) => ({ path: t.name, dims: t.dims })), labels: labels !== undefined }, () => `wrote ${samples} samples in ${count} set(s) to ${args.output}`);
  },
};

function read(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new EdgetuneError('DATASET_INVALID', `cannot read ${path}: ${messageOf(error)}`, { cause: error });
  }
}
