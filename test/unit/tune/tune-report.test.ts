import { describe, expect, it } from 'vitest';
import { el, escapeXml, niceTicks, num, renderSvg, tickLabel } from '../../../src/tune/svg-writer.js';
import { CHART_SIZE, paretoChartSvg } from '../../../src/tune/pareto-chart.js';
import { renderTuneReport, reportFormatOf } from '../../../src/tune/tune-report.js';
import { candidateJson, sampleTuneResult } from './tune-result-fixture.js';

const MiB = 1024 * 1024;

/** Attributes of every element `name` with class containing `cls`, from the SVG text. */
function elements(svg: string, name: string, cls?: string): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = [];
  for (const m of svg.matchAll(new RegExp(`<${name}\\s([^>]*?)/?>`, 'g'))) {
    const attrs: Record<string, string> = {};
    for (const a of m[1]!.matchAll(/([\w:.-]+)="([^"]*)"/g)) attrs[a[1]!] = a[2]!;
    if (!cls || (attrs.class ?? '').split(' ').includes(cls)) out.push(attrs);
  }
  return out;
}

describe('svg writer', () => {
  it('escapes text and attributes and rounds numbers', () => {
    expect(renderSvg(el('text', { x: 1.23456, 'data-id': 'a"<b>&' }, ['x < y & "z"']))).toBe('<text x="1.23" data-id="a&quot;&lt;b&gt;&amp;">x &lt; y &amp; &quot;z&quot;</text>');
    expect(renderSvg(el('g', { hidden: false, missing: null, on: true }))).toBe('<g on="on"/>');
    expect(num(-0.001)).toBe('0');
    expect(escapeXml("it's")).toBe('it&#39;s');
    expect(() => el('bad name')).toThrow(RangeError);
    expect(() => renderSvg(el('g', { 'x"y': 1 }))).toThrow(RangeError);
    expect(() => num(Number.NaN)).toThrow(RangeError);
  });

  it('picks nice ticks that cover the range', () => {
    const t = niceTicks(0, 0.123, 5);
    expect(t.step).toBeCloseTo(0.025, 10);
    expect(t.min).toBe(0);
    expect(t.max).toBeGreaterThanOrEqual(0.123);
    expect(t.ticks[0]).toBe(0);
    expect(t.ticks.map((v) => tickLabel(v, t.step))).toEqual(['0.000', '0.025', '0.050', '0.075', '0.100', '0.125']);
    const flat = niceTicks(3, 3);
    expect(flat.min).toBeLessThan(3);
    expect(flat.max).toBeGreaterThan(3);
    expect(niceTicks(-0.4, 2.2).ticks).toContain(0);
  });
});

describe('Pareto chart', () => {
  const r = sampleTuneResult();
  const svg = paretoChartSvg({ candidates: r.candidates, chosen: r.chosen, constraints: r.constraints });

  it('draws one marker per profiled candidate, classed by front / dominated / infeasible', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" id="pareto-chart"')).toBe(true);
    const circles = elements(svg, 'circle', 'candidate');
    expect(circles.map((c) => c['data-id']).sort()).toEqual(['fp32', 'int8', 'int8-keep', 'int8-pt', 'prune-0.5']);
    const kind = (id: string): string => circles.find((c) => c['data-id'] === id)!.class!;
    expect(kind('int8')).toBe('candidate front');
    expect(kind('int8-keep')).toBe('candidate front');
    expect(kind('int8-pt')).toBe('candidate dominated');
    expect(kind('prune-0.5')).toBe('candidate infeasible');
    expect(kind('fp32')).toBe('candidate infeasible');
  });

  it('places markers by latency (x) and accuracy drop (y) and sizes them by model size', () => {
    const circles = new Map(elements(svg, 'circle', 'candidate').map((c) => [c['data-id']!, { cx: Number(c.cx), cy: Number(c.cy), r: Number(c.r) }]));
    const byLatency = [...circles.entries()].sort((a, b) => a[1].cx - b[1].cx).map(([id]) => id);
    expect(byLatency).toEqual(['prune-0.5', 'int8', 'int8-pt', 'int8-keep', 'fp32']);
    // Higher drop is higher on the page (smaller y).
    expect(circles.get('prune-0.5')!.cy).toBeLessThan(circles.get('int8')!.cy);
    expect(circles.get('fp32')!.cy).toBeGreaterThan(circles.get('int8-keep')!.cy);
    // Area ∝ size: the 4 MiB baseline is the largest marker.
    expect(circles.get('fp32')!.r).toBeGreaterThan(circles.get('prune-0.5')!.r);
    expect(circles.get('prune-0.5')!.r).toBeGreaterThan(circles.get('int8')!.r);
    for (const c of circles.values()) {
      expect(c.cx).toBeGreaterThan(0);
      expect(c.cx).toBeLessThan(CHART_SIZE.width);
      expect(c.cy).toBeGreaterThan(0);
      expect(c.cy).toBeLessThan(CHART_SIZE.height);
    }
  });

  it('rings the chosen one, draws the bounds and the trade-off line, and leaves failed candidates out', () => {
    const ring = elements(svg, 'circle', 'chosen-ring');
    expect(ring).toHaveLength(1);
    const int8 = elements(svg, 'circle', 'candidate').find((c) => c['data-id'] === 'int8')!;
    expect(ring[0]!.cx).toBe(int8.cx);
    expect(elements(svg, 'line', 'bound-latency')).toHaveLength(1);
    expect(elements(svg, 'line', 'bound-accuracy')).toHaveLength(1);
    expect(elements(svg, 'path', 'front-line')).toHaveLength(1);
    expect(svg).not.toContain('data-id="fp16"');
    expect(svg).toContain('int8 (chosen)');
  });

  it('says so when nothing was profiled', () => {
    const empty = paretoChartSvg({ candidates: [], chosen: null, constraints: { maxAccuracyDropPp: null, maxLatencyMs: null } });
    expect(empty).toContain('no candidate was profiled');
    expect(elements(empty, 'circle')).toHaveLength(0);
  });
});

describe('tune report', () => {
  const r = sampleTuneResult();

  it('chooses the format by extension and refuses others', () => {
    expect(reportFormatOf('a/b.MD')).toBe('md');
    expect(reportFormatOf('x.html')).toBe('html');
    expect(reportFormatOf('x.htm')).toBe('html');
    expect(() => reportFormatOf('x.txt')).toThrow(/--report must name a .md or .html file/);
  });

  it('markdown: device, plan reasons, a table row per candidate, the chart inline, why each lost, what was not tried', () => {
    const md = renderTuneReport(r, 'md');
    expect(md).toContain('# edgetune tune: net <x>.onnx');
    expect(md).toContain('Test & Board; Test CPU (x86_64, 2 cores); profile x86-avx512-vnni');
    expect(md).toContain('- VNNI present → int8 per-channel');
    expect(md).toContain('ESTIMATED');
    for (const c of r.candidates) expect(md).toMatch(new RegExp(`^\\| ${c.id.replace(/[.+]/g, '\\$&')}( ★)? \\|`, 'm'));
    expect(md).toContain('| int8 ★ |');
    expect(md).toContain('<svg xmlns="http://www.w3.org/2000/svg" id="pareto-chart"');
    expect(md).toContain('- int8-pt: dominated by int8: latency 4.00 vs 4.60 ms');
    expect(md).toContain('- prune-0.5: --max-accuracy-drop: drop 1.80 pp > 1 pp');
    expect(md).toContain('- fp16 (failed): profile: profile child exceeded the time limit of 1 s');
    expect(md).toContain('- lowrank-0.5: time budget of 60 s used up');
    expect(md).toContain('**chosen**: **int8**');
  });

  it('markdown: a quantized candidate not faster than fp32 is flagged in its row and the note is listed', () => {
    const note = 'int4 (int4) is not faster than fp32 on this device: p50 11.0 vs 10.0 ms (1.10× the fp32 latency); not eligible to be chosen under --objective latency';
    const slow = { ...r, candidates: [...r.candidates, candidateJson('int4', { latencyMs: 11, sizeBytes: 0.6 * MiB, pareto: true, slowerThanBaseline: true, whyLost: note })], notes: [...r.notes, note] };
    const md = renderTuneReport(slow, 'md');
    expect(md).toMatch(/^\| int4 \|.*\| quantized, not faster than fp32 here; note of int4 \|$/m);
    expect(md).toContain(`- ${note}`);
  });

  it('html: a complete document with the same content, text escaped, the SVG inline', () => {
    const html = renderTuneReport(r, 'html');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<title>edgetune tune: net &lt;x&gt;.onnx</title>');
    expect(html).toContain('Test &amp; Board');
    expect(html).toContain('<strong>int8</strong>');
    expect((html.match(/<tr>/g) ?? []).length).toBe(r.candidates.length + 1);
    expect(html).toContain('<div class="chart"><svg xmlns="http://www.w3.org/2000/svg" id="pareto-chart"');
    expect(html).not.toMatch(/<script/i);
  });
});
