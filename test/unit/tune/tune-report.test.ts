import { describe, expect, it } from 'vitest';
import { el, escapeXml, niceTicks, num, renderSvg, tickLabel } from '../../../src/tune/svg-writer.js';
import { CHART_SIZE, paretoChartSvg } from '../../../src/tune/pareto-chart.js';
import { renderTuneReport, reportFormatOf } from '../../../src/tune/tune-report.js';
import { accuracyJson, candidateJson, sampleTuneResult } from './tune-result-fixture.js';

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

describe('intervals, collapse, suspects and noise in the chart and the report (issue 13)', () => {
  const r = sampleTuneResult();
  const svg = paretoChartSvg({ candidates: r.candidates, chosen: r.chosen, constraints: r.constraints, confidence: 0.95 });
  const marker = (s: string, id: string): Record<string, string> => elements(s, 'circle', 'candidate').find((c) => c['data-id'] === id)!;

  it('chart: a vertical error bar for each accuracy interval and a horizontal one for each latency interval, through the marker', () => {
    const accuracyBars = elements(svg, 'line', 'accuracy').filter((l) => (l.class ?? '').includes('error-bar'));
    // fp32's interval is [0, 0]: no bar.
    expect(accuracyBars.map((b) => b['data-id']).sort()).toEqual(['int8', 'int8-keep', 'int8-pt', 'prune-0.5']);
    for (const b of accuracyBars) {
      const m = marker(svg, b['data-id']!);
      expect(b.x1).toBe(m.cx);
      expect(b.x2).toBe(m.cx);
      // y grows downwards: the lower end of the drop is the lower point on the page.
      expect(Number(b.y1)).toBeGreaterThan(Number(m.cy));
      expect(Number(b.y2)).toBeLessThan(Number(m.cy));
    }
    const latencyBars = elements(svg, 'line', 'latency').filter((l) => (l.class ?? '').includes('error-bar'));
    expect(latencyBars.map((b) => b['data-id']).sort()).toEqual(['fp32', 'int8', 'int8-keep', 'int8-pt', 'prune-0.5']);
    for (const b of latencyBars) {
      const m = marker(svg, b['data-id']!);
      expect(b.y1).toBe(m.cy);
      expect(Number(b.x1)).toBeLessThan(Number(m.cx));
      expect(Number(b.x2)).toBeGreaterThan(Number(m.cx));
      expect(Number(b.x2)).toBeLessThan(CHART_SIZE.width);
    }
    // Bars have caps, sit under the markers, and the legend says what they are.
    expect(elements(svg, 'line', 'error-cap')).toHaveLength(2 * (accuracyBars.length + latencyBars.length));
    expect(svg.indexOf('class="error-bars"')).toBeLessThan(svg.indexOf('class="markers"'));
    expect(svg).toContain('bars: 95 % intervals');
    expect(svg).toContain('int8: p50 4.00 ms [3.84, 4.16], drop 0.40 pp [0.10, 0.75]');
  });

  it('chart: without intervals there are no bars and no bar legend', () => {
    const bare = r.candidates.map((c) => ({ ...c, accuracy: null, latencyCiMs: null }));
    const plain = paretoChartSvg({ candidates: bare, chosen: r.chosen, constraints: r.constraints, confidence: 0.95 });
    expect(elements(plain, 'line', 'error-bar')).toHaveLength(0);
    expect(plain).not.toContain('bars:');
  });

  it('chart: the y axis reaches the interval ends, a collapsed candidate is drawn as rejected, a suspect one ringed', () => {
    const candidates = [
      ...r.candidates,
      candidateJson('int4', { latencyMs: 3.5, sizeBytes: 0.6 * MiB, accuracyDrop: 0.2, accuracy: accuracyJson(0.2, { ci: [-2.5, 2.9] }), collapsed: ['output logits is constant across samples'] }),
      candidateJson('fp16-s', { latencyMs: 6, sizeBytes: 2 * MiB, accuracyDrop: -0.8, suspect: 'beats the original on the labels while disagreeing with it on 31 % of samples' }),
    ];
    const s = paretoChartSvg({ candidates, chosen: r.chosen, constraints: r.constraints });
    expect(marker(s, 'int4').class).toBe('candidate infeasible');
    expect(s).toContain('int4: p50 3.50 ms [3.36, 3.64], drop 0.20 pp [−2.50, 2.90], agreement with the original 97.00 %, 614 KiB — rejected, outputs collapsed: output logits is constant across samples');
    expect(elements(s, 'circle', 'suspect-ring')).toHaveLength(1);
    expect(s).toContain('suspect (see the report)');
    expect(svg).not.toContain('suspect (see the report)');
    expect(s).toContain('— warning: beats the original on the labels');
    const bar = elements(s, 'line', 'accuracy').find((l) => l['data-id'] === 'int4')!;
    for (const y of [Number(bar.y1), Number(bar.y2)]) {
      expect(y).toBeGreaterThan(0);
      expect(y).toBeLessThan(CHART_SIZE.height);
    }
    // Without `confidence` the legend names no level.
    expect(s).toContain('bars: intervals');
  });

  it('markdown: each drop with its interval, what it was judged on, the p50 interval', () => {
    const md = renderTuneReport(r, 'md');
    expect(md).toContain('| accuracy drop [95 % interval] |');
    expect(md).toMatch(/^\| int8 ★ \| int8 \| done \| 4\.00 \[3\.84, 4\.16\] \| 2\.00× \| 0\.40 pp \[0\.10, 0\.75\] \|/m);
    expect(md).toContain('| 0.10 pp [−0.20, 0.45] |');
    expect(md).toContain('- **accuracy**: top-1 accuracy on /data/test; original: 99.00%; judged on 256 validation samples (held out of /data/test: 768 fit, 256 validation, seed 7, stratified); 95 % intervals');
    expect(md).toContain('**chosen**: **int8** — p50 4.00 ms [3.84, 4.16] (2.00× the original\'s speed), 1.05 MiB (4.00× smaller), accuracy drop 0.40 pp [0.10, 0.75]');
    expect(md).toMatch(/^\| fp32 \|.*\| 0\.00 pp \|/m);
    expect(md).not.toContain('optimistic');
    expect(md).not.toContain('## Warnings');
  });

  it('markdown: explicit validation data is named; confidence 0 shows point estimates only', () => {
    const explicit = { ...r, settings: { ...r.settings, validationDataDir: '/data/val', split: null } };
    expect(renderTuneReport(explicit, 'md')).toContain('judged on 256 validation samples in /data/val; 95 % intervals');
    const points = {
      ...r,
      settings: { ...r.settings, confidence: 0 },
      candidates: r.candidates.map((c) => ({ ...c, latencyCiMs: null, accuracy: c.accuracy && { ...c.accuracy, ci: [c.accuracy.drop, c.accuracy.drop] as [number, number], confidence: 0 } })),
    };
    const md = renderTuneReport(points, 'md');
    expect(md).toContain('point estimates only (--confidence 0)');
    expect(md).toContain('| accuracy drop |');
    expect(md).toContain('| 0.40 pp |');
    expect(md).not.toContain('[0.40, 0.40]');
  });

  it('markdown and html: judged on calibration data says the figures are optimistic', () => {
    const calib = {
      ...r,
      settings: { ...r.settings, judgedOn: 'calibration' as const, split: null },
      candidates: r.candidates.map((c) => ({ ...c, accuracy: c.accuracy && { ...c.accuracy, judgedOn: 'calibration' as const } })),
    };
    const md = renderTuneReport(calib, 'md');
    expect(md).toContain('judged on calibration data (256 samples the candidates were fitted to)');
    expect(md).toContain('## Warnings\n\n- accuracy judged on calibration data (--no-holdout): the figures are optimistic');
    const html = renderTuneReport(calib, 'html');
    expect(html).toContain('<li>accuracy judged on calibration data (--no-holdout): the figures are optimistic</li>');
  });

  it('markdown: a collapsed candidate is rejected with its finding, a suspect one warned about, overlapping latencies listed', () => {
    const finding = "output 'logits' is constant across samples";
    const x = {
      ...r,
      candidates: [
        ...r.candidates.map((c) =>
          c.id === 'int8' ? { ...c, indistinguishableFrom: ['int8-pt'] } : c.id === 'int8-pt' ? { ...c, indistinguishableFrom: ['int8'] } : c.id === 'int8-keep' ? { ...c, suspect: 'beats the original on the labels while disagreeing with it on 31 % of samples' } : c,
        ),
        candidateJson('int4', { state: 'rejected', latencyMs: null, peakRssBytes: null, joulesPerInference: null, accuracyDrop: 0.2, collapsed: [finding], reason: `outputs collapsed: ${finding}`, speedup: null }),
        candidateJson('int4-g32', { state: 'done', latencyMs: 3.2, collapsed: [finding], reason: null }),
      ],
    };
    const md = renderTuneReport(x, 'md');
    expect(md).toMatch(/^\| int4 \| int4 \| rejected \(collapsed\) \|.*\| outputs collapsed: output 'logits' is constant across samples \|$/m);
    expect(md).toMatch(/^\| int4-g32 \| int4-g32 \| rejected \(collapsed\) \|/m);
    expect(md).toContain(`- int4 (rejected): outputs collapsed: ${finding}`);
    expect(md).toContain(`- int4-g32 (rejected): outputs collapsed: ${finding}`);
    expect(md).toContain('## Warnings\n\n- int8-keep is suspect: beats the original on the labels while disagreeing with it on 31 % of samples');
    expect(md).toMatch(/^\| int8-keep \|.*\| warning: suspect, beats the original .*; note of int8-keep \|$/m);
    expect(md).toContain('## Latencies not distinguishable on this device');
    expect(md).toContain('- int8 (p50 4.00 ms [3.84, 4.16]): not distinguishable from int8-pt');
    expect(md).toMatch(/^\| int8 ★ \|.*\| note of int8; p50 not distinguishable from int8-pt \|$/m);
  });

  it('html: intervals and error bars inline, and nothing loaded from outside', () => {
    const html = renderTuneReport(r, 'html');
    expect(html).toContain('<td class="r">0.40 pp [0.10, 0.75]</td>');
    expect(html).toContain('judged on 256 validation samples');
    expect(html).toMatch(/<line class="error-bar accuracy" data-id="int8"/);
    expect(html).toMatch(/<line class="error-bar latency" data-id="int8"/);
    expect(html).not.toMatch(/<script|<link|<img|\ssrc=|\shref=|url\(|@import/i);
  });
});
