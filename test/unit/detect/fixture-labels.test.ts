import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openImageFolder } from '../../../src/detect/image-folder.js';

interface CocoImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
}
interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  area: number;
  iscrowd: 0 | 1;
  segmentation?: number[][];
}
interface Coco {
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: { id: number; name: string }[];
}

/** `everyImage`: the folder holds only labelled images (photos/ also serves other tests). */
const FIXTURES: { dir: string; labels: string; category: string; labelled: number; crowd: number; everyImage: boolean }[] = [
  { dir: 'test/fixtures/faces', labels: 'labels.json', category: 'face', labelled: 25, crowd: 1, everyImage: true },
  { dir: 'test/fixtures/photos', labels: 'text-labels.json', category: 'text', labelled: 36, crowd: 22, everyImage: false },
];

describe.each(FIXTURES)('$dir/$labels', ({ dir, labels, category, labelled, crowd, everyImage }) => {
  const coco = JSON.parse(readFileSync(join(dir, labels), 'utf8')) as Coco;
  const folder = openImageFolder(dir);

  it('has one category with id 1 and unique ids ≥ 1 for images and annotations', () => {
    expect(coco.categories).toEqual([expect.objectContaining({ id: 1, name: category })]);
    for (const list of [coco.images, coco.annotations]) {
      const ids = list.map((x) => x.id);
      expect(ids.every((id) => Number.isInteger(id) && id >= 1)).toBe(true);
      expect(new Set(ids).size).toBe(ids.length);
    }
    expect(coco.annotations.filter((a) => a.iscrowd === 0)).toHaveLength(labelled);
    expect(coco.annotations.filter((a) => a.iscrowd === 1)).toHaveLength(crowd);
  });

  it('names images that exist in the folder, with their true size', () => {
    for (const image of coco.images) {
      expect(existsSync(join(dir, image.file_name)), image.file_name).toBe(true);
      const index = folder.fileNames.indexOf(image.file_name);
      expect(index, `${image.file_name} is listed by openImageFolder`).toBeGreaterThanOrEqual(0);
      const decoded = folder.load(index).image;
      expect([decoded.width, decoded.height], image.file_name).toEqual([image.width, image.height]);
    }
  });

  it('labels every image of the folder when the folder is only for these labels', () => {
    if (!everyImage) return;
    expect(coco.images.map((i) => i.file_name).sort()).toEqual([...folder.fileNames].sort());
  });

  it('has boxes inside their image, area = w·h, a known image and category', () => {
    const byId = new Map(coco.images.map((i) => [i.id, i]));
    for (const a of coco.annotations) {
      const image = byId.get(a.image_id);
      expect(image, `annotation ${a.id}`).toBeDefined();
      expect(a.category_id).toBe(1);
      expect([0, 1]).toContain(a.iscrowd);
      const [x, y, w, h] = a.bbox;
      expect(w > 0 && h > 0, `annotation ${a.id} has a positive size`).toBe(true);
      expect(x >= 0 && y >= 0 && x + w <= image!.width + 1e-9 && y + h <= image!.height + 1e-9, `annotation ${a.id} is inside ${image!.file_name}`).toBe(true);
      expect(Math.abs(a.area - w * h)).toBeLessThanOrEqual(0.01);
    }
  });

  it('gives every text line a quad whose bounding box is its bbox', () => {
    if (category !== 'text') return;
    for (const a of coco.annotations) {
      expect(a.segmentation, `annotation ${a.id}`).toHaveLength(1);
      const quad = a.segmentation![0]!;
      expect(quad).toHaveLength(8);
      const xs = quad.filter((_, i) => i % 2 === 0);
      const ys = quad.filter((_, i) => i % 2 === 1);
      const [x, y, w, h] = a.bbox;
      expect(Math.abs(Math.min(...xs) - x)).toBeLessThanOrEqual(0.1);
      expect(Math.abs(Math.min(...ys) - y)).toBeLessThanOrEqual(0.1);
      expect(Math.abs(Math.max(...xs) - (x + w))).toBeLessThanOrEqual(0.1);
      expect(Math.abs(Math.max(...ys) - (y + h))).toBeLessThanOrEqual(0.1);
    }
  });
});
