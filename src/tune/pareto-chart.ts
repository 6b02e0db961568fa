/**
 * The Pareto chart of a tune: p50 latency (x) against accuracy drop (y), marker area by model size, the front
 * joined by a dashed line, dominated candidates hollow, candidates that miss a constraint (or whose outputs collapsed)
 * in red, the chosen one ringed, a suspect one ringed in amber, constraint bounds as dashed lines, and error bars for
 * the intervals: vertical for the accuracy drop's, horizontal for the p50 latency's. Inline SVG from our own writer.
 * Pure.
 */
import { fmtDropWithInterval, fmtMs, fmtSize } from './pareto.js';
import { el, niceTicks, num, polylinePath, renderSvg, tickLabel, type SvgElement, type SvgNode } from './svg-writer.js';

/** What the chart reads from a tune result. */
export interface ChartInput {
  candidates: ReadonlyArray<{
    id: string;
    latencyMs: number | null;
    accuracyDrop: number | null;
    sizeBytes: number | null;
    pareto: boolean;
    state: string;
    violations: readonly string[];
    /** The accuracy drop's interval (pp), drawn as a vertical error bar; agreement with the original, in the tooltip. */
    accuracy?: { ci: readonly [number, number]; agreement?: number | null; metric?: string } | null;
    /** The p50 latency's interval (ms); drawn as a horizontal error bar. */
    latencyCiMs?: readonly [number, number] | null;
    /** Collapse findings: the candidate is drawn as rejected. */
    collapsed?: readonly string[];
    /** A warning: ringed in amber. */
    suspect?: string | null;
  }>;
  chosen: string | null;
  constraints: { maxAccuracyDropPp: number | null; maxLatencyMs: number | null };
  /** Confidence of the intervals, for the legend (e.g. 0.95). */
  confidence?: number;
  /** Axis label for y (names the accuracy metric). */
  accuracyLabel?: string;
  title?: string;
}

/** Chart size in CSS pixels. */
export const CHART_SIZE = { width: 760, height: 470 } as const;
const MARGIN = { left: 72, right: 24, top: 56, bottom: 58 };
const R_MIN = 5;
const R_SPAN = 14;
/** Approximate width of one 11 px label character, for placing labels. */
const LABEL_CHAR_PX = 6.4;
const COLORS = { front: '#1f77b4', dominated: '#8c8c8c', infeasible: '#d62728', chosen: '#111111', grid: '#e3e3e3', axis: '#333333', bound: '#d62728', bar: '#555555', suspect: '#e69f00' };
/** Half-width of an error bar's cap, px. */
const CAP_PX = 3.5;

/** The chart as an SVG string. */
export function paretoChartSvg(input: ChartInput): string {
  return renderSvg(paretoChart(input));
}

/** The chart as an element tree. */
export function paretoChart(input: ChartInput): SvgElement {
  const { width, height } = CHART_SIZE;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const points = input.candidates.filter((c): c is typeof c & { latencyMs: number; sizeBytes: number } => c.state === 'done' && c.latencyMs !== null && c.sizeBytes !== null);
  const title = input.title ?? 'Pareto front: latency against accuracy drop (marker area ∝ model size)';
  const root = (children: SvgNode[]): SvgElement =>
    el(
      'svg',
      { xmlns: 'http://www.w3.org/2000/svg', id: 'pareto-chart', class: 'pareto-chart', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, 'font-family': 'system-ui, sans-serif' },
      [el('title', {}, [title]), el('rect', { x: 0, y: 0, width, height, fill: '#ffffff' }), ...children],
    );
  if (points.length === 0) {
    return root([el('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', 'font-size': 14, fill: COLORS.axis }, ['no candidate was profiled'])]);
  }

  const accuracyKnown = points.some((p) => p.accuracyDrop !== null);
  const drop = (p: (typeof points)[number]): number => p.accuracyDrop ?? 0;
  const dropCi = (p: (typeof points)[number]): readonly [number, number] | null => {
    const ci = p.accuracy?.ci;
    return p.accuracyDrop !== null && ci && Number.isFinite(ci[0]) && Number.isFinite(ci[1]) && ci[1] > ci[0] ? ci : null;
  };
  const latencyCi = (p: (typeof points)[number]): readonly [number, number] | null => {
    const ci = p.latencyCiMs;
    return ci && Number.isFinite(ci[0]) && Number.isFinite(ci[1]) && ci[1] > ci[0] ? ci : null;
  };
  const maxLatency = Math.max(...points.map((p) => latencyCi(p)?.[1] ?? p.latencyMs), input.constraints.maxLatencyMs ?? 0);
  const xs = niceTicks(0, maxLatency * 1.05, 6);
  const dropValues = points.flatMap((p) => [drop(p), ...(dropCi(p) ?? [])]);
  const yBound = input.constraints.maxAccuracyDropPp;
  const ys = niceTicks(Math.min(0, ...dropValues), Math.max(0.1, ...dropValues, yBound ?? 0) * 1.05, 5);
  const x = (v: number): number => MARGIN.left + ((v - xs.min) / (xs.max - xs.min)) * plotW;
  const y = (v: number): number => MARGIN.top + plotH - ((v - ys.min) / (ys.max - ys.min)) * plotH;
  const maxSize = Math.max(...points.map((p) => p.sizeBytes));
  const radius = (bytes: number): number => R_MIN + R_SPAN * Math.sqrt(bytes / maxSize);

  const children: SvgNode[] = [];
  children.push(el('text', { x: MARGIN.left, y: 22, 'font-size': 15, 'font-weight': 'bold', fill: COLORS.axis }, [title]));

  // Grid and axes.
  const grid: SvgNode[] = [];
  for (const t of xs.ticks) {
    grid.push(el('line', { x1: x(t), y1: MARGIN.top, x2: x(t), y2: MARGIN.top + plotH, stroke: COLORS.grid }));
    grid.push(el('text', { x: x(t), y: MARGIN.top + plotH + 18, 'text-anchor': 'middle', 'font-size': 11, fill: COLORS.axis }, [tickLabel(t, xs.step)]));
  }
  for (const t of ys.ticks) {
    grid.push(el('line', { x1: MARGIN.left, y1: y(t), x2: MARGIN.left + plotW, y2: y(t), stroke: COLORS.grid }));
    grid.push(el('text', { x: MARGIN.left - 8, y: y(t) + 4, 'text-anchor': 'end', 'font-size': 11, fill: COLORS.axis }, [tickLabel(t, ys.step)]));
  }
  children.push(el('g', { class: 'grid' }, grid));
  children.push(
    el('g', { class: 'axes' }, [
      el('line', { x1: MARGIN.left, y1: MARGIN.top + plotH, x2: MARGIN.left + plotW, y2: MARGIN.top + plotH, stroke: COLORS.axis }),
      el('line', { x1: MARGIN.left, y1: MARGIN.top, x2: MARGIN.left, y2: MARGIN.top + plotH, stroke: COLORS.axis }),
      el('text', { x: MARGIN.left + plotW / 2, y: height - 14, 'text-anchor': 'middle', 'font-size': 12, fill: COLORS.axis }, ['p50 latency (ms)']),
      el(
        'text',
        { x: 18, y: MARGIN.top + plotH / 2, 'text-anchor': 'middle', 'font-size': 12, fill: COLORS.axis, transform: `rotate(-90 18 ${num(MARGIN.top + plotH / 2)})` },
        [accuracyKnown ? (input.accuracyLabel ?? 'accuracy drop (pp; below 0: better than the original)') : 'accuracy drop (not measured)'],
      ),
    ]),
  );

  // Constraint bounds.
  const bounds: SvgNode[] = [];
  if (input.constraints.maxLatencyMs !== null) {
    const bx = x(input.constraints.maxLatencyMs);
    bounds.push(el('line', { class: 'bound-latency', x1: bx, y1: MARGIN.top, x2: bx, y2: MARGIN.top + plotH, stroke: COLORS.bound, 'stroke-dasharray': '6 4' }));
    bounds.push(el('text', { x: bx - 4, y: MARGIN.top + 12, 'text-anchor': 'end', 'font-size': 10, fill: COLORS.bound }, [`max ${input.constraints.maxLatencyMs} ms`]));
  }
  if (yBound !== null && accuracyKnown) {
    const by = y(yBound);
    bounds.push(el('line', { class: 'bound-accuracy', x1: MARGIN.left, y1: by, x2: MARGIN.left + plotW, y2: by, stroke: COLORS.bound, 'stroke-dasharray': '6 4' }));
    bounds.push(el('text', { x: MARGIN.left + plotW - 4, y: by - 4, 'text-anchor': 'end', 'font-size': 10, fill: COLORS.bound }, [`max drop ${yBound} pp`]));
  }
  if (bounds.length > 0) children.push(el('g', { class: 'bounds' }, bounds));

  // A drop below 0 is a candidate that scored better than the original: the zero line is the original's figure.
  const zeroText = '↓ better than the original';
  const zeroLabel: Box | null = accuracyKnown && ys.min < 0 ? { x0: MARGIN.left + 4, y0: y(0) + 3, x1: MARGIN.left + 4 + zeroText.length * LABEL_CHAR_PX * 0.9, y1: y(0) + 14 } : null;
  if (zeroLabel) {
    children.push(
      el('g', { class: 'zero-line' }, [
        el('line', { x1: MARGIN.left, y1: y(0), x2: MARGIN.left + plotW, y2: y(0), stroke: COLORS.axis, 'stroke-width': 1, 'stroke-dasharray': '2 3' }),
        el('text', { x: zeroLabel.x0, y: zeroLabel.y1 - 2, 'font-size': 10, fill: COLORS.axis }, [zeroText]),
      ]),
    );
  }

  // The latency–accuracy trade-off: a staircase through the front members no other front member beats on both
  // latency and accuracy drop (the others are on the front for their size or energy).
  const front = points.filter((p) => p.pareto && p.violations.length === 0).sort((a, b) => a.latencyMs - b.latencyMs || drop(a) - drop(b));
  const stairs: Array<(typeof points)[number]> = [];
  for (const p of front) if (stairs.length === 0 || drop(p) < drop(stairs[stairs.length - 1]!)) stairs.push(p);
  if (stairs.length > 1) {
    const path: Array<readonly [number, number]> = [];
    stairs.forEach((p, i) => {
      if (i > 0) path.push([x(p.latencyMs), y(drop(stairs[i - 1]!))]);
      path.push([x(p.latencyMs), y(drop(p))]);
    });
    children.push(el('path', { class: 'front-line', d: polylinePath(path), fill: 'none', stroke: COLORS.front, 'stroke-width': 1.5, 'stroke-dasharray': '5 3' }));
  }

  // Error bars, under the markers: the accuracy drop's interval vertically, the p50's horizontally.
  const bars: SvgNode[] = [];
  for (const p of points) {
    const cx = x(p.latencyMs);
    const cy = y(drop(p));
    const ci = accuracyKnown ? dropCi(p) : null;
    if (ci) {
      const [y0, y1] = [y(ci[0]), y(ci[1])];
      bars.push(el('line', { class: 'error-bar accuracy', 'data-id': p.id, x1: cx, y1: y0, x2: cx, y2: y1, stroke: COLORS.bar, 'stroke-width': 1.2 }));
      for (const yy of [y0, y1]) bars.push(el('line', { class: 'error-cap', x1: cx - CAP_PX, y1: yy, x2: cx + CAP_PX, y2: yy, stroke: COLORS.bar, 'stroke-width': 1.2 }));
    }
    const lci = latencyCi(p);
    if (lci) {
      const [x0, x1] = [x(lci[0]), x(lci[1])];
      bars.push(el('line', { class: 'error-bar latency', 'data-id': p.id, x1: x0, y1: cy, x2: x1, y2: cy, stroke: COLORS.bar, 'stroke-width': 1.2 }));
      for (const xx of [x0, x1]) bars.push(el('line', { class: 'error-cap', x1: xx, y1: cy - CAP_PX, x2: xx, y2: cy + CAP_PX, stroke: COLORS.bar, 'stroke-width': 1.2 }));
    }
  }
  if (bars.length > 0) children.push(el('g', { class: 'error-bars' }, bars));

  // Markers: larger first so that small ones stay visible on top.
  const markers: SvgNode[] = [];
  for (const p of [...points].sort((a, b) => b.sizeBytes - a.sizeBytes)) {
    const cx = x(p.latencyMs);
    const cy = y(drop(p));
    const r = radius(p.sizeBytes);
    const collapsed = p.collapsed ?? [];
    const infeasible = p.violations.length > 0 || collapsed.length > 0;
    const kind = infeasible ? 'infeasible' : p.pareto ? 'front' : 'dominated';
    const lci = latencyCi(p);
    const status = collapsed.length > 0 ? ` — rejected, outputs collapsed: ${collapsed.join('; ')}` : p.violations.length > 0 ? ` — misses ${p.violations.join('; ')}` : p.pareto ? ' — on the front' : ' — dominated';
    const tip =
      `${p.id}: p50 ${fmtMs(p.latencyMs)} ms${lci ? ` [${fmtMs(lci[0])}, ${fmtMs(lci[1])}]` : ''}, ` +
      `${accuracyKnown && p.accuracyDrop !== null ? `drop ${fmtDropWithInterval(p.accuracyDrop, dropCi(p))}${p.accuracyDrop < 0 ? ' (better than the original)' : ''}, ` : ''}` +
      `${p.accuracy?.metric === 'top1' && typeof p.accuracy.agreement === 'number' ? `agreement with the original ${(p.accuracy.agreement * 100).toFixed(2)} %, ` : ''}${fmtSize(p.sizeBytes)}${status}` +
      `${p.suspect ? ` — warning: ${p.suspect}` : ''}`;
    const style =
      kind === 'front'
        ? { fill: COLORS.front, 'fill-opacity': 0.7, stroke: COLORS.front, 'stroke-width': 1.5 }
        : kind === 'dominated'
          ? { fill: '#ffffff', 'fill-opacity': 0.6, stroke: COLORS.dominated, 'stroke-width': 1.5 }
          : { fill: '#ffffff', 'fill-opacity': 0.6, stroke: COLORS.infeasible, 'stroke-width': 1.5, 'stroke-dasharray': '3 2' };
    const group: SvgNode[] = [el('title', {}, [tip]), el('circle', { class: `candidate ${kind}`, 'data-id': p.id, cx, cy, r, ...style })];
    if (p.suspect) group.push(el('circle', { class: 'suspect-ring', cx, cy, r: r + 2.5, fill: 'none', stroke: COLORS.suspect, 'stroke-width': 2, 'stroke-dasharray': '2 2' }));
    if (p.id === input.chosen) group.push(el('circle', { class: 'chosen-ring', cx, cy, r: r + 5, fill: 'none', stroke: COLORS.chosen, 'stroke-width': 2.5 }));
    markers.push(el('g', { class: 'marker', 'data-id': p.id }, group));
  }
  children.push(el('g', { class: 'markers' }, markers));

  // Labels, after the markers so that they stay readable; placed greedily where they overlap no other label or
  // marker (a label that fits nowhere is left to the marker's tooltip).
  const labels: SvgNode[] = [];
  const taken: Box[] = points.map((p) => {
    const r = radius(p.sizeBytes);
    return { x0: x(p.latencyMs) - r, y0: y(drop(p)) - r, x1: x(p.latencyMs) + r, y1: y(drop(p)) + r };
  });
  if (zeroLabel) taken.push(zeroLabel);
  const plotBox: Box = { x0: MARGIN.left, y0: MARGIN.top, x1: width - 4, y1: MARGIN.top + plotH + 4 };
  const ordered = [...points].sort((a, b) => Number(b.id === input.chosen) - Number(a.id === input.chosen) || Number(b.pareto) - Number(a.pareto) || a.latencyMs - b.latencyMs);
  for (const p of ordered) {
    const r = radius(p.sizeBytes);
    const cx = x(p.latencyMs);
    const cy = y(drop(p));
    const text = p.id === input.chosen ? `${p.id} (chosen)` : p.id;
    const w = text.length * LABEL_CHAR_PX;
    const h = 12;
    const spots: Array<[number, number, 'start' | 'end' | 'middle']> = [
      [cx + r + 3, cy - 3, 'start'],
      [cx - r - 3, cy - 3, 'end'],
      [cx, cy - r - 4, 'middle'],
      [cx, cy + r + 12, 'middle'],
      [cx + r + 3, cy - r - 6, 'start'],
      [cx + r + 3, cy + r + 10, 'start'],
      [cx - r - 3, cy - r - 6, 'end'],
      [cx - r - 3, cy + r + 10, 'end'],
    ];
    for (const [tx, ty, anchor] of spots) {
      const x0 = anchor === 'start' ? tx : anchor === 'end' ? tx - w : tx - w / 2;
      const box: Box = { x0, y0: ty - h + 2, x1: x0 + w, y1: ty + 2 };
      if (!inside(box, plotBox)) continue;
      if (taken.some((t) => overlaps(box, t))) continue;
      taken.push(box);
      labels.push(el('text', { class: 'label', 'data-id': p.id, x: tx, y: ty, 'text-anchor': anchor, 'font-size': 11, fill: p.id === input.chosen ? COLORS.chosen : COLORS.axis, 'font-weight': p.id === input.chosen ? 'bold' : null }, [text]));
      break;
    }
  }
  children.push(el('g', { class: 'labels' }, labels));

  // Legend.
  const lx = MARGIN.left + 8;
  const ly = 38;
  const legend: SvgNode[] = [
    el('circle', { cx: lx, cy: ly, r: 5, fill: COLORS.front, 'fill-opacity': 0.7, stroke: COLORS.front }),
    el('text', { x: lx + 9, y: ly + 4, 'font-size': 11, fill: COLORS.axis }, ['Pareto front']),
    el('circle', { cx: lx + 100, cy: ly, r: 5, fill: '#ffffff', stroke: COLORS.dominated, 'stroke-width': 1.5 }),
    el('text', { x: lx + 109, y: ly + 4, 'font-size': 11, fill: COLORS.axis }, ['dominated']),
    el('circle', { cx: lx + 190, cy: ly, r: 5, fill: '#ffffff', stroke: COLORS.infeasible, 'stroke-width': 1.5, 'stroke-dasharray': '3 2' }),
    el('text', { x: lx + 199, y: ly + 4, 'font-size': 11, fill: COLORS.axis }, ['misses a constraint']),
    el('circle', { cx: lx + 330, cy: ly, r: 5, fill: 'none', stroke: COLORS.chosen, 'stroke-width': 2.5 }),
    el('text', { x: lx + 339, y: ly + 4, 'font-size': 11, fill: COLORS.axis }, ['chosen']),
    el('text', { x: lx + 400, y: ly + 4, 'font-size': 11, fill: COLORS.axis }, [`marker area ∝ size (largest ${fmtSize(maxSize)})`]),
  ];
  if (bars.length > 0) {
    const pct = input.confidence !== undefined && input.confidence > 0 ? `${Number((input.confidence * 100).toFixed(1))} % ` : '';
    legend.push(el('text', { class: 'legend-bars', x: width - MARGIN.right, y: height - 14, 'text-anchor': 'end', 'font-size': 11, fill: COLORS.axis }, [`bars: ${pct}intervals`]));
  }
  if (points.some((p) => p.suspect)) {
    legend.push(el('circle', { cx: MARGIN.left + 5, cy: height - 18, r: 5, fill: 'none', stroke: COLORS.suspect, 'stroke-width': 2, 'stroke-dasharray': '2 2' }));
    legend.push(el('text', { class: 'legend-suspect', x: MARGIN.left + 14, y: height - 14, 'font-size': 11, fill: COLORS.axis }, ['suspect (see the report)']));
  }
  children.push(el('g', { class: 'legend' }, legend));
  return root(children);
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

function overlaps(a: Box, b: Box): boolean {
  return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

function inside(a: Box, outer: Box): boolean {
  return a.x0 >= outer.x0 && a.x1 <= outer.x1 && a.y0 >= outer.y0 && a.y1 <= outer.y1;
}
