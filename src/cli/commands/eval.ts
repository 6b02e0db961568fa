import type { Argv } from 'yargs';
import type { CommandModule } from '../main.js';
import { detectionOptions, detectionTaskFromArgs } from './detection-options.js';
import { printResult, stageProgress } from '../progress.js';
import { EdgetuneError } from '../../util/errors.js';
import type { EvaluateFilesResult } from '../../compress/evaluate-files.js';
import type { DetectionMetrics } from '../../detect/detection-metrics.js';

/** `edgetune eval MODEL --data DIR [--reference REF]`. */
export const commandModule: CommandModule = {
  command: 'eval <model>',
  describe: 'accuracy and fidelity of a model on a dataset in the ONNX test-data layout (detectors: mAP on images)',
  builder: (y: Argv) =>
    detectionOptions(y)
      .positional('model', { type: 'string', describe: 'ONNX model to score', demandOption: true })
      .option('data', { type: 'string', demandOption: true, describe: 'dataset directory (test_data_set_N/input_K.pb, label.pb); with --task detection also a folder of JPEG/PNG images' })
      .option('reference', { type: 'string', describe: 'reference model (usually the original): agreement, cosine, SQNR, KL' })
      .option('output-index', { type: 'number', default: 0, describe: 'which model output top-1, agreement and KL score (cosine and SQNR cover every output)' })
      .option('temperature', { type: 'number', default: 1, describe: 'softmax temperature for KL' })
      .option('confidence', { type: 'number', default: 0.95, describe: 'confidence of the intervals (paired top-1 drop, agreement, cosine, SQNR; 0 = none)' })
      .option('json', { type: 'boolean', default: false, describe: 'print exactly one JSON object on stdout (progress and logs go to stderr)' }),
  handler: async (args) => {
    const { evaluateModelFiles } = await import('../../compress/evaluate-files.js');
    const { isConfidenceLevel } = await import('../../compress/confidence.js');
    const confidence = args.confidence as number;
    if (!isConfidenceLevel(confidence)) throw new EdgetuneError('USAGE', `--confidence must be 0 (no intervals) or in (0, 1); got ${confidence}`);
    const detection = detectionTaskFromArgs(args);
    const progress = stageProgress();
    try {
      const result = await evaluateModelFiles({
        ...(detection ? { detection } : {}),
        modelPath: String(args.model),
        dataDir: String(args.data),
        ...(args.reference ? { referencePath: String(args.reference) } : {}),
        outputIndex: args['output-index'] as number,
        temperature: args.temperature as number,
        confidence,
        onProgress: (done, total) => progress.update('eval', done, total),
      });
      progress.stop();
      const pct = (v: number | null): string => (v === null ? 'n/a' : `${(v * 100).toFixed(2)}%`);
      const num = (v: number | null, digits: number): string => (v === null ? 'n/a' : v.toFixed(digits));
      // With several outputs the summary's cosine and SQNR are the worst output's; each output gets a line.
      const several = result.outputs !== null && result.outputs.length > 1;
      const iv = result.intervals;
      const ci = (range: [number, number] | null, f: (v: number) => string): string => (range && iv.confidence > 0 ? ` [${f(range[0])}, ${f(range[1])}]` : '');
      const pp = (v: number): string => `${(v * 100).toFixed(2)}`;
      // A sequence output [batch, positions, classes] (a text recognizer): the class at each position agrees or not.
      const seq = result.sequenceAgreement ?? null;
      const agreement = seq
        ? `${pct(seq.agreement)} per position${ci(seq.ci, (v) => `${pp(v)}%`)} (class at each position of output '${seq.output}', ${seq.positions} positions; ${seq.identicalSamples} of ${result.samples} sequences identical at every position)`
        : `${pct(result.agreement)}${ci(iv.agreement, (v) => `${pp(v)}%`)}`;
      const scored = result.detection ?? null;
      printResult(args.json === true, result, () =>
        scored ? detectionText(result, scored) : [
          `samples ${result.samples}`,
          ...(result.top1 !== null
            ? [`top-1 ${pct(result.top1)}${result.referenceTop1 !== null ? ` (reference ${pct(result.referenceTop1)}; drop ${pp(result.referenceTop1 - result.top1)} pp${ci(iv.top1Drop, pp)})` : ''}`]
            : []),
          // Without a reference there is nothing to agree with: say what would give those figures instead of n/a.
          ...(result.reference === null ? ['(agreement, cosine, SQNR and KL compare with an original model: give it with --reference MODEL)'] : []),
          ...(result.reference === null ? [] : [`agreement ${agreement}${seq ? '\n' : '  '}cosine ${num(result.cosine, 5)}${ci(iv.cosine, (v) => v.toFixed(5))}  SQNR ${num(result.sqnrDb, 2)} dB${ci(iv.sqnrDb, (v) => v.toFixed(2))}  KL ${num(result.kl, 5)}${several ? `  (worst output '${result.worstOutput}')` : ''}`]),
          ...(iv.confidence > 0 && (result.agreement !== null || seq) ? [`(intervals: ${+(iv.confidence * 100).toFixed(1)} %, on these ${result.samples} samples)`] : []),
          ...result.collapsed.map((c) => `COLLAPSED: ${c}`),
          ...(several
            ? result.outputs!.map((o) => `  output '${o.name}': cosine ${o.cosine.toFixed(5)}  SQNR ${o.sqnrDb.toFixed(2)} dB  max error ${o.maxAbsError.toPrecision(3)}${o.collapsed ? '  COLLAPSED' : ''}`)
            : []),
        ].join('\n'),
      );
    } finally {
      progress.stop();
    }
  },
};

/** The human summary of a detection eval. */
function detectionText(result: EvaluateFilesResult, d: DetectionMetrics): string {
  const f = (v: number): string => (v < 0 ? 'n/a' : v.toFixed(4));
  const against = d.mode === 'labels' ? `${d.objects} labelled objects` : `the reference's ${d.objects} detections at score ≥ ${d.refConf}`;
  const lines = [`images ${d.images}  detections ${d.detections}  judged against ${against}`];
  if (d.metric === 'hmean' && d.hmean) {
    const h = d.hmean;
    lines.push(`text: precision ${f(h.precision)}  recall ${f(h.recall)}  hmean ${f(h.hmean)}${h.reference ? `  (reference hmean ${f(h.reference.hmean)})` : ''}`);
  }
  lines.push(`mAP@.5 ${f(d.map50)}  mAP@.5:.95 ${f(d.map5095)}  mAP@.75 ${f(d.map75)}  AR@100 ${f(d.ar100)}  (COCO)   VOC mAP@.5 ${d.vocMap50 === null ? 'n/a' : f(d.vocMap50)}`);
  if (d.referenceMap) lines.push(`reference on the same labels: mAP@.5 ${f(d.referenceMap.map50)}  mAP@.5:.95 ${f(d.referenceMap.map5095)}`);
  if (d.mode === 'labels' && d.vsReference) lines.push(`against the reference's detections: mAP@.5 ${f(d.vsReference.map50)}  mAP@.5:.95 ${f(d.vsReference.map5095)}`);
  if (d.agreement) {
    const a = d.agreement;
    lines.push(
      `agreement at score ≥ ${d.refConf}: precision ${f(a.precision)}  recall ${f(a.recall)}  F1 ${f(a.f1)}  mean IoU ${a.meanIou === null ? 'n/a' : a.meanIou.toFixed(3)}  mean |Δscore| ${a.meanAbsScoreDelta === null ? 'n/a' : a.meanAbsScoreDelta.toFixed(4)}  (${a.candidateCount} vs ${a.referenceCount} detections; ${(a.identicalImageShare * 100).toFixed(0)} % of images identical)`,
    );
  }
  if (d.drop) {
    const label = d.metric === 'hmean' ? 'hmean' : 'mAP@.5:.95';
    const ci = d.drop.confidence > 0 ? ` [${d.drop.ci[0].toFixed(2)}, ${d.drop.ci[1].toFixed(2)}] (${+(d.drop.confidence * 100).toFixed(1)} %, bootstrap over ${d.images} images)` : '';
    lines.push(`drop against the original: ${d.drop.points.toFixed(2)} points of ${label}${ci}`);
  }
  if (d.perClass.length > 1) for (const c of d.perClass) lines.push(`  ${c.name ?? c.categoryId}: AP@.5:.95 ${f(c.ap5095)}  AP@.5 ${f(c.ap50)}  (${c.objects} objects)`);
  if (result.reference && result.cosine !== null) lines.push(`raw outputs: worst output '${result.worstOutput}' cosine ${result.cosine.toFixed(5)}  SQNR ${result.sqnrDb?.toFixed(2) ?? 'n/a'} dB`);
  for (const c of result.collapsed) lines.push(`COLLAPSED: ${c}`);
  for (const n of d.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
