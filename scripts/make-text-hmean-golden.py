#!/usr/bin/env python3
"""Golden numbers for src/detect/text-hmean.ts, issue 14.

Run once, by hand, from the repository root, with a Python that has numpy and shapely (the local wheel mirror
has shapely 2.1):

    /work/v/bin/pip install shapely
    /work/v/bin/python scripts/make-text-hmean-golden.py

Writes test/fixtures/detection/text-hmean-golden.json: seeded random images of text quads (rotated rectangles,
non-convex quads, bow-ties that shapely calls invalid, don't-care ground truth, detections that jitter, split,
merge, duplicate or miss the ground truth) and what PaddleOCR's evaluator says about them.

The evaluator is PaddlePaddle/PaddleOCR ppocr/metrics/eval_det_iou.py DetectionIoUEvaluator (iou_constraint 0.5,
area_precision_constraint 0.5), evaluate_image + combine_results, restated here with the same shapely calls (that
file imports nothing else, but PaddleOCR itself is not installable here): skip polygons that are not valid or not
simple; a detection is don't-care if its intersection with a don't-care ground truth, tried in order, is more than
0.5 of its area; IoU = intersection area / union area; order-greedy matching with IoU > 0.5.
"""

import json
import math
import os

import numpy as np
from shapely.geometry import Polygon

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test/fixtures/detection/text-hmean-golden.json')
IOU_CONSTRAINT, AREA_PRECISION_CONSTRAINT = 0.5, 0.5


def evaluate_image(gt, pred):
    def usable(points):
        p = Polygon(points)
        return p.is_valid and p.is_simple

    gt_pols, gt_dont_care = [], []
    for g in gt:
        if not usable(g['points']):
            continue
        gt_pols.append(g['points'])
        if g['ignore']:
            gt_dont_care.append(len(gt_pols) - 1)
    det_pols, det_dont_care = [], []
    for d in pred:
        if not usable(d['points']):
            continue
        det_pols.append(d['points'])
        for k in gt_dont_care:
            inter = Polygon(gt_pols[k]).intersection(Polygon(d['points'])).area
            area = Polygon(d['points']).area
            if (0 if area == 0 else inter / area) > AREA_PRECISION_CONSTRAINT:
                det_dont_care.append(len(det_pols) - 1)
                break
    matched = 0
    if gt_pols and det_pols:
        gt_taken = [False] * len(gt_pols)
        det_taken = [False] * len(det_pols)
        for g in range(len(gt_pols)):
            for d in range(len(det_pols)):
                if gt_taken[g] or det_taken[d] or g in gt_dont_care or d in det_dont_care:
                    continue
                pg, pd = Polygon(gt_pols[g]), Polygon(det_pols[d])
                iou = pd.intersection(pg).area / pd.union(pg).area
                if iou > IOU_CONSTRAINT:
                    gt_taken[g] = det_taken[d] = True
                    matched += 1
    return {'gtCare': len(gt_pols) - len(gt_dont_care), 'detCare': len(det_pols) - len(det_dont_care), 'detMatched': matched}


def combine(results):
    gt_care = sum(r['gtCare'] for r in results)
    det_care = sum(r['detCare'] for r in results)
    matched = sum(r['detMatched'] for r in results)
    recall = 0 if gt_care == 0 else matched / gt_care
    precision = 0 if det_care == 0 else matched / det_care
    hmean = 0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)
    return {'precision': precision, 'recall': recall, 'hmean': hmean}


def rotated_rect(rng, cx, cy, w, h, angle):
    c, s = math.cos(angle), math.sin(angle)
    pts = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    return [[round(cx + x * c - y * s, 2), round(cy + x * s + y * c, 2)] for x, y in pts]


def jitter(rng, quad, amount):
    return [[round(x + rng.normal(0, amount), 2), round(y + rng.normal(0, amount), 2)] for x, y in quad]


def make_image(rng, i):
    gt = []
    for _ in range(int(rng.integers(0, 8))):
        cx, cy = rng.uniform(30, 470), rng.uniform(20, 300)
        w, h = rng.uniform(20, 160), rng.uniform(8, 30)
        quad = rotated_rect(rng, cx, cy, w, h, rng.normal(0, 0.15))
        kind = rng.random()
        if kind < 0.15:
            # non-convex (a dart): move one vertex past the other diagonal, towards the opposite vertex
            mid = [(quad[1][0] + quad[3][0]) / 2, (quad[1][1] + quad[3][1]) / 2]
            quad[0] = [round(mid[0] + (quad[2][0] - mid[0]) * 0.3, 2), round(mid[1] + (quad[2][1] - mid[1]) * 0.3, 2)]
        elif kind < 0.2:
            quad[1], quad[2] = quad[2], quad[1]  # bow-tie: invalid, skipped
        gt.append({'points': quad, 'ignore': bool(rng.random() < 0.15)})
    pred = []
    for g in gt:
        r = rng.random()
        if r < 0.15:
            continue  # missed
        if r < 0.25:
            # split in two halves along the first edge
            q = g['points']
            m01 = [(q[0][0] + q[1][0]) / 2, (q[0][1] + q[1][1]) / 2]
            m32 = [(q[3][0] + q[2][0]) / 2, (q[3][1] + q[2][1]) / 2]
            pred.append({'points': jitter(rng, [q[0], m01, m32, q[3]], 1.0)})
            pred.append({'points': jitter(rng, [m01, q[1], q[2], m32], 1.0)})
            continue
        pred.append({'points': jitter(rng, g['points'], rng.choice([0.5, 2.0, 6.0]))})
        if r > 0.9:
            pred.append({'points': jitter(rng, g['points'], 1.0)})  # duplicate
    for _ in range(int(rng.integers(0, 3))):
        cx, cy = rng.uniform(30, 470), rng.uniform(20, 300)
        pred.append({'points': rotated_rect(rng, cx, cy, rng.uniform(10, 80), rng.uniform(6, 20), rng.normal(0, 0.2))})
    rng.shuffle(pred)
    return {'gt': gt, 'pred': pred}


def main():
    rng = np.random.default_rng(1415)
    images = [make_image(rng, i) for i in range(40)]
    # PaddleOCR's own example (eval_det_iou.py __main__) and an image with only don't-care ground truth
    images.append({'gt': [{'points': [[0, 0], [1, 0], [1, 1], [0, 1]], 'ignore': False},
                          {'points': [[2, 2], [3, 2], [3, 3], [2, 3]], 'ignore': False}],
                   'pred': [{'points': [[0.1, 0.1], [1, 0], [1, 1], [0, 1]]}]})
    images.append({'gt': [{'points': [[10, 10], [60, 10], [60, 30], [10, 30]], 'ignore': True}],
                   'pred': [{'points': [[12, 11], [58, 11], [58, 29], [12, 29]]}, {'points': [[100, 10], [150, 10], [150, 30], [100, 30]]}]})
    results = [evaluate_image(im['gt'], im['pred']) for im in images]
    for im, r in zip(images, results):
        im['expected'] = r
    with open(OUT, 'w') as f:
        json.dump({'generator': 'scripts/make-text-hmean-golden.py', 'images': images, 'combined': combine(results),
                   'combinedFirstPaddleExample': combine(results[40:41])}, f, indent=None, separators=(',', ':'))
        f.write('\n')
    print(combine(results))


if __name__ == '__main__':
    main()
