import type { Argv } from 'yargs';
import type { CommandModule } from '../main.js';
import { loadModelFile } from '../../onnx/model-file.js';
import { planForModel } from '../../hardware/plan-for-model.js';
import { fmtBytes, parseTargetCache, type CompressionPlan } from '../../hardware/planner.js';

/** `edgetune plan MODEL`: the compression this device (or a named profile) should get, with reasons (SPEC.md `plan` JSON). */
export const commandModule: CommandModule = {
  command: 'plan <model>',
  describe: 'choose precision, pruning and execution provider for a model on this device (or --profile NAME)',
  builder: (y: Argv) =>
    y
      .positional('model', { type: 'string', describe: 'ONNX model file', demandOption: true })
      .option('profile', { type: 'string', describe: 'plan for this device profile instead of this machine (pi4, pi5, jetson-nano, ...)' })
      .option('sysroot', { type: 'string', default: '/', describe: 'probe /proc, /sys and /etc under this root (a captured tree)' })
      .option('target-cache', { type: 'string', describe: 'cache the pruning sizes layers for: l1 | l2 | l3 | BYTES' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' }),
  handler: async (args) => {
    const targetCache = args['target-cache'] === undefined ? undefined : parseTargetCache(String(args['target-cache']));
    const { model } = loadModelFile(String(args.model));
    const { plan } = await planForModel({
      model,
      sysroot: String(args.sysroot),
      profileName: args.profile === undefined ? undefined : String(args.profile),
      plan: { targetCache },
    });
    if (args.json === true) process.stdout.write(`${JSON.stringify(plan)}\n`);
    else process.stdout.write(formatPlan(plan));
  },
};

function formatPlan(plan: CompressionPlan): string {
  const lines: string[] = [];
  lines.push(`profile    ${plan.profile}`);
  lines.push(
    `precision  ${plan.precision}${plan.method ? ` (compress --method ${plan.method})` : ' (keep)'}; weights ${plan.weightType}, activations ${plan.activationType}` +
      `${plan.perChannel ? ', per-channel' : ''}${plan.reduceRange ? ', reduce_range' : ''}${plan.verifyOnDevice ? ' — verify on device' : ''}`,
  );
  lines.push(`provider   ${plan.executionProvider}${plan.threads ? `, ${plan.threads} threads` : ''}`);
  lines.push(
    plan.pruning
      ? `pruning    ratio ${plan.pruning.ratio.toFixed(2)} for ${plan.pruning.targetCache.toUpperCase()} (${fmtBytes(plan.pruning.targetBytes)}), ${plan.pruning.layers.length} layer(s) over it`
      : 'pruning    none',
  );
  if (plan.lowRank) lines.push(`low-rank   ${plan.lowRank.layers.map((l) => `${l.name} rank ${l.rank}`).join(', ')}`);
  for (const c of plan.candidates) lines.push(`candidate  ${c.precision}${c.reduceRange ? ' reduce_range' : ''}: ${c.note}`);
  lines.push('reasons');
  for (const r of plan.reasons) lines.push(`  - ${r}`);
  return `${lines.join('\n')}\n`;
}
