#!/usr/bin/env python3
"""Golden numbers for src/detect/coco-eval.ts and src/detect/voc-ap.ts (dev-time only; the tests never run it).

    /work/v/bin/python scripts/make-coco-golden.py      # a venv with pycocotools==2.0.11 and numpy

Writes test/fixtures/detection/coco-golden.json:

- coco cases: seeded random fixtures plus hand-made edge cases, each evaluated by pycocotools 2.0.11
  `COCOeval(gt, dt, 'bbox')` (evaluate / accumulate / summarize, default Params). Stored: the inputs, the 12
  `stats`, per-category AP@[.5:.95] and AP50 (np.mean of precision[:, :, k, 0, 2] > -1, as detectron2 prints them),
  the full `recall` array, and for the cases marked `full` the full `precision` array (run-length encoded per
  (k, a, m, t) row of 101 recall thresholds).
- voc cases: py-faster-rcnn `lib/datasets/voc_eval.py` (voc_eval + voc_ap) re-implemented here in plain numpy on
  in-memory boxes (the original reads annotation XML and detection text files), for the 11-point and all-points
  metrics, with and without the +1 pixel convention. One change: the detection sort is `kind='stable'`, not
  numpy's default quicksort, so that tied scores keep input order as voc-ap.ts does.

Compact encodings (to keep the JSON small):
  coco groundTruth row: [id, imageId, categoryId, x, y, w, h, area, iscrowd]
  coco detection row:   [imageId, categoryId, x, y, w, h, score]
  coco corners cases (evaluateCocoDetections): per image {imageId, gt: [[id, categoryId, x1, y1, x2, y2, area,
      iscrowd]], det: [[cls, x1, y1, x2, y2, score]]}, categoryIdOfClass; the bbox pycocotools sees is
      [x1, y1, x2 - x1, y2 - y1], computed here in float64 exactly as the TypeScript side does.
  voc image: {imageId, gt: [[id, categoryId, x1, y1, x2, y2, difficult]], det: [[cls, x1, y1, x2, y2, score]]}
"""
import contextlib
import importlib.metadata
import io
import json
import math
import os
import sys

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'detection', 'coco-golden.json')


# ------------------------------------------------------------------------------------------------ pycocotools

def run_cocoeval(image_ids, category_ids, gts, dts):
    """gts: [id, img, cat, x, y, w, h, area, iscrowd]; dts: [img, cat, x, y, w, h, score]."""
    dataset = {
        'images': [{'id': i, 'file_name': f'{i}.jpg', 'width': 640, 'height': 640} for i in image_ids],
        'categories': [{'id': c, 'name': f'c{c}'} for c in category_ids],
        'annotations': [
            {'id': g[0], 'image_id': g[1], 'category_id': g[2], 'bbox': [g[3], g[4], g[5], g[6]], 'area': g[7], 'iscrowd': g[8]}
            for g in gts
        ],
    }
    results = [{'image_id': d[0], 'category_id': d[1], 'bbox': [d[2], d[3], d[4], d[5]], 'score': d[6]} for d in dts]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = dataset
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, coco_dt, 'bbox')
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = ev.eval['precision']
    per_category = []
    for k, cat in enumerate(ev.params.catIds):
        p = precision[:, :, k, 0, 2]
        p50 = precision[0, :, k, 0, 2]
        per_category.append({
            'categoryId': int(cat),
            'ap5095': float(np.mean(p[p > -1])) if np.any(p > -1) else -1.0,
            'ap50': float(np.mean(p50[p50 > -1])) if np.any(p50 > -1) else -1.0,
        })
    return ev, [float(s) for s in ev.stats], per_category


def rle_rows(precision):
    """precision [T, R, K, A, M] → {'k,a,m,t': [[value, count], ...]} over the R axis."""
    T, R, K, A, M = precision.shape
    rows = {}
    for k in range(K):
        for a in range(A):
            for m in range(M):
                for t in range(T):
                    runs = []
                    for v in precision[t, :, k, a, m].tolist():
                        if runs and runs[-1][0] == v:
                            runs[-1][1] += 1
                        else:
                            runs.append([v, 1])
                    rows[f'{k},{a},{m},{t}'] = runs
    return rows


def coco_case(name, about, image_ids, category_ids, gts, dts, full=False):
    if not dts:
        raise ValueError(f'{name}: pycocotools loadRes needs at least one detection')
    ids = [g[0] for g in gts]
    assert len(set(ids)) == len(ids) and min(ids, default=1) >= 1, name
    ev, stats, per_category = run_cocoeval(image_ids, category_ids, gts, dts)
    case = {
        'name': name,
        'about': about,
        'imageIds': image_ids,
        'categoryIds': category_ids,
        'groundTruth': gts,
        'detections': dts,
        'expected': {
            'stats': stats,
            'perCategory': per_category,
            'recall': ev.eval['recall'].reshape(-1).tolist(),
        },
    }
    if full:
        case['expected']['precisionRows'] = rle_rows(ev.eval['precision'])
    return case


def corners_case(name, about, images, category_id_of_class, category_ids):
    """images: [{imageId, gt: [[id, cat, x1, y1, x2, y2, area, iscrowd]], det: [[cls, x1, y1, x2, y2, score]]}]."""
    gts, dts = [], []
    for im in images:
        for g in im['gt']:
            gts.append([g[0], im['imageId'], g[1], g[2], g[3], g[4] - g[2], g[5] - g[3], g[6], g[7]])
        for d in im['det']:
            dts.append([im['imageId'], category_id_of_class[d[0]], d[1], d[2], d[3] - d[1], d[4] - d[2], d[5]])
    _, stats, per_category = run_cocoeval([im['imageId'] for im in images], category_ids, gts, dts)
    return {
        'name': name,
        'about': about,
        'images': images,
        'categoryIdOfClass': category_id_of_class,
        'categoryIds': category_ids,
        'expected': {'stats': stats, 'perCategory': per_category},
    }


# ------------------------------------------------------------------------------------------------ voc_eval

def voc_ap(rec, prec, use_07_metric=False):
    """py-faster-rcnn lib/datasets/voc_eval.py voc_ap, verbatim."""
    if use_07_metric:
        ap = 0.
        for t in np.arange(0., 1.1, 0.1):
            if np.sum(rec >= t) == 0:
                p = 0
            else:
                p = np.max(prec[rec >= t])
            ap = ap + p / 11.
    else:
        mrec = np.concatenate(([0.], rec, [1.]))
        mpre = np.concatenate(([0.], prec, [0.]))
        for i in range(mpre.size - 1, 0, -1):
            mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
        i = np.where(mrec[1:] != mrec[:-1])[0]
        ap = np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])
    return ap


def voc_eval(images, category_id_of_class, classname, ovthresh=0.5, use_07_metric=False, plus_one=True):
    """voc_eval on in-memory boxes; `plus_one=False` drops the +1 pixel terms. Stable detection sort."""
    one = 1. if plus_one else 0.
    class_recs = {}
    npos = 0
    for im in images:
        R = [g for g in im['gt'] if g[1] == classname]
        bbox = np.array([g[2:6] for g in R], dtype=float).reshape(-1, 4)
        difficult = np.array([bool(g[6]) for g in R], dtype=bool)
        det = [False] * len(R)
        npos = npos + sum(~difficult)
        class_recs[im['imageId']] = {'bbox': bbox, 'difficult': difficult, 'det': det}
    image_ids, confidence, BB = [], [], []
    for im in images:
        for d in im['det']:
            if category_id_of_class[d[0]] == classname:
                image_ids.append(im['imageId'])
                confidence.append(float(d[5]))
                BB.append([float(z) for z in d[1:5]])
    confidence = np.array(confidence)
    BB = np.array(BB, dtype=float).reshape(-1, 4)
    sorted_ind = np.argsort(-confidence, kind='stable')
    BB = BB[sorted_ind, :]
    image_ids = [image_ids[x] for x in sorted_ind]
    nd = len(image_ids)
    tp = np.zeros(nd)
    fp = np.zeros(nd)
    for d in range(nd):
        R = class_recs[image_ids[d]]
        bb = BB[d, :].astype(float)
        ovmax = -np.inf
        BBGT = R['bbox'].astype(float)
        if BBGT.size > 0:
            ixmin = np.maximum(BBGT[:, 0], bb[0])
            iymin = np.maximum(BBGT[:, 1], bb[1])
            ixmax = np.minimum(BBGT[:, 2], bb[2])
            iymax = np.minimum(BBGT[:, 3], bb[3])
            iw = np.maximum(ixmax - ixmin + one, 0.)
            ih = np.maximum(iymax - iymin + one, 0.)
            inters = iw * ih
            uni = ((bb[2] - bb[0] + one) * (bb[3] - bb[1] + one) +
                   (BBGT[:, 2] - BBGT[:, 0] + one) *
                   (BBGT[:, 3] - BBGT[:, 1] + one) - inters)
            overlaps = inters / uni
            ovmax = np.max(overlaps)
            jmax = np.argmax(overlaps)
        if ovmax > ovthresh:
            if not R['difficult'][jmax]:
                if not R['det'][jmax]:
                    tp[d] = 1.
                    R['det'][jmax] = 1
                else:
                    fp[d] = 1.
        else:
            fp[d] = 1.
    fp = np.cumsum(fp)
    tp = np.cumsum(tp)
    if npos == 0:
        return None
    rec = tp / float(npos)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return float(voc_ap(rec, prec, use_07_metric))


def voc_case(name, about, images, category_id_of_class, category_ids):
    expected = {}
    for metric, use07 in (('all-points', False), ('11-point', True)):
        for plus_one in (False, True):
            aps = [voc_eval(images, category_id_of_class, c, 0.5, use07, plus_one) for c in category_ids]
            valid = [a for a in aps if a is not None]
            expected[f'{metric}{"+1" if plus_one else ""}'] = {
                'perClass': [{'categoryId': c, 'ap': a} for c, a in zip(category_ids, aps)],
                'map': float(np.mean(valid)) if valid else None,
            }
    return {'name': name, 'about': about, 'images': images, 'categoryIdOfClass': category_id_of_class,
            'categoryIds': category_ids, 'expected': expected}


# ------------------------------------------------------------------------------------------------ fixtures

def r(v, decimals):
    return float(round(v, decimals)) if decimals is not None else float(v)


def random_boxes(rng, n_images, gt_cats, fp_cats, decimals, crowd_rate, first_gt_id=1):
    """GT spread over small/medium/large; detections = jittered GT (sometimes twice) plus false positives."""
    gts, dts = [], []
    gid = first_gt_id
    for img in range(1, n_images + 1):
        if rng.random() < 0.1:
            continue  # an empty image
        for _ in range(int(rng.integers(0, 8))):
            cat = int(rng.choice(gt_cats))
            w = math.exp(rng.uniform(math.log(4), math.log(300)))
            h = w * math.exp(rng.uniform(-0.7, 0.7))
            x = rng.uniform(0, max(1.0, 640 - w))
            y = rng.uniform(0, max(1.0, 640 - h))
            x, y, w, h = r(x, decimals), r(y, decimals), r(w, decimals), r(h, decimals)
            crowd = 1 if rng.random() < crowd_rate else 0
            area = w * h if rng.random() < 0.5 else w * h * rng.uniform(0.4, 1.0)
            gts.append([gid, img, cat, x, y, w, h, r(area, decimals), crowd])
            gid += 1
            for _ in range(int(rng.choice([0, 1, 1, 1, 2]))):
                jx, jy = rng.normal(0, 0.08 * w), rng.normal(0, 0.08 * h)
                jw, jh = w * math.exp(rng.normal(0, 0.1)), h * math.exp(rng.normal(0, 0.1))
                dcat = cat if rng.random() < 0.9 else int(rng.choice(fp_cats))
                dts.append([img, dcat, r(x + jx, decimals), r(y + jy, decimals), r(jw, decimals), r(jh, decimals), r(rng.uniform(0.2, 1.0), 2 if decimals else None)])
        for _ in range(int(rng.integers(0, 5))):
            w = math.exp(rng.uniform(math.log(4), math.log(200)))
            h = w * math.exp(rng.uniform(-0.5, 0.5))
            dts.append([img, int(rng.choice(fp_cats)), r(rng.uniform(0, 600), decimals), r(rng.uniform(0, 600), decimals), r(w, decimals), r(h, decimals), r(rng.uniform(0.0, 0.8), 2 if decimals else None)])
    return gts, dts


def coco_cases():
    cases = []

    # Hand-computed: 2 GT, 3 detections (see coco-eval.test.ts for the arithmetic).
    cases.append(coco_case(
        'hand-3box', 'GT A [0,0,10,10], B [20,0,10,10]; det 0.9 = A, det 0.8 half of B (IoU 0.5), det 0.7 nowhere',
        [1], [1],
        [[1, 1, 1, 0.0, 0.0, 10.0, 10.0, 100.0, 0], [2, 1, 1, 20.0, 0.0, 10.0, 10.0, 100.0, 0]],
        [[1, 1, 0.0, 0.0, 10.0, 10.0, 0.9], [1, 1, 20.0, 0.0, 5.0, 10.0, 0.8], [1, 1, 50.0, 50.0, 10.0, 10.0, 0.7]],
        full=True))

    # IoU exactly at each threshold: det width w on a 10×10 GT gives IoU w·10 / 100; 9/10 = 0.9 > 0.8999999999999999.
    gts, dts = [], []
    widths = [5.0, 5.5, 6.0, 6.5, 7.0, 7.5, 8.0, 8.5, 9.0, 9.5, 4.999999, 10.0]
    for i, w in enumerate(widths, start=1):
        gts.append([i, i, 1, 0.0, 0.0, 10.0, 10.0, 100.0, 0])
        dts.append([i, 1, 0.0, 0.0, w, 10.0, 0.5 + i / 100])
    cases.append(coco_case('iou-at-thresholds', 'IoU exactly 0.5, 0.55, …, 0.95 (and just below 0.5, and 1)',
                           list(range(1, len(widths) + 1)), [1], gts, dts, full=True))

    # Area bucket edges: GT area field exactly 1024 / 9216 (both buckets), just inside/outside; detection areas too.
    gts = [
        [1, 1, 1, 0.0, 0.0, 32.0, 32.0, 1024.0, 0],
        [2, 1, 1, 100.0, 0.0, 96.0, 96.0, 9216.0, 0],
        [3, 2, 1, 0.0, 0.0, 40.0, 40.0, 1023.9999, 0],      # bbox is 1600 px², area says small
        [4, 2, 1, 100.0, 100.0, 90.0, 90.0, 9216.0001, 0],  # bbox 8100 px², area says large
        [5, 3, 1, 0.0, 0.0, 20.0, 20.0, 400.0, 0],
        [6, 3, 2, 300.0, 300.0, 120.0, 120.0, 14400.0, 0],
    ]
    dts = [
        [1, 1, 0.0, 0.0, 32.0, 32.0, 0.9], [1, 1, 100.0, 0.0, 96.0, 96.0, 0.8],
        [2, 1, 1.0, 1.0, 40.0, 40.0, 0.7], [2, 1, 101.0, 99.0, 90.0, 90.0, 0.6],
        [3, 1, 500.0, 500.0, 32.0, 32.0, 0.95],  # unmatched FP with area exactly 1024: not ignored as small or medium
        [3, 1, 400.0, 400.0, 96.0, 96.0, 0.3],   # unmatched FP, area 9216
        [3, 1, 0.0, 0.0, 20.0, 20.0, 0.5],
        [3, 2, 300.0, 300.0, 120.0, 120.0, 0.4],
        [3, 2, 10.0, 600.0, 10.0, 10.0, 0.99],   # small FP: ignored for medium/large
    ]
    cases.append(coco_case('area-edges', 'areas exactly 1024 and 9216 (inclusive both sides), GT area verbatim vs bbox',
                           [1, 2, 3], [1, 2], gts, dts, full=True))

    # Crowd: several detections inside one crowd box; crowd + regular overlap; a category with only crowd GT.
    gts = [
        [1, 1, 1, 0.0, 0.0, 200.0, 200.0, 40000.0, 1],
        [2, 1, 1, 10.0, 10.0, 30.0, 30.0, 900.0, 0],
        [3, 2, 1, 50.0, 50.0, 60.0, 60.0, 3600.0, 0],
        [4, 2, 2, 0.0, 0.0, 300.0, 300.0, 90000.0, 1],
    ]
    dts = [
        [1, 1, 10.0, 10.0, 30.0, 30.0, 0.9],    # regular GT
        [1, 1, 12.0, 12.0, 30.0, 30.0, 0.85],   # duplicate: regular taken → crowd (ignored)
        [1, 1, 100.0, 100.0, 50.0, 50.0, 0.8],  # inside crowd: inter/area_dt = 1
        [1, 1, 150.0, 150.0, 100.0, 100.0, 0.75],  # half inside crowd: 0.25
        [1, 1, 120.0, 20.0, 40.0, 40.0, 0.7],
        [2, 1, 50.0, 50.0, 60.0, 60.0, 0.6],
        [2, 2, 10.0, 10.0, 20.0, 20.0, 0.9],    # category 2 has only crowd GT → -1 for it
        [2, 2, 400.0, 400.0, 20.0, 20.0, 0.5],
    ]
    cases.append(coco_case('crowd', 'crowd GT: inter/area_dt, many matches, ignored; a category with only crowd GT',
                           [1, 2], [1, 2], gts, dts, full=True))

    # Ties: equal scores within and across images; order decides which detection is the TP.
    gts = [[1, 1, 1, 0.0, 0.0, 50.0, 50.0, 2500.0, 0], [2, 2, 1, 0.0, 0.0, 50.0, 50.0, 2500.0, 0],
           [3, 3, 1, 100.0, 100.0, 20.0, 20.0, 400.0, 0]]
    dts = [
        [1, 1, 300.0, 300.0, 50.0, 50.0, 0.5], [1, 1, 0.0, 0.0, 50.0, 50.0, 0.5],    # FP first, then TP, same score
        [2, 1, 0.0, 0.0, 50.0, 50.0, 0.5], [2, 1, 200.0, 0.0, 50.0, 50.0, 0.5],
        [3, 1, 100.0, 100.0, 20.0, 20.0, 0.5], [3, 1, 101.0, 100.0, 20.0, 20.0, 0.5],  # TP then duplicate
        [3, 1, 400.0, 400.0, 20.0, 20.0, 0.7],
    ]
    cases.append(coco_case('score-ties', 'tied scores keep input order (stable sorts) within and across images',
                           [1, 2, 3], [1], gts, dts))

    # Equal IoU to two GTs: the later GT wins (>=), which leaves the earlier one for the next detection.
    gts = [[1, 1, 1, 0.0, 0.0, 10.0, 10.0, 100.0, 0], [2, 1, 1, 10.0, 0.0, 10.0, 10.0, 100.0, 0],
           [3, 2, 1, 0.0, 0.0, 10.0, 10.0, 100.0, 0], [4, 2, 1, 10.0, 0.0, 10.0, 10.0, 100.0, 0]]
    dts = [
        [1, 1, 5.0, 0.0, 10.0, 10.0, 0.9],   # IoU 1/3 with both
        [1, 1, 0.0, 0.0, 6.0, 10.0, 0.8],    # only overlaps GT 1 (0.6)
        [2, 1, 3.0, 0.0, 10.0, 10.0, 0.9],   # IoU 7/13 with GT 3, 3/17 with GT 4
        [2, 1, 11.0, 0.0, 10.0, 10.0, 0.8],
    ]
    cases.append(coco_case('equal-iou', 'a detection with equal IoU to two GTs takes the later one',
                           [1, 2], [1], gts, dts))

    # Duplicates, empty images, detections without GT, categories without GT / without detections.
    gts = [
        [1, 1, 1, 10.0, 10.0, 100.0, 80.0, 8000.0, 0],
        [2, 1, 3, 300.0, 300.0, 50.0, 50.0, 2500.0, 0],  # category 3: GT, no detections
        [3, 4, 1, 0.0, 0.0, 20.0, 20.0, 400.0, 0],
    ]
    dts = [
        [1, 1, 10.0, 10.0, 100.0, 80.0, 0.9], [1, 1, 10.0, 10.0, 100.0, 80.0, 0.9], [1, 1, 10.0, 10.0, 100.0, 80.0, 0.8],
        [3, 1, 50.0, 50.0, 30.0, 30.0, 0.95],   # image 3: detections but no GT
        [3, 2, 50.0, 50.0, 30.0, 30.0, 0.6],    # category 2: detections, never GT
        [1, 2, 0.0, 0.0, 30.0, 30.0, 0.7],
        [4, 1, 0.0, 0.0, 20.0, 20.0, 0.3],
    ]
    cases.append(coco_case('empty-and-missing',
                           'duplicates; image 2 empty; image 3 detections only; category 2 no GT; category 3 no detections',
                           [1, 2, 3, 4], [1, 2, 3], gts, dts))

    # More than 100 detections: 150 of one category on image 1 (capped at 100, per image and category),
    # 70 + 70 of two categories on image 2 (not capped: the cap is per category).
    rng = np.random.default_rng(7)
    gts, dts = [], []
    gid = 1
    for img, cats, n in ((1, [1], 150), (2, [1, 2], 70)):
        for cat in cats:
            for j in range(n):
                x, y = float((j % 15) * 40), float((j // 15) * 40 + (cat - 1) * 420)
                if j % 3 == 0:
                    gts.append([gid, img, cat, x, y, 30.0, 30.0, 900.0, 0])
                    gid += 1
                dts.append([img, cat, x + float(rng.integers(0, 4)), y, 30.0, 30.0, float(round(rng.uniform(0.01, 1.0), 3))])
    cases.append(coco_case('over-100-detections', '150 detections of one category on one image; 70 + 70 of two on another',
                           [1, 2], [1, 2], gts, dts))

    # A category with exactly one GT, detected perfectly: AP = 1 − 2⁻⁵² in pycocotools (tp / (tp + fp + eps)).
    cases.append(coco_case('single-gt', 'one GT, one perfect detection: precision 1/(1+2^-52)',
                           [1], [1], [[1, 1, 1, 5.0, 5.0, 40.0, 40.0, 1600.0, 0]], [[1, 1, 5.0, 5.0, 40.0, 40.0, 0.9]]))

    # Touching edges (intersection width 0 → IoU 0), zero-size and negative-size detection boxes.
    gts = [[1, 1, 1, 0.0, 0.0, 10.0, 10.0, 100.0, 0], [2, 1, 1, 30.0, 0.0, 10.0, 10.0, 100.0, 0]]
    dts = [[1, 1, 10.0, 0.0, 10.0, 10.0, 0.9], [1, 1, 0.0, 10.0, 10.0, 10.0, 0.8], [1, 1, 30.0, 0.0, 0.0, 10.0, 0.7],
           [1, 1, 35.0, 5.0, -2.0, 3.0, 0.6], [1, 1, 30.0, 0.0, 10.0, 10.0, 0.5]]
    cases.append(coco_case('touching', 'boxes touching at an edge have IoU 0; zero and negative sizes', [1], [1], gts, dts))

    # Seeded random: COCO-like 2-decimal coordinates and scores (many ties), crowd GT, mask-like areas.
    rng = np.random.default_rng(20250114)
    gts, dts = random_boxes(rng, 40, gt_cats=[1, 2, 3, 5, 7], fp_cats=[1, 2, 3, 5, 7, 9], decimals=2, crowd_rate=0.05)
    cases.append(coco_case('random-coco-like', 'seed 20250114: 40 images, categories 1 2 3 5 7 9 (9 has no GT), 2 decimals',
                           list(range(1, 41)), [1, 2, 3, 5, 7, 9], gts, dts))

    # Seeded random with full-precision doubles (no rounding anywhere), full precision array stored.
    rng = np.random.default_rng(42)
    gts, dts = random_boxes(rng, 12, gt_cats=[1, 2, 3], fp_cats=[1, 2, 3], decimals=None, crowd_rate=0.08)
    cases.append(coco_case('random-full-precision', 'seed 42: 12 images, 3 categories, unrounded float64 boxes and scores',
                           list(range(1, 13)), [1, 2, 3], gts, dts, full=True))
    return cases


def corner_cases():
    rng = np.random.default_rng(99)
    images = []
    gid = 1
    for img in range(1, 9):
        gt, det = [], []
        for _ in range(int(rng.integers(0, 6))):
            cls = int(rng.integers(0, 3))
            x1, y1 = rng.uniform(0, 500), rng.uniform(0, 500)
            x2, y2 = x1 + rng.uniform(3, 140), y1 + rng.uniform(3, 140)
            gt.append([gid, [1, 3, 8][cls], x1, y1, x2, y2, (x2 - x1) * (y2 - y1), 0])
            gid += 1
            if rng.random() < 0.8:
                d = rng.normal(0, 4, 4)
                det.append([cls, x1 + d[0], y1 + d[1], x2 + d[2], y2 + d[3], float(rng.uniform(0.3, 1))])
        for _ in range(int(rng.integers(0, 3))):
            x1, y1 = rng.uniform(0, 500), rng.uniform(0, 500)
            det.append([int(rng.integers(0, 3)), x1, y1, x1 + rng.uniform(3, 100), y1 + rng.uniform(3, 100), float(rng.uniform(0, 0.6))])
        images.append({'imageId': img * 10, 'gt': [[g[0], g[1]] + [float(v) for v in g[2:7]] + [g[7]] for g in gt],
                       'det': [[d[0]] + [float(v) for v in d[1:]] for d in det]})
    return [corners_case('corners', 'seed 99: corner boxes through evaluateCocoDetections (bbox = [x1, y1, x2-x1, y2-y1])',
                         images, [1, 3, 8], [1, 3, 8])]


def voc_cases():
    cases = []
    # Hand-made: difficult GT, duplicate detection, a class without GT, a class without detections.
    images = [
        {'imageId': 1, 'gt': [[1, 1, 0.0, 0.0, 10.0, 10.0, 0], [2, 1, 20.0, 20.0, 40.0, 40.0, 1], [3, 2, 50.0, 50.0, 60.0, 70.0, 0]],
         'det': [[0, 0.0, 0.0, 10.0, 10.0, 0.9], [0, 1.0, 0.0, 10.0, 10.0, 0.8], [0, 20.0, 20.0, 40.0, 40.0, 0.7],
                 [0, 100.0, 100.0, 120.0, 120.0, 0.6], [2, 0.0, 0.0, 5.0, 5.0, 0.5]]},
        {'imageId': 2, 'gt': [[4, 1, 5.0, 5.0, 15.0, 16.0, 0], [5, 1, 30.0, 30.0, 31.0, 31.0, 0]],
         'det': [[0, 5.0, 5.0, 15.0, 15.0, 0.85], [0, 30.0, 30.0, 31.0, 31.0, 0.4]]},
        # IoU 8/16 = 0.5 (not > 0.5: FP) without the +1 convention, 15/25 = 0.6 (TP) with it.
        {'imageId': 3, 'gt': [[6, 1, 0.0, 0.0, 4.0, 4.0, 0]], 'det': [[0, 0.0, 0.0, 4.0, 2.0, 0.65]]},
    ]
    cases.append(voc_case('voc-hand', 'difficult GT ignored; duplicate is FP; class 3 has no GT; class 2 no detections; 1-px box; +1 decides a match',
                          images, [1, 2, 3], [1, 2, 3]))
    # Seeded random integer-pixel boxes (VOC-like), with difficult flags.
    rng = np.random.default_rng(2007)
    images = []
    gid = 1
    for img in range(1, 31):
        gt, det = [], []
        for _ in range(int(rng.integers(0, 5))):
            cls = int(rng.integers(0, 4))
            x1, y1 = int(rng.integers(0, 400)), int(rng.integers(0, 300))
            x2, y2 = x1 + int(rng.integers(5, 200)), y1 + int(rng.integers(5, 200))
            gt.append([gid, cls + 1, float(x1), float(y1), float(x2), float(y2), 1 if rng.random() < 0.1 else 0])
            gid += 1
            for _ in range(int(rng.choice([0, 1, 1, 2]))):
                d = rng.integers(-6, 7, 4)
                det.append([cls, float(x1 + d[0]), float(y1 + d[1]), float(x2 + d[2]), float(y2 + d[3]), float(round(rng.uniform(0.05, 1), 3))])
        for _ in range(int(rng.integers(0, 3))):
            x1, y1 = int(rng.integers(0, 400)), int(rng.integers(0, 300))
            det.append([int(rng.integers(0, 4)), float(x1), float(y1), float(x1 + rng.integers(5, 100)), float(y1 + rng.integers(5, 100)), float(round(rng.uniform(0.05, 0.7), 3))])
        images.append({'imageId': img, 'gt': gt, 'det': det})
    cases.append(voc_case('voc-random', 'seed 2007: 30 images, 4 classes, integer pixels, 10% difficult', images, [1, 2, 3, 4], [1, 2, 3, 4]))
    return cases


def main():
    golden = {
        'about': 'Made by scripts/make-coco-golden.py (see its docstring); do not edit by hand.',
        'pycocotools': importlib.metadata.version('pycocotools'),
        'numpy': np.__version__,
        'python': sys.version.split()[0],
        'iouThrs': np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True).tolist(),
        'recThrs': np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True).tolist(),
        'coco': coco_cases(),
        'cocoCorners': corner_cases(),
        'voc': voc_cases(),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    text = json.dumps(golden, separators=(',', ':'))
    with open(OUT, 'w') as f:
        f.write(text + '\n')
    print(f'wrote {OUT}: {len(text)} bytes, {len(golden["coco"])} coco + {len(golden["cocoCorners"])} corners + {len(golden["voc"])} voc cases')
    for c in golden['coco'] + golden['cocoCorners']:
        print(f'  {c["name"]:<24} ' + ' '.join(f'{s:.4f}' for s in c['expected']['stats']))


if __name__ == '__main__':
    main()
