import { describe, expect, it } from 'vitest';
import { createDecoder, DECODER_NAMES, decoderInputPreset } from '../../../src/detect/decoders/index.js';
import { DB_TEXT_INPUT_PRESET } from '../../../src/detect/decoders/db-text.js';
import { YOLO_INPUT_PRESET } from '../../../src/detect/decoders/yolo.js';

describe('decoder registry', () => {
  it('creates each decoder by its CLI name', () => {
    expect(DECODER_NAMES).toEqual(['ssd-anchors', 'yolo', 'db-text']);
    expect(createDecoder('yolo', {}).name).toBe('yolo');
    expect(createDecoder('ssd-anchors', { preset: 'blazeface-front-128' }).name).toBe('ssd-anchors');
    expect(createDecoder('db-text', {}).name).toBe('db-text');
  });

  it('names the known decoders for an unknown one (USAGE)', () => {
    expect(() => createDecoder('x', {})).toThrow(expect.objectContaining({ code: 'USAGE', message: "unknown decoder 'x'; known: ssd-anchors, yolo, db-text" }));
  });

  it("passes a decoder's config problems through as USAGE", () => {
    expect(() => createDecoder('yolo', { conf: 0.25 })).toThrow(expect.objectContaining({ code: 'USAGE', message: 'yolo config: conf: unknown key' }));
  });

  it('gives the input preset of yolo and of ssd-anchors presets (a copy), null for a custom ssd-anchors config', () => {
    const yolo = decoderInputPreset('yolo', {});
    expect(yolo).toEqual({ layout: 'nchw', channels: 'rgb', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], resize: 'letterbox', padValue: 114 });
    yolo!.mean[0] = 9;
    expect(YOLO_INPUT_PRESET.mean[0]).toBe(0);
    expect(decoderInputPreset('ssd-anchors', { preset: 'blazeface-back-256' })).toEqual({
      layout: 'nhwc', channels: 'rgb', scale: 1 / 127.5, mean: [1, 1, 1], std: [1, 1, 1], resize: 'letterbox', padValue: 0,
    });
    expect(decoderInputPreset('ssd-anchors', { numLayers: 4 })).toBeNull();
    expect(decoderInputPreset('db-text', {})).toEqual(DB_TEXT_INPUT_PRESET);
    expect(() => decoderInputPreset('x', {})).toThrow(/unknown decoder 'x'/);
  });
});
