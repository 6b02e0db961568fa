import { describe, expect, it } from 'vitest';
import { deployVerdict, describeVerdict, fidelityMetricsOf, recordedGate, recordedGateFailures } from '../../../src/agent/fidelity-verdict.js';

const COLLAPSE = "output 'logits' predicts class 8 for all 256 samples; the original predicts 10 classes (86.7 % outside its most common one)";

/** An eval JSON (SPEC `eval` with `collapsed` and `intervals`) of a classifier compared with its original. */
function evalJson(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    samples: 256,
    top1: null,
    agreement: 0.99609375,
    cosine: 0.99991,
    sqnrDb: 35.2,
    kl: 0.0001,
    referenceTop1: null,
    outputs: [{ name: 'logits', cosine: 0.99991, sqnrDb: 35.2, maxAbsError: 0.1, collapsed: false, cosineCi: [0.9998, 0.99995], sqnrDbCi: [34, 36] }],
    worstOutput: 'logits',
    intervals: { confidence: 0.95, top1Drop: null, agreement: [0.9784, 0.9999], cosine: [0.9998, 0.99995], sqnrDb: [34, 36] },
    pairedCounts: null,
    collapsed: [],
    ...over,
  };
}

const collapsedEval = (): Record<string, unknown> =>
  evalJson({ agreement: 0.1328125, cosine: -0.22046, intervals: { confidence: 0.95, top1Drop: null, agreement: [0.0938, 0.1806], cosine: [-0.245, -0.195], sqnrDb: [-0.17, -0.14] }, collapsed: [COLLAPSE] });

describe('deployVerdict: the deploy gate on an eval against the original', () => {
  it('passes a faithful variant', () => {
    const v = deployVerdict(evalJson(), { judgedOn: 'calibration', compress: null, force: false });
    expect(v).toMatchObject({ passed: true, forced: false, failures: [], collapsed: [], samples: 256, worstOutput: 'logits', bound: null });
    expect(v.agreement).toBeCloseTo(0.99609375, 9);
  });

  it('fails a collapsed variant, naming the finding and the figures', () => {
    const v = deployVerdict(collapsedEval(), { judgedOn: 'calibration', compress: null, force: false });
    expect(v.passed).toBe(false);
    expect(v.forced).toBe(false);
    expect(v.failures).toEqual([COLLAPSE]);
    expect(v.figures).toBe("agreement 0.1328 (95 % interval 0.0938 … 0.1806), worst output 'logits' cosine -0.22046 on 256 samples");
    expect(describeVerdict('the int8 variant abc', v)).toBe(
      `the int8 variant abc fails the fidelity gate (judged on calibration data (256 samples the variant was fitted to)): ${v.figures}; ${COLLAPSE}`,
    );
  });

  it('with force the failed variant is marked forced, still failed', () => {
    const v = deployVerdict(collapsedEval(), { judgedOn: 'calibration', compress: null, force: true });
    expect(v).toMatchObject({ passed: false, forced: true });
    expect(deployVerdict(evalJson(), { judgedOn: 'calibration', compress: null, force: true }).forced).toBe(false);
  });

  it('checks a bound on the interval only when one is given (noHoldout)', () => {
    const lossy = evalJson({ agreement: 0.96875, intervals: { confidence: 0.95, top1Drop: null, agreement: [0.9394, 0.9865], cosine: [0.99, 0.999], sqnrDb: [20, 22] } });
    expect(deployVerdict(lossy, { judgedOn: 'calibration', compress: null, force: false }).passed).toBe(true);
    const bounded = deployVerdict(lossy, { judgedOn: 'calibration', maxAccuracyDropPp: 2, compress: null, force: false });
    expect(bounded.passed).toBe(false);
    expect(bounded.bound?.met).toBe(false);
    expect(bounded.failures[0]).toMatch(/agreement drop 3\.13 pp .* exceeds the 2 pp bound/);
  });

  it('fails when the eval cannot say whether an output collapsed', () => {
    const { problems } = fidelityMetricsOf(evalJson({ collapsed: undefined, intervals: undefined }));
    expect(problems).toHaveLength(2);
    const v = deployVerdict(evalJson({ collapsed: undefined }), { judgedOn: 'calibration', compress: null, force: false });
    expect(v.passed).toBe(false);
    expect(v.failures[0]).toContain("no collapse findings ('collapsed')");
  });

  it("adds the compress child's (forced) failures the eval did not repeat", () => {
    const compress = { method: 'int8', fidelity: { gate: { passed: false, failures: [COLLAPSE, 'top1 drop 40 pp exceeds the 1 pp bound'], forced: true } } };
    const v = deployVerdict(collapsedEval(), { judgedOn: 'calibration', compress, force: true });
    expect(v.failures).toEqual([COLLAPSE, 'compress: top1 drop 40 pp exceeds the 1 pp bound']);
    expect(v.compressGate).toEqual({ passed: false, failures: compress.fidelity.gate.failures, forced: true });
    const clean = deployVerdict(evalJson(), { judgedOn: 'calibration', compress, force: true });
    expect(clean).toMatchObject({ passed: false, forced: true });
  });
});

describe('deployVerdict on a detector (eval with `detection`, issue 14)', () => {
  /** A detector's eval against its original with labels: mAP@.5:.95 0.40 against the original's 0.43. */
  const detectorEval = (drop: { points: number; ci: [number, number] }): Record<string, unknown> =>
    evalJson({
      samples: 9,
      agreement: null,
      intervals: { confidence: 0.95, top1Drop: null, agreement: null, cosine: [0.998, 0.9995], sqnrDb: [30, 32] },
      detection: {
        mode: 'labels',
        metric: 'map5095',
        images: 9,
        objects: 25,
        detections: 24,
        refConf: 0.5,
        map50: 0.8,
        map5095: 0.4,
        map75: 0.3,
        ar100: 0.45,
        referenceMap: { map50: 0.84, map5095: 0.43, map75: 0.31, ar100: 0.46 },
        hmean: null,
        drop: { ...drop, confidence: 0.95 },
        notes: [],
      },
    });

  it('judges the bound in points of mAP@.5:.95, and names the figure', () => {
    const within = deployVerdict(detectorEval({ points: 3, ci: [1, 5] }), { judgedOn: 'calibration', maxAccuracyDropPp: 6, compress: null, force: false });
    expect(within.passed).toBe(true);
    expect(within.accuracy).toMatchObject({ metric: 'map5095', value: 0.4, baseline: 0.43, drop: 3, ci: [1, 5], samples: 9 });
    expect(within.figures).toMatch(/^mAP@\.5:\.95 0\.4000 against 25 labelled objects, drop 3\.00 points \(95 % interval 1\.00 … 5\.00\)/);
    const over = deployVerdict(detectorEval({ points: 3, ci: [1, 5] }), { judgedOn: 'calibration', maxAccuracyDropPp: 2, compress: null, force: false });
    expect(over.passed).toBe(false);
    expect(over.failures[0]).toMatch(/mAP@\.5:\.95 drop 3\.00 pp .* exceeds the 2 pp bound/);
  });

  it('ignores a malformed detection object (the classifier figures stand)', () => {
    const json = detectorEval({ points: 3, ci: [1, 5] });
    (json.detection as Record<string, unknown>).metric = 'recall';
    expect(fidelityMetricsOf(json).metrics.detection).toBeNull();
  });
});

describe('recordedGateFailures: the verdict kept with a stored variant', () => {
  it("reads a forced compress result's gate", () => {
    const details = JSON.stringify({ method: 'sparsity', fidelity: { gate: { passed: false, failures: [COLLAPSE], forced: true } } });
    expect(recordedGateFailures(details)).toEqual([`compress: ${COLLAPSE}`]);
  });

  it("prefers a deploy's verdict, which already holds the compress child's failures", () => {
    const verdict = deployVerdict(collapsedEval(), { judgedOn: 'calibration', compress: null, force: false });
    const details = JSON.stringify({ method: 'sparsity', fidelity: { gate: { passed: false, failures: [COLLAPSE], forced: true } }, deployGate: recordedGate(verdict, 'job-1') });
    expect(recordedGateFailures(details)).toEqual([COLLAPSE]);
    const passed = deployVerdict(evalJson(), { judgedOn: 'calibration', compress: null, force: false });
    expect(recordedGateFailures(JSON.stringify({ deployGate: recordedGate(passed, 'job-2') }))).toEqual([]);
  });

  it('finds nothing in a passed, unjudged or unreadable record', () => {
    expect(recordedGateFailures(JSON.stringify({ fidelity: { gate: { passed: true, failures: [], forced: false } } }))).toEqual([]);
    expect(recordedGateFailures(JSON.stringify({ fidelity: null }))).toEqual([]);
    expect(recordedGateFailures(JSON.stringify({ name: 'model.onnx' }))).toEqual([]);
    expect(recordedGateFailures('{not json')).toEqual([]);
    expect(recordedGateFailures(null)).toEqual([]);
  });
});
