/**
 * The db-text decoder on hand-built probability maps: against PaddleOCR's DBPostProcess run on the same maps
 * (scripts/make-dbtext-golden.py, 'synthetic'), on hand-worked numbers, and its config and output checks.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createDbTextDecoder, DB_TEXT_INPUT_PRESET, miniBox, unclipRect } from '../../../src/detect/decoders/db-text.js';
import { identityFrame, toSourcePixels, type Point, type RawOutput } from '../../../src/detect/detection-types.js';
import { fillPolyMask } from '../../../src/detect/fill-poly.js';
import { findContours } from '../../../src/detect/find-contours.js';
import { minAreaRect } from '../../../src/detect/min-area-rect.js';
import { EdgetuneError } from '../../../src/util/errors.js';

interface SyntheticCase {
  name: string;
  width: number;
  height: number;
  options: { useDilation?: boolean; scoreMode?: 'fast' | 'slow'; maxCandidates?: number; blur?: boolean };
  shapes: Array<{ polygon: Point[]; value: number }>;
  contours: number;
  boxes: Array<{ points: Point[]; score: number }>;
}

const golden = JSON.parse(readFileSync('test/fixtures/detection/dbtext-golden.json', 'utf8')) as { synthetic: SyntheticCase[] };

/** The script's map: background 0.02, polygons filled in order, optionally two [1 2 1]/4 blurs (float32, edge padding). */
function buildMap(c: SyntheticCase): Float32Array {
  const { width: w, height: h } = c;
  let map = new Float32Array(w * h).fill(0.02);
  for (const { polygon, value } of c.shapes) {
    const mask = fillPolyMask(polygon, w, h);
    for (let i = 0; i < mask.length; i++) if (mask[i]) map[i] = value;
  }
  if (c.options.blur) {
    const f = Math.fround;
    for (let pass = 0; pass < 2; pass++) {
      const horizontal = new Float32Array(w * h);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const at = (xx: number): number => map[y * w + Math.min(Math.max(xx, 0), w - 1)]!;
          horizontal[y * w + x] = f(f(f(at(x - 1) + f(2 * at(x))) + at(x + 1)) / 4);
        }
      }
      const vertical = new Float32Array(w * h);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const at = (yy: number): number => horizontal[Math.min(Math.max(yy, 0), h - 1) * w + x]!;
          vertical[y * w + x] = f(f(f(at(y - 1) + f(2 * at(y))) + at(y + 1)) / 4);
        }
      }
      map = vertical;
    }
  }
  return map;
}

function output(map: Float32Array, width: number, height: number): RawOutput {
  return { name: 'sigmoid_0.tmp_0', dims: [1, 1, height, width], values: map };
}

describe('db-text equals PaddleOCR DBPostProcess on hand-built maps', () => {
  it.each(golden.synthetic)('$name', (c) => {
    const map = buildMap(c);
    const bitmap = Uint8Array.from(map, (v) => (v > Math.fround(0.3) ? 1 : 0));
    if (!c.options.useDilation) expect(findContours(bitmap, c.width, c.height)).toHaveLength(c.contours);
    const { blur: _blur, ...config } = c.options;
    const decoder = createDbTextDecoder(config);
    const frame = identityFrame(c.width, c.height);
    const detections = decoder.decode([output(map, c.width, c.height)], frame).map((d) => toSourcePixels(d, frame));
    expect(detections).toHaveLength(c.boxes.length);
    // Same order as PaddleOCR (OpenCV's contour order), the same score, corners within 2 px: pyclipper offsets on
    // an integer grid (corners truncated first), the exact offset here does not (see unclipRect).
    detections.forEach((d, i) => {
      const expected = c.boxes[i]!;
      expect(d.score).toBeCloseTo(expected.score, 6);
      d.polygon!.forEach(([x, y], k) => {
        expect(Math.abs(x - expected.points[k]![0])).toBeLessThanOrEqual(2 + 1e-9);
        expect(Math.abs(y - expected.points[k]![1])).toBeLessThanOrEqual(2 + 1e-9);
      });
      expect(d.box).toEqual([
        Math.min(...d.polygon!.map((p) => p[0])),
        Math.min(...d.polygon!.map((p) => p[1])),
        Math.max(...d.polygon!.map((p) => p[0])),
        Math.max(...d.polygon!.map((p) => p[1])),
      ]);
      expect(d.cls).toBe(0);
    });
  });
});

describe('db-text by hand', () => {
  it('a 20×6 block of 0.9 becomes its rectangle grown by d = 19·5·1.5 / (2·24) px, rounded', () => {
    const w = 64;
    const h = 32;
    const map = new Float32Array(w * h).fill(0.01);
    for (let y = 8; y <= 13; y++) for (let x = 10; x <= 29; x++) map[y * w + x] = 0.9;
    const [d] = createDbTextDecoder({}).decode([output(map, w, h)], identityFrame(w, h));
    // The contour runs through pixel centres: a 19×5 rectangle; d = 2.96875 → [7.03, 31.97] × [5.03, 15.97].
    expect(d!.polygon).toEqual([
      [7, 5],
      [32, 5],
      [32, 16],
      [7, 16],
    ]);
    expect(d!.box).toEqual([7, 5, 32, 16]);
    expect(d!.score).toBeCloseTo(0.9, 6);
  });

  it('corners are snapped to the source grid through the frame and come back in model-input pixels', () => {
    const w = 64;
    const h = 32;
    const map = new Float32Array(w * h).fill(0.01);
    for (let y = 8; y <= 13; y++) for (let x = 10; x <= 29; x++) map[y * w + x] = 0.9;
    // The source was 128×40, stretched to 64×32.
    const frame = { inputWidth: w, inputHeight: h, sourceWidth: 128, sourceHeight: 40, scaleX: 0.5, scaleY: 0.8, padX: 0, padY: 0 };
    const [d] = createDbTextDecoder({}).decode([output(map, w, h)], frame);
    const source = toSourcePixels(d!, frame).polygon!;
    // x: 7.03·2 = 14.06 → 14, 31.97·2 = 63.94 → 64; y: 5.03/0.8 = 6.29 → 6, 15.97/0.8 = 19.96 → 20.
    const expected = [
      [14, 6],
      [64, 6],
      [64, 20],
      [14, 20],
    ];
    source.forEach(([x, y], k) => {
      expect(x).toBeCloseTo(expected[k]![0]!, 9);
      expect(y).toBeCloseTo(expected[k]![1]!, 9);
    });
  });

  it('an empty or sub-threshold map gives no detections', () => {
    const map = new Float32Array(32 * 32).fill(0.3); // not > 0.3
    expect(createDbTextDecoder({}).decode([output(map, 32, 32)], identityFrame(32, 32))).toEqual([]);
  });

  it('unclipRect grows each side by d = area·ratio/perimeter and keeps centre and direction', () => {
    const rect = { center: [5, 7] as Point, width: 10, height: 4, direction: [0.6, 0.8] as Point };
    const grown = unclipRect(rect, 1.5);
    const d = (40 * 1.5) / 28;
    expect(grown.width).toBeCloseTo(10 + 2 * d, 12);
    expect(grown.height).toBeCloseTo(4 + 2 * d, 12);
    expect(grown.center).toEqual([5, 7]);
    expect(grown.direction).toEqual([0.6, 0.8]);
  });

  it('miniBox orders corners as get_mini_boxes: top-left, top-right, bottom-right, bottom-left', () => {
    const tilted = minAreaRect([
      [0, 10],
      [40, 0],
      [42, 8],
      [2, 18],
    ]);
    const [tl, tr, br, bl] = miniBox(tilted);
    expect(tl![0]).toBeLessThan(tr![0]);
    expect(bl![0]).toBeLessThan(br![0]);
    expect(tl![1]).toBeLessThan(bl![1]);
    expect(tr![1]).toBeLessThan(br![1]);
  });
});

describe('db-text config', () => {
  it('defaults are PaddleOCR inference defaults, and the input preset follows the resize keys', () => {
    const decoder = createDbTextDecoder(undefined);
    expect(decoder.name).toBe('db-text');
    expect(decoder.config).toEqual({
      thresh: 0.3,
      boxThresh: 0.6,
      maxCandidates: 1000,
      unclipRatio: 1.5,
      useDilation: false,
      scoreMode: 'fast',
      limitSideLen: 960,
      limitType: 'max',
    });
    expect(decoder.input).toEqual(DB_TEXT_INPUT_PRESET);
    const min = createDbTextDecoder({ limitSideLen: 736, limitType: 'min' });
    expect(min.input).toMatchObject({ resize: 'limit-side', limitSideLen: 736, limitType: 'min', channels: 'bgr', layout: 'nchw' });
    expect(DB_TEXT_INPUT_PRESET).toMatchObject({ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], scale: 1 / 255, multipleOf: 32 });
  });

  it('every problem is reported at once as one USAGE error naming the keys', () => {
    let error: unknown;
    try {
      createDbTextDecoder({ thresh: 1.5, scoreMode: 'median', box_thresh: 0.5, maxCandidates: 2.5 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EdgetuneError);
    expect((error as EdgetuneError).code).toBe('USAGE');
    const message = (error as EdgetuneError).message;
    expect(message).toMatch(/^db-text config: /);
    for (const key of ['thresh', 'scoreMode', 'box_thresh: unknown key', 'maxCandidates']) expect(message).toContain(key);
  });

  it('a config that is not an object is a USAGE error', () => {
    expect(() => createDbTextDecoder([1, 2])).toThrow(/db-text config: \(top level\)/);
  });
});

describe('db-text output checks', () => {
  const decoder = createDbTextDecoder({});
  it('accepts one [N,1,H,W] map with dynamic axes', () => {
    expect(() => decoder.checkOutputs([{ name: 'sigmoid_0.tmp_0', dims: [null, 1, null, null] }])).not.toThrow();
    expect(() => decoder.checkOutputs([{ name: 'maps', dims: [1, null, 640, 640] }])).not.toThrow();
  });
  it('rejects two outputs, naming both and what it expected', () => {
    expect(() =>
      decoder.checkOutputs([
        { name: 'maps', dims: [1, 1, 64, 64] },
        { name: 'thresh', dims: [1, 1, 64, 64] },
      ]),
    ).toThrow("db-text: expected one probability map [N,1,H,W] (rank 4, 1 channel, batch 1); the model has 2 outputs: 'maps' [1,1,64,64], 'thresh' [1,1,64,64]");
  });
  it('rejects no outputs, a rank-3 output, 2 channels and a batch of 4', () => {
    expect(() => decoder.checkOutputs([])).toThrow(/the model has 0 outputs: none/);
    expect(() => decoder.checkOutputs([{ name: 'p', dims: [1, 64, 64] }])).toThrow("output 'p' is [1,64,64]");
    expect(() => decoder.checkOutputs([{ name: 'p', dims: [1, 2, 64, 64] }])).toThrow("output 'p' is [1,2,64,64]");
    expect(() => decoder.checkOutputs([{ name: 'p', dims: [4, 1, 64, 64] }])).toThrow("output 'p' is [4,1,64,64]");
  });
  it('decode rejects values that do not fill the dims', () => {
    expect(() => decoder.decode([{ name: 'p', dims: [1, 1, 4, 4], values: new Float32Array(15) }], identityFrame(4, 4))).toThrow(
      "db-text: output 'p' must be [1,1,H,W] with H·W values; it is [1,1,4,4] with 15 values",
    );
  });
  it('errors are USAGE', () => {
    try {
      decoder.checkOutputs([]);
    } catch (e) {
      expect((e as EdgetuneError).code).toBe('USAGE');
    }
  });
});
