/**
 * A small SVG writer: elements as data, serialised with escaped text and attributes and numbers rounded to what a
 * screen can show. Pure.
 */

/** Attribute values: strings are escaped, numbers rounded to 2 decimals, null/undefined/false omitted. */
export type SvgAttributes = Record<string, string | number | boolean | null | undefined>;

/** An element or a text node. */
export type SvgNode = SvgElement | string;

/** An element: name, attributes, children. */
export interface SvgElement {
  name: string;
  attributes: SvgAttributes;
  children: SvgNode[];
}

/** Make an element. */
export function el(name: string, attributes: SvgAttributes = {}, children: SvgNode[] = []): SvgElement {
  if (!/^[A-Za-z][A-Za-z0-9:-]*$/.test(name)) throw new RangeError(`el: '${name}' is not an element name`);
  return { name, attributes, children };
}

/** Escape text for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

/** A number as an attribute: at most 2 decimals, no trailing zeros, no '-0'. */
export function num(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`svg: non-finite number ${v}`);
  const r = Math.round(v * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

/** Serialise a node (and its children). */
export function renderSvg(node: SvgNode): string {
  if (typeof node === 'string') return escapeXml(node);
  let attrs = '';
  for (const [key, value] of Object.entries(node.attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_:.-]*$/.test(key)) throw new RangeError(`svg: '${key}' is not an attribute name`);
    const text = value === true ? key : typeof value === 'number' ? num(value) : escapeXml(value);
    attrs += ` ${key}="${text}"`;
  }
  if (node.children.length === 0) return `<${node.name}${attrs}/>`;
  return `<${node.name}${attrs}>${node.children.map(renderSvg).join('')}</${node.name}>`;
}

/** A path `d` from points: 'M x y L x y ...'. */
export function polylinePath(points: ReadonlyArray<readonly [number, number]>): string {
  return points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${num(x)} ${num(y)}`).join(' ');
}

/** "Nice" axis ticks covering [min, max]: about `count` steps of 1, 2 or 5 × 10^k. */
export function niceTicks(min: number, max: number, count = 5): { ticks: number[]; min: number; max: number; step: number } {
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new RangeError('niceTicks: bounds must be finite');
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  for (let v = lo; v <= hi + step * 1e-9; v += step) ticks.push(Math.round(v / step) * step);
  return { ticks, min: lo, max: hi, step };
}

/** Tick label: as few decimals as the step needs. */
export function tickLabel(v: number, step: number): string {
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9) + (step / 10 ** Math.floor(Math.log10(step)) === 2.5 ? 1 : 0)));
  const text = v.toFixed(decimals);
  return text === `-${(0).toFixed(decimals)}` ? (0).toFixed(decimals) : text;
}
