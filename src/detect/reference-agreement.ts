/**
 * Label-free evaluation of a compressed detector against its reference (the fp32 original): how faithfully the
 * candidate reproduces the reference's detections. This measures fidelity, not accuracy. Pure: no files, no clock.
 *
 * Two views (see /work/shared/notes/detection-evaluation.md §2):
 * 1. mAP_ref — pseudo ground truth = reference detections with score ≥ τ (`refConf`; ids from 1, `iscrowd` 0,
 *    area = w·h), candidate detections scored against it by the same pycocotools-exact evaluator (`evaluateCoco`)
 *    → `map50Ref`, `map5095Ref`.
 * 2. Agreement at the operating point — both sides cut at τ, one-to-one same-class matching at IoU ≥ 0.5, greedy
 *    by candidate score: precision, recall, F1, mean IoU of matched pairs, mean |Δscore|, count delta, share of
 *    images that are identical (same count, everything matched).
 *
 * Caveats:
 * - The candidate enters mAP_ref with *all* detections it is given — whatever confidence floor its decoder kept
 *   (e.g. 0.001 for evaluation, as Ultralytics' val does) — while the pseudo-GT is cut at τ. A candidate decoded
 *   with a high floor loses the low-score tail that mAP rewards; decode both models with the same low floor.
 * - The reference against itself gives mAP_ref = 1 exactly when every class has at least two pseudo-GT boxes
 *   over the set, no image has more than 100 pseudo-GT boxes of one class (pycocotools' per-image cap) and no
 *   box has zero width or height (IoU 0). A class with a single pseudo-GT box scores 1 − 2⁻⁵² per cell
 *   (pycocotools' precision tp / (tp + fp + 2⁻⁵²)), so its AP prints as 0.9999999999999998.
 * - Small image sets are noisy; report the image and pseudo-GT counts with the numbers.
 */
import { EdgetuneError } from '../util/errors.js';
import type { Box, Detection } from './detection-types.js';
import { cornersToCocoBbox, evaluateCoco, type CocoDetection, type CocoEvalResult, type CocoGroundTruth } from './coco-eval.js';
import { numpyMean } from './numpy-sum.js';

/** One image's detections from the reference and from the candidate, in the same pixel coordinates. */
export interface ReferenceImage {
  imageId: number;
  reference: readonly Detection[];
  candidate: readonly Detection[];
}

/** Caller input of `referenceAgreement`. */
export interface ReferenceAgreementOptions {
  images: readonly ReferenceImage[];
  /** τ: the reference's operating threshold (e.g. YOLO 0.25, BlazeFace 0.5); pseudo-GT and agreement use ≥ τ. */
  refConf: number;
  /** IoU a candidate/reference pair needs to agree; default 0.5 (matched when IoU ≥ this). */
  matchIou?: number;
}

/** Agreement of candidate and reference, both cut at τ. Ratios with a zero denominator are 1 when both sides are empty, else 0. */
export interface OperatingPointAgreement {
  /** Matched / candidate detections. */
  precision: number;
  /** Matched / reference detections. */
  recall: number;
  f1: number;
  /** Mean IoU of matched pairs; null when nothing matched. */
  meanIou: number | null;
  /** Mean |candidate score − reference score| of matched pairs; null when nothing matched. */
  meanAbsScoreDelta: number | null;
  matchedCount: number;
  referenceCount: number;
  candidateCount: number;
  /** candidateCount − referenceCount. */
  countDelta: number;
  /** Mean over images of |candidate count − reference count|. */
  meanAbsCountDeltaPerImage: number;
  /** Share of images with the same count on both sides and every detection matched. */
  identicalImageShare: number;
}

/** mAP against the reference's pseudo-GT plus the agreement at the operating point. */
export interface ReferenceAgreementResult {
  refConf: number;
  matchIou: number;
  imageCount: number;
  /** Reference detections with score ≥ τ (the pseudo ground truth). */
  pseudoGtCount: number;
  /** Candidate detections that entered mAP_ref (all of them, at whatever floor the decoder kept). */
  candidateDetectionCount: number;
  /** The lowest candidate score seen (the effective floor); null when the candidate returned nothing. */
  candidateMinScore: number | null;
  /** AP50 of the candidate against the pseudo-GT (pycocotools `stats[1]`); −1 when there is no pseudo-GT. */
  map50Ref: number;
  /** AP@[.5:.95] of the candidate against the pseudo-GT (pycocotools `stats[0]`); −1 when there is no pseudo-GT. */
  map5095Ref: number;
  /** The full COCO evaluation behind the two numbers (category id = decoder class index). */
  coco: CocoEvalResult;
  agreement: OperatingPointAgreement;
}

/** IoU of two corner boxes (continuous coordinates, no +1); 0 when they do not overlap. */
export function boxIou(a: Box, b: Box): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  if (w <= 0) return 0;
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (h <= 0) return 0;
  const inter = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** Indices of `detections` by descending score, ties in input order. */
function byScore(detections: readonly Detection[]): number[] {
  return detections.map((_, i) => i).sort((a, b) => (detections[a]!.score > detections[b]!.score ? -1 : detections[a]!.score < detections[b]!.score ? 1 : 0));
}

/** A ratio whose zero denominator means "nothing on this side": 1 when the other side is empty too, else 0. */
function ratio(numerator: number, denominator: number, otherSide: number): number {
  if (denominator > 0) return numerator / denominator;
  return otherSide === 0 ? 1 : 0;
}

/**
 * Greedy one-to-one same-class matching: candidates by descending score (ties in list order) each take the
 * unclaimed reference box of their class with the highest IoU ≥ `matchIou` (the first on equal IoU).
 */
export function matchToReference(reference: readonly Detection[], candidate: readonly Detection[], matchIou: number): Array<{ reference: number; candidate: number; iou: number }> {
  const claimed = new Uint8Array(reference.length);
  const pairs: Array<{ reference: number; candidate: number; iou: number }> = [];
  for (const c of byScore(candidate)) {
    const cand = candidate[c]!;
    let best = -1;
    let bestIou = -Infinity;
    for (let r = 0; r < reference.length; r++) {
      if (claimed[r] || reference[r]!.cls !== cand.cls) continue;
      const iou = boxIou(cand.box, reference[r]!.box);
      if (iou >= matchIou && iou > bestIou) {
        best = r;
        bestIou = iou;
      }
    }
    if (best >= 0) {
      claimed[best] = 1;
      pairs.push({ reference: best, candidate: c, iou: bestIou });
    }
  }
  return pairs;
}

function checkDetections(detections: readonly Detection[], where: string): void {
  detections.forEach((d, i) => {
    if (!Number.isFinite(d.score)) throw new EdgetuneError('USAGE', `reference-agreement: ${where} detection ${i} has score ${d.score}`);
    if (!Number.isInteger(d.cls) || d.cls < 0) throw new EdgetuneError('USAGE', `reference-agreement: ${where} detection ${i} has class ${d.cls}`);
    if (d.box.length !== 4 || !d.box.every(Number.isFinite)) throw new EdgetuneError('USAGE', `reference-agreement: ${where} detection ${i} has a box that is not 4 finite numbers`);
  });
}

/**
 * Evaluate a candidate detector against its reference without labels: mAP_ref (pycocotools-exact, pseudo-GT =
 * reference ≥ τ; the candidate with every detection it kept) and the agreement at τ. See the module comment.
 */
export function referenceAgreement(options: ReferenceAgreementOptions): ReferenceAgreementResult {
  const { images, refConf } = options;
  const matchIou = options.matchIou ?? 0.5;
  if (!Number.isFinite(refConf)) throw new EdgetuneError('USAGE', `reference-agreement: refConf is ${refConf}, not a finite number`);
  if (!Number.isFinite(matchIou) || matchIou <= 0 || matchIou > 1) throw new EdgetuneError('USAGE', `reference-agreement: matchIou is ${matchIou}; it must be in (0, 1]`);
  if (images.length === 0) throw new EdgetuneError('USAGE', 'reference-agreement: no images');
  const seen = new Set<number>();
  for (const image of images) {
    if (seen.has(image.imageId)) throw new EdgetuneError('USAGE', `reference-agreement: image id ${image.imageId} appears twice`);
    seen.add(image.imageId);
    checkDetections(image.reference, `image ${image.imageId} reference`);
    checkDetections(image.candidate, `image ${image.imageId} candidate`);
  }

  // 1. mAP_ref
  const groundTruth: CocoGroundTruth[] = [];
  const detections: CocoDetection[] = [];
  const classes = new Set<number>();
  let candidateMinScore: number | null = null;
  for (const image of images) {
    for (const d of image.reference) {
      classes.add(d.cls);
      if (d.score < refConf) continue;
      const bbox = cornersToCocoBbox(d.box);
      groundTruth.push({ id: groundTruth.length + 1, imageId: image.imageId, categoryId: d.cls, bbox, areaPx2: bbox[2] * bbox[3], iscrowd: false });
    }
    for (const d of image.candidate) {
      classes.add(d.cls);
      detections.push({ imageId: image.imageId, categoryId: d.cls, bbox: cornersToCocoBbox(d.box), score: d.score });
      candidateMinScore = candidateMinScore === null ? d.score : Math.min(candidateMinScore, d.score);
    }
  }
  const coco = evaluateCoco({ imageIds: images.map((im) => im.imageId), categoryIds: [...classes], groundTruth, detections });

  // 2. Agreement at τ
  let matchedCount = 0;
  let referenceCount = 0;
  let candidateCount = 0;
  let identicalImages = 0;
  const absCountDeltas: number[] = [];
  const ious: number[] = [];
  const scoreDeltas: number[] = [];
  for (const image of images) {
    const reference = image.reference.filter((d) => d.score >= refConf);
    const candidate = image.candidate.filter((d) => d.score >= refConf);
    const pairs = matchToReference(reference, candidate, matchIou);
    for (const p of pairs) {
      ious.push(p.iou);
      scoreDeltas.push(Math.abs(candidate[p.candidate]!.score - reference[p.reference]!.score));
    }
    matchedCount += pairs.length;
    referenceCount += reference.length;
    candidateCount += candidate.length;
    absCountDeltas.push(Math.abs(candidate.length - reference.length));
    if (candidate.length === reference.length && pairs.length === reference.length) identicalImages++;
  }
  const precision = ratio(matchedCount, candidateCount, referenceCount);
  const recall = ratio(matchedCount, referenceCount, candidateCount);
  const agreement: OperatingPointAgreement = {
    precision,
    recall,
    f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0,
    meanIou: ious.length > 0 ? numpyMean(ious) : null,
    meanAbsScoreDelta: scoreDeltas.length > 0 ? numpyMean(scoreDeltas) : null,
    matchedCount,
    referenceCount,
    candidateCount,
    countDelta: candidateCount - referenceCount,
    meanAbsCountDeltaPerImage: numpyMean(absCountDeltas),
    identicalImageShare: identicalImages / images.length,
  };

  return {
    refConf,
    matchIou,
    imageCount: images.length,
    pseudoGtCount: groundTruth.length,
    candidateDetectionCount: detections.length,
    candidateMinScore,
    map50Ref: coco.stats.map50,
    map5095Ref: coco.stats.map5095,
    coco,
    agreement,
  };
}
