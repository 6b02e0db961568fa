import type { Argv } from 'yargs';
import type { DetectionTaskFiles } from '../../detect/load-detection-task.js';
import { EdgetuneError } from '../../util/errors.js';

/** `--task` and the detection options shared by eval, compress and tune. */
export function detectionOptions(y: Argv): Argv {
  return y
    .option('task', { type: 'string', choices: ['classification', 'detection'], default: 'classification', describe: 'what the model does: classification (top-1, agreement, fidelity of the outputs) or detection (decoded boxes: mAP, agreement, hmean; --data may be a folder of images)' })
    .option('decoder', { type: 'string', describe: 'detection: ssd-anchors | yolo | db-text (turns raw outputs into boxes)' })
    .option('decoder-config', { type: 'string', describe: 'detection: JSON file with the decoder\'s options (e.g. {"preset": "blazeface-back-256"}), optional "input" preprocessing and "categoryIds"' })
    .option('labels', { type: 'string', describe: 'detection: COCO JSON labels (images matched by file_name): mAP against them instead of against the original\'s detections' })
    .option('ref-conf', { type: 'number', describe: "detection: operating threshold: the original's detections at or above it are the ground truth without labels, and agreement is measured there (default per decoder: ssd-anchors 0.5, yolo 0.25, db-text 0.6)" });
}

/** The detection task the arguments name, or undefined for a classification task; USAGE on a mix that cannot be meant. */
export function detectionTaskFromArgs(args: Record<string, unknown>): DetectionTaskFiles | undefined {
  const detectionOnly = ['decoder', 'decoder-config', 'labels', 'ref-conf'].filter((k) => args[k] !== undefined);
  if (args.task !== 'detection') {
    if (detectionOnly.length > 0) throw new EdgetuneError('USAGE', `--${detectionOnly[0]} needs --task detection`);
    return undefined;
  }
  if (args.decoder === undefined) throw new EdgetuneError('USAGE', '--task detection needs --decoder ssd-anchors|yolo|db-text');
  return {
    decoder: String(args.decoder),
    ...(args['decoder-config'] !== undefined ? { decoderConfigPath: String(args['decoder-config']) } : {}),
    ...(args.labels !== undefined ? { labelsPath: String(args.labels) } : {}),
    ...(args['ref-conf'] !== undefined ? { refConf: args['ref-conf'] as number } : {}),
  };
}
