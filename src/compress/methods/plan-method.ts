import { planForModel } from '../../hardware/plan-for-model.js';
import { parseTargetCache } from '../../hardware/planner.js';
import { upgradeOpset } from '../../onnx/normalize.js';
import { defaultOpset } from '../../onnx/ir.js';
import type { CompressMethodRunner, MethodOutcome } from './method-types.js';
import { loadCompressMethod } from './registry.js';

/**
 * `plan`: whatever `edgetune plan` chooses for this device (or `--profile`): structured pruning sized to the cache
 * when the plan asks for it and a prune pass exists, then the precision method (int8 with the plan's reduce_range
 * and per-channel choice, fp16, int4), or nothing for fp32.
 */
export const planMethod: CompressMethodRunner = {
  minOpset: 0,
  needsData: false,
  async run(context) {
    const { options } = context;
    const { plan } = await planForModel({
      model: context.model,
      ...(options.sysroot ? { sysroot: options.sysroot } : {}),
      ...(options.profileName ? { profileName: options.profileName } : {}),
      ...(options.targetCache ? { plan: { targetCache: parseTargetCache(options.targetCache) } } : {}),
    });
    const steps: MethodOutcome['steps'] = [];
    let model = context.model;
    let calibration: MethodOutcome['calibration'] = null;
    const notes = [...plan.reasons];
    if (plan.pruning && plan.pruning.ratio > 0) {
      const prune = await loadCompressMethod('prune').catch(() => undefined);
      if (prune && (!prune.needsData || context.dataset)) {
        const outcome = await prune.run({ ...context, model, options: { ...options, ratio: plan.pruning.ratio } });
        model = outcome.model;
        steps.push(outcome.report);
      } else notes.push('plan asks for structured pruning, but it needs --data (or this build has no prune pass): skipped');
    }
    let method = plan.method;
    if (method === 'int8' && !context.dataset) {
      notes.push('int8 static needs --data for calibration: using int8-dynamic instead');
      method = 'int8-dynamic';
    }
    if (method) {
      const runner = await loadCompressMethod(method);
      if (defaultOpset(model) < runner.minOpset) upgradeOpset(model, runner.minOpset);
      const outcome = await runner.run({
        ...context,
        model,
        options: { ...options, reduceRange: plan.reduceRange, perChannel: plan.perChannel, ...(plan.int4 ? { blockSize: plan.int4.blockSize as 32 | 64 | 128 } : {}) },
      });
      model = outcome.model;
      calibration = outcome.calibration ?? null;
      steps.push(outcome.report);
    } else notes.push('plan keeps fp32: no precision change applied');
    const last = steps[steps.length - 1];
    return {
      model,
      calibration,
      steps,
      report: {
        pass: 'plan',
        nodesChanged: steps.reduce((n, s) => n + s.nodesChanged, 0),
        nodesKeptFloat: last?.nodesKeptFloat ?? [],
        opset: { from: steps[0]?.opset.from ?? defaultOpset(context.model), to: defaultOpset(model) },
        notes: [...notes, ...steps.flatMap((s) => s.notes)],
        details: { plan, applied: steps.map((s) => s.pass) },
      },
    };
  },
};
