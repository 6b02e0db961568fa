import yargs, { type Argv } from 'yargs';
import { EdgetuneError, errorCodeOf, exitCodeFor, messageOf } from '../util/errors.js';
import { edgetuneVersion } from '../agent/version.js';

/** A CLI command module: yargs wiring only; the work lives in the library it imports. */
export interface CommandModule {
  /** yargs command string, e.g. 'compress <model>'. */
  command: string;
  describe: string;
  builder: (y: Argv) => Argv;
  handler: (args: Record<string, unknown>) => Promise<void>;
}

/** One entry of the command table: name and one-line description, the module loaded only when it runs. */
export interface CommandEntry {
  name: string;
  describe: string;
  load: () => Promise<{ commandModule: CommandModule }>;
}

/** Every command, loaded lazily so that `edgetune hw` never loads onnxruntime or MQTT (docs/cli.md is generated from it). */
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'compress', describe: 'compress an ONNX model (int8, int8-dynamic, fp16, int4, prune, sparsity, lowrank, plan)', load: () => import('./commands/compress.js') },
  { name: 'distill', describe: 'teacher–student KL, agreement and accuracy; least-squares head distillation of the student', load: () => import('./commands/distill.js') },
  { name: 'eval', describe: 'accuracy and fidelity of a model on a dataset in the ONNX test-data layout', load: () => import('./commands/eval.js') },
  { name: 'profile', describe: 'latency, memory, energy, thermal state, op profile and FLOPs of a model on this device', load: () => import('./commands/profile.js') },
  { name: 'tune', describe: 'measure compressed variants on this device and choose one (Pareto front, report)', load: () => import('./commands/tune.js') },
  { name: 'dataset', describe: 'convert .npy / raw float32 arrays into the ONNX test-data layout', load: () => import('./commands/dataset.js') },
  { name: 'hw', describe: 'detected hardware and the matched device profile', load: () => import('./commands/hw.js') },
  { name: 'plan', describe: 'choose precision, pruning and execution provider for a model on this device (or --profile NAME)', load: () => import('./commands/plan.js') },
  { name: 'start', describe: 'run the agent (daemon): receive jobs over MQTT, compress, profile, report', load: () => import('./commands/start.js') },
  { name: 'broker', describe: 'run the embedded MQTT broker (aedes) alone', load: () => import('./commands/broker.js') },
  { name: 'keygen', describe: 'make an ed25519 key pair for signed pushes', load: () => import('./commands/keygen.js') },
  { name: 'push', describe: 'push a model and a job to a device or group; --wait prints the report', load: () => import('./commands/push.js') },
  { name: 'devices', describe: 'list devices from their retained status and hello', load: () => import('./commands/devices.js') },
  { name: 'results', describe: 'stored reports, the same model compared across devices', load: () => import('./commands/results.js') },
  { name: 'resync', describe: 'ask devices to re-send reports missing from the operator store', load: () => import('./commands/resync.js') },
  { name: 'rollout', describe: 'roll a model out to a group in stages, with success and abort thresholds; --resume ID; status ID', load: () => import('./commands/rollout.js') },
  { name: 'dashboard', describe: 'a local web page over the operator store, live from the broker', load: () => import('./commands/dashboard.js') },
];

/** Run the CLI; sets process.exitCode (0 ok, 1 run-time failure, 2 bad input) instead of exiting. */
export async function main(argv: string[]): Promise<void> {
  const wanted = argv.find((a) => !a.startsWith('-'));
  const entry = COMMANDS.find((c) => c.name === wanted);
  let cli = yargs(argv)
    .scriptName('edgetune')
    .strict()
    .demandCommand(1, 'name a command; `npx edgetune --help` lists them')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(edgetuneVersion())
    .alias('V', 'version')
    .fail((message, error) => {
      throw error ?? new EdgetuneError('USAGE', message);
    });
  for (const c of COMMANDS) {
    if (c === entry) continue;
    cli = cli.command(c.name, c.describe, (y) => y, () => undefined);
  }
  try {
    if (entry) {
      const { commandModule } = await entry.load();
      cli = cli.command(commandModule.command, commandModule.describe, commandModule.builder, async (args) => {
        await commandModule.handler(args as Record<string, unknown>);
      });
    }
    await cli.parseAsync();
  } catch (error) {
    const json = argv.includes('--json');
    const code = errorCodeOf(error);
    if (json) {
      process.stdout.write(`${JSON.stringify({ error: { code, message: messageOf(error) } })}\n`);
    }
    process.stderr.write(`edgetune: ${messageOf(error)} [${code}]\n`);
    if (process.env.EDGETUNE_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exitCode = exitCodeFor(error);
  }
}
