import type { Argv } from 'yargs';
import { detectionOptions, detectionTaskFromArgs } from './detection-options.js';
import type { CommandModule } from '../main.js';
import { printResult, stageProgress } from '../progress.js';
import { EdgetuneError } from '../../util/errors.js';
import type { CalibrationMethod } from '../../compress/calibration-stats.js';

/** `edgetune compress MODEL -o OUT --method METHOD`. */
export const commandModule: CommandModule = {
  command: 'compress <model>',
  describe: 'compress an ONNX model (int8, int8-dynamic, fp16, int4, prune, sparsity, lowrank, plan)',
  builder: (y: Argv) =>
    detectionOptions(y)
      .positional('model', { type: 'string', describe: 'input ONNX model (never overwritten)', demandOption: true })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'output model path (written atomically)' })
      .option('method', { alias: 'm', type: 'string', demandOption: true, describe: 'int8 | int8-dynamic | fp16 | int4 | prune | sparsity | lowrank | plan' })
      .option('data', { type: 'string', describe: 'calibration / reconstruction data (ONNX test-data layout; with --task detection also a folder of JPEG/PNG images)' })
      .option('calibration', { type: 'string', choices: ['auto', 'minmax', 'percentile', 'entropy', 'mse', 'consumer-mse'], default: 'auto', describe: 'int8: how activation ranges are taken from the data (consumer-mse: the range whose readers\' output error is lowest; auto: minmax or percentile 99.99/99.999, with or without bias correction, whichever gives the best worst-output cosine on a held-out quarter of --data)' })
      .option('percentile', { type: 'number', default: 99.999, describe: 'percentile for --calibration percentile' })
      .option('per-channel', { type: 'boolean', default: true, describe: 'per-channel weights (--no-per-channel for per-tensor)' })
      .option('symmetric', { type: 'boolean', default: false, describe: 'int8: symmetric int8 activations (TensorRT style) instead of uint8 asymmetric' })
      .option('reduce-range', { type: 'boolean', describe: '7-bit weights (x86 AVX2 without VNNI)' })
      .option('ratio', { type: 'number', describe: 'prune: channel share of every group (--allocate uniform) or share of FLOPs removed (--allocate sensitivity); sparsity: zero share; lowrank: parameter budget' })
      .option('target-cache', { type: 'string', describe: 'prune: l1 | l2 | l3 | BYTES' })
      .option('steps', { type: 'number', describe: 'prune: iterative steps' })
      .option('allocate', { type: 'string', choices: ['uniform', 'sensitivity'], describe: 'prune: one ratio for every group (uniform; default without --target-latency-ms), or per-group widths chosen greedily by latency measured here and accuracy loss on --data (sensitivity)' })
      .option('target-latency-ms', { type: 'number', describe: 'prune: latency to reach (batch 1, one thread, measured on this device against the unpruned model); implies --allocate sensitivity, needs --data' })
      .option('importance', { type: 'string', choices: ['l1', 'l2', 'activation', 'reconstruction'], describe: 'prune: channel importance (filter norm; mean |activation| on --data; reconstruction: the channels the next layers can best rebuild without, on --data). Default: reconstruction when --data is given (uniform ratios), else l2' })
      .option('energy', { type: 'number', describe: 'lowrank: retained singular-value energy (e.g. 0.95)' })
      .option('block-size', { type: 'number', choices: [32, 64, 128], describe: 'int4 block size' })
      .option('equalize', { type: 'boolean', default: true, describe: 'int8: per-channel activation equalization (--no-equalize to skip)' })
      .option('equalize-float-inputs', { type: 'boolean', default: false, describe: 'int8: also equalize what float-only ops (HardSwish…) read: more faithful, one Mul each, slower' })
      .option('bias-correction', { type: 'number', default: 1, describe: 'int8: empirical bias correction rounds (0 = off, at most 5)' })
      .option('float-head', { type: 'boolean', default: true, describe: "int8: keep a detector's output tail and head layers float (--no-float-head to quantize them)" })
      .option('adaptive-rounding', { type: 'boolean', default: true, describe: 'int8: round each weight up or down to minimise its layer\'s output error on --data, not to nearest (--no-adaptive-rounding for nearest)' })
      .option('hard-swish-product', { type: 'boolean', default: true, describe: 'int8: HardSwish runs as x·HardSigmoid(x) in int8 ops onnxruntime multithreads (a depthwise 1×1 QLinearConv saturating to [0, 1], then a QLinearMul), where every reader is a Conv (--no-hard-swish-product to keep it a float island or lookup)' })
      .option('lookup-islands', { type: 'boolean', default: true, describe: 'int8: float islands (HardSwish…) on tensors of ≥ 65,536 elements become exact 256-entry table lookups: faster, outputs unchanged, 256 bytes per channel (--no-lookup-islands to keep them float)' })
      .option('speed-check', { type: 'boolean', default: true, describe: 'int8: time fp32 and int8 in alternation here and report the speed-up (--no-speed-check to skip)' })
      .option('keep-float', { type: 'string', describe: 'auto (with --max-accuracy-drop) or NODE,NODE,...' })
      .option('max-accuracy-drop', { type: 'number', describe: 'percentage points of top-1 (agreement, or cosine ×100; detectors: mAP@.5:.95 or hmean ×100) the model may lose: checked on held-out data, on the upper end of its confidence interval' })
      .option('val-data', { type: 'string', describe: 'validation data (ONNX test-data layout) the result is judged on; without it --data is split when a bound is given' })
      .option('holdout', { type: 'boolean', default: true, describe: '--no-holdout: judge a bound on the data the method fitted to (the report says so)' })
      .option('confidence', { type: 'number', default: 0.95, describe: 'confidence of the intervals and of the bound check, the --keep-float auto search included (0 = point estimates)' })
      .option('force', { type: 'boolean', default: false, describe: 'write the model even when the fidelity gate fails (collapsed output, bound missed); the report says so first' })
      .option('shape', { type: 'string', array: true, describe: 'NAME=DxDxD for an input with symbolic dims (repeatable): without --data, the fidelity gate synthesizes inputs of this shape' })
      .option('profile', { type: 'string', describe: 'plan: device profile to plan for' })
      .option('sysroot', { type: 'string', describe: 'plan: probe hardware under this root' })
      .option('json', { type: 'boolean', default: false, describe: 'print exactly one JSON object on stdout (progress and logs go to stderr)' }),
  handler: async (args) => {
    const { compressModelFile } = await import('../../compress/compress-model.js');
    const keepFloatArg = args['keep-float'] as string | undefined;
    const ratio = args.ratio as number | undefined;
    if (ratio !== undefined && !(ratio > 0 && ratio < 1)) throw new EdgetuneError('USAGE', `--ratio must be in (0, 1), got ${ratio}`);
    const targetLatencyMs = args['target-latency-ms'] as number | undefined;
    if (targetLatencyMs !== undefined && !(Number.isFinite(targetLatencyMs) && targetLatencyMs > 0)) throw new EdgetuneError('USAGE', `--target-latency-ms must be a number of milliseconds > 0, got ${targetLatencyMs}`);
    const detection = detectionTaskFromArgs(args);
    const drop = args['max-accuracy-drop'] as number | undefined;
    if (drop !== undefined && !(drop >= 0)) throw new EdgetuneError('USAGE', `--max-accuracy-drop must be ≥ 0, got ${drop}`);
    const biasRounds = args['bias-correction'] as number;
    if (!Number.isInteger(biasRounds) || biasRounds < 0 || biasRounds > 5) throw new EdgetuneError('USAGE', `--bias-correction must be a whole number of rounds from 0 to 5, got ${biasRounds}`);
    const { parseShapeArgs } = await import('../../profile/profile-inputs.js');
    const shapes = parseShapeArgs((args.shape as string[] | undefined) ?? []);
    const progress = stageProgress();
    try {
      const report = await compressModelFile({
        inputPath: String(args.model),
        outputPath: String(args.output),
        method: String(args.method),
        ...(args.data ? { dataDir: String(args.data) } : {}),
        ...(detection ? { detection } : {}),
        ...(Object.keys(shapes).length > 0 ? { shapes } : {}),
        calibration: args.calibration as CalibrationMethod | 'auto',
        percentile: args.percentile as number,
        perChannel: args['per-channel'] as boolean,
        symmetric: args.symmetric as boolean,
        ...(args['reduce-range'] !== undefined ? { reduceRange: args['reduce-range'] as boolean } : {}),
        ...(ratio !== undefined ? { ratio } : {}),
        ...(args['target-cache'] ? { targetCache: String(args['target-cache']) } : {}),
        ...(args.steps !== undefined ? { steps: args.steps as number } : {}),
        ...(args.allocate ? { allocate: args.allocate as 'uniform' | 'sensitivity' } : {}),
        ...(targetLatencyMs !== undefined ? { targetLatencyMs } : {}),
        ...(args.importance ? { importance: args.importance as 'l1' | 'l2' | 'activation' | 'reconstruction' } : {}),
        ...(args.energy !== undefined ? { energy: args.energy as number } : {}),
        ...(args['block-size'] !== undefined ? { blockSize: args['block-size'] as 32 | 64 | 128 } : {}),
        ...(keepFloatArg ? { keepFloat: keepFloatArg === 'auto' ? 'auto' : keepFloatArg.split(',').filter(Boolean) } : {}),
        ...(drop !== undefined ? { maxAccuracyDropPp: drop } : {}),
        ...(args['val-data'] ? { validationDataDir: String(args['val-data']) } : {}),
        noHoldout: args.holdout === false,
        confidence: args.confidence as number,
        force: args.force === true,
        equalize: args.equalize as boolean,
        equalizeFloatInputs: args['equalize-float-inputs'] as boolean,
        biasCorrectionRounds: biasRounds,
        floatHead: args['float-head'] as boolean,
        lookupIslands: args['lookup-islands'] as boolean,
        hardSwishProduct: args['hard-swish-product'] as boolean,
        adaptiveRounding: args['adaptive-rounding'] as boolean,
        speedCheck: args['speed-check'] as boolean,
        ...(args.profile ? { profileName: String(args.profile) } : {}),
        ...(args.sysroot ? { sysroot: String(args.sysroot) } : {}),
        onProgress: (stage, done, total) => progress.update(stage, done, total),
      });
      progress.stop();
      printResult(args.json === true, report, () => {
        const lines = report.fidelity?.gate.forced ? [`FORCED: written although the fidelity gate failed: ${report.fidelity.gate.failures.join('; ')}`] : [];
        lines.push(
          `${report.method}: ${report.input.path} (${kib(report.input.bytes)}) → ${report.output.path} (${kib(report.output.bytes)}), ${report.sizeRatio.toFixed(2)}× smaller`,
          `parameters ${report.params.before} → ${report.params.after}; nodes changed ${report.nodesChanged}; kept float ${report.nodesKeptFloat.length}; opset ${report.opset.from} → ${report.opset.to}`,
        );
        if (report.calibration) lines.push(`calibration: ${report.calibration.method} on ${report.calibration.samples} samples`);
        for (const note of report.notes) if (!note.startsWith('FORCED:')) lines.push(`note: ${note}`);
        lines.push(`took ${report.seconds.toFixed(1)} s`);
        return lines.join('\n');
      });
    } finally {
      progress.stop();
    }
  },
};

function kib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}
