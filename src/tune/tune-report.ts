/**
 * The tune report (`--report FILE.md|.html`): the device, the plan's reasons, the choice, what the accuracy was judged
 * on, warnings (judged on calibration data, suspect candidates), the Pareto chart as inline SVG with error bars, a
 * table of every candidate with its intervals, why each dominated one lost, latencies not distinguishable from one
 * another, and what was not tried. Self-contained (no external assets). Pure: result → text.
 */
import { basename } from 'node:path';
import { EdgetuneError } from '../util/errors.js';
import { fmtDropWithInterval, fmtMj, fmtMs, fmtSize } from './pareto.js';
import { paretoChartSvg } from './pareto-chart.js';
import { escapeXml } from './svg-writer.js';
import type { TuneCandidateJson, TuneResult } from './tune-types.js';

/** Report formats. */
export type ReportFormat = 'md' | 'html';

/** The format from the file name; USAGE for anything but .md / .html / .htm. */
export function reportFormatOf(path: string): ReportFormat {
  const lower = path.toLowerCase();
  if (lower.endsWith('.md') || lower.endsWith('.markdown')) return 'md';
  if (lower.endsWith('.html') || lower.endsWith('.htm')) return 'html';
  throw new EdgetuneError('USAGE', `--report must name a .md or .html file; got '${path}'`);
}

/** The report text. */
export function renderTuneReport(result: TuneResult, format: ReportFormat): string {
  const doc = reportDocument(result);
  return format === 'md' ? toMarkdown(doc) : toHtml(doc);
}

type Block =
  | { kind: 'heading'; level: 1 | 2; text: string }
  | { kind: 'facts'; rows: Array<[string, string]> }
  | { kind: 'list'; items: string[] }
  | { kind: 'paragraph'; text: string }
  | { kind: 'table'; head: string[]; rows: string[][]; align: Array<'l' | 'r'> }
  | { kind: 'svg'; svg: string };

const METRIC_LABELS: Record<string, string> = {
  top1: 'top-1 accuracy',
  agreement: 'top-1 agreement with the original',
  cosine: '1 − cosine similarity to the original, ×100',
  map5095: 'COCO mAP@[.5:.95] of the decoded detections (against labels, or against the original\'s detections), points',
  hmean: 'text-detection hmean (PaddleOCR, IoU 0.5; against labels, or against the original\'s regions), points',
};
const metricLabel = (m: string | null): string => (m !== null && METRIC_LABELS[m]) || 'not measured';

function reportDocument(r: TuneResult): Block[] {
  const blocks: Block[] = [];
  const judged = judgedText(r);
  const byId = new Map(r.candidates.map((c) => [c.id, c]));
  const chosen = r.chosen ? byId.get(r.chosen) : undefined;
  blocks.push({ kind: 'heading', level: 1, text: `edgetune tune: ${basename(r.model.path)}` });
  const energyMethods = [...new Set(r.candidates.map((c) => c.energyMethod).filter((m): m is string => m !== null))];
  const caches = [r.device.caches.l1d, r.device.caches.l2, r.device.caches.l3].map((v, i) => (v === null ? null : `L${i === 0 ? '1d' : i + 1} ${fmtSize(v)}`)).filter((v): v is string => v !== null);
  const c = r.constraints;
  const constraintText = [
    c.maxAccuracyDropPp !== null ? `accuracy drop ≤ ${c.maxAccuracyDropPp} pp` : null,
    c.maxLatencyMs !== null ? `p50 latency ≤ ${c.maxLatencyMs} ms` : null,
    c.maxMemoryMb !== null ? `peak RSS ≤ ${c.maxMemoryMb} MB` : null,
    c.maxSizeMb !== null ? `size ≤ ${c.maxSizeMb} MB` : null,
  ].filter((v): v is string => v !== null);
  blocks.push({
    kind: 'facts',
    rows: [
      ['model', `${r.model.path} (${fmtSize(r.model.bytes)}, sha256 ${r.model.sha256.slice(0, 16)}…)`],
      ['device', `${r.device.board ?? 'unknown board'}; ${r.device.cpu ?? 'unknown CPU'} (${r.device.arch ?? '?'}, ${r.device.cores ?? '?'} cores); profile ${r.device.profile}${caches.length ? `; ${caches.join(', ')}` : ''}`],
      ['profiling', `${Object.keys(r.settings.shapes ?? {}).length ? `inputs ${Object.entries(r.settings.shapes).map(([k, d]) => `${k}=${d.join('x')}`).join(', ')}; ` : ''}batch ${r.settings.batchSize}, ${r.settings.iterations} measured runs after ${r.settings.warmup} warm-up, ${r.settings.threads ?? 'default'} thread(s); latency is the p50`],
      ['energy', energyMethods.length === 0 ? `not measured (${r.settings.energy})` : energyMethods.map((m) => (m === 'estimated' ? 'ESTIMATED (CPU-utilisation power model, not a measurement)' : m)).join(', ')],
      ['accuracy', `${metricLabel(r.settings.accuracyMetric)}${r.settings.dataDir ? ` on ${r.settings.dataDir}` : ''}${r.baseline.accuracy?.metric === 'top1' ? `; original: ${(r.baseline.accuracy.value * 100).toFixed(2)}%` : ''}${(r.baseline.accuracy?.metric === 'map5095' || r.baseline.accuracy?.metric === 'hmean') && r.baseline.accuracy.value !== 1 ? `; original: ${r.baseline.accuracy.value.toFixed(4)}` : ''}${judged ? `; ${judged}` : ''}`],
      ['constraints', constraintText.length ? constraintText.join(', ') : 'none'],
      ['objective', r.objectiveUsed === r.objective ? r.objective : `${r.objective} (applied: ${r.objectiveUsed})`],
      ['chosen', chosen ? `**${chosen.id}** — ${chosenSummary(chosen)}` : `none: ${r.chosenReason}`],
      ['why', r.chosenReason],
      ['time', `${r.elapsedSeconds.toFixed(1)} s${r.budgetSeconds !== null ? ` (budget ${r.budgetSeconds} s${r.complete ? '' : ', used up'})` : ''}; ${r.candidates.filter((x) => x.resumed).length} candidate(s) resumed from ${r.store}`],
    ],
  });
  const warnings = [
    ...(r.settings.judgedOn === 'calibration' ? [CALIBRATION_WARNING] : []),
    ...r.candidates.filter((x) => x.suspect).map((x) => `${x.id} is suspect: ${x.suspect}`),
  ];
  if (warnings.length) {
    blocks.push({ kind: 'heading', level: 2, text: 'Warnings' });
    blocks.push({ kind: 'list', items: warnings });
  }
  blocks.push({ kind: 'heading', level: 2, text: 'Pareto front' });
  blocks.push({
    kind: 'paragraph',
    text: `Front over ${r.axes.map(axisName).join(', ')} among the candidates that meet the constraints: ${r.front.length ? r.front.join(', ') : 'empty'}.${r.axesLeftOut.length ? ` Left out: ${r.axesLeftOut.map((a) => `${axisName(a.axis)} (not measured for ${a.missingFor.join(', ')})`).join('; ')}.` : ''}`,
  });
  blocks.push({
    kind: 'svg',
    svg: paretoChartSvg({
      candidates: r.candidates,
      chosen: r.chosen,
      constraints: { maxAccuracyDropPp: c.maxAccuracyDropPp, maxLatencyMs: c.maxLatencyMs },
      confidence: r.settings.confidence,
      accuracyLabel:
        r.settings.accuracyMetric === 'cosine'
          ? 'fidelity drop: (1 − cosine) × 100'
          : `${r.settings.accuracyMetric === 'agreement' ? 'agreement' : r.settings.accuracyMetric === 'map5095' ? 'mAP@.5:.95' : r.settings.accuracyMetric === 'hmean' ? 'hmean' : 'top-1'} drop (pp; ${BETTER_BELOW_ZERO})`,
    }),
  });
  blocks.push({ kind: 'heading', level: 2, text: 'Candidates' });
  // Beside a labelled accuracy, how often each candidate gives the original's answer: the drop is a difference of
  // two accuracies, agreement says how many answers changed.
  const showAgreement = agreementShown(r);
  // A detector: FPS and the mAP figures themselves (against labels, or against the original's detections).
  const detector = r.candidates.some((x) => x.accuracy?.detection);
  const text = r.settings.accuracyMetric === 'hmean';
  const fig = (v: number | null | undefined): string => (v === null || v === undefined || v < 0 ? '—' : v.toFixed(4));
  const vs = r.candidates.find((x) => x.accuracy?.detection)?.accuracy?.detection?.mode === 'reference' ? ' (vs original)' : '';
  blocks.push({
    kind: 'table',
    head: [
      'candidate',
      'steps',
      'state',
      'p50 ms',
      ...(detector ? ['FPS', ...(text ? [`hmean${vs}`] : []), `mAP@.5${vs}`, `mAP@.5:.95${vs}`] : []),
      'speed-up',
      `accuracy drop${intervalsShown(r) ? ` [${pctText(r.settings.confidence)} interval]` : ''}`,
      ...(showAgreement ? ['agreement with the original'] : []),
      'size',
      'smaller',
      'peak RSS',
      'mJ/inf',
      'front',
      'notes',
    ],
    align: ['l', 'l', 'l', 'r', ...(detector ? (Array(text ? 4 : 3).fill('r') as Array<'r'>) : []), 'r', 'r', ...(showAgreement ? (['r'] as const) : []), 'r', 'r', 'r', 'r', 'l', 'l'],
    rows: r.candidates.map((x) => [
      x.id === r.chosen ? `${x.id} ★` : x.id,
      x.steps.length ? x.steps.map((s) => s.method).join(' → ') : 'original',
      stateOf(x) + (x.collapsed.length ? ' (collapsed)' : '') + (x.resumed ? ' (stored)' : ''),
      x.latencyMs !== null ? fmtMs(x.latencyMs) + (latencyCi(x) ? ` [${fmtMs(latencyCi(x)![0])}, ${fmtMs(latencyCi(x)![1])}]` : '') : '—',
      ...(detector
        ? [x.latencyMs ? (1000 / x.latencyMs).toFixed(1) : '—', ...(text ? [fig(x.accuracy?.detection?.hmean)] : []), fig(x.accuracy?.detection?.map50), fig(x.accuracy?.detection?.map5095)]
        : []),
      x.speedup !== null ? `${x.speedup.toFixed(2)}×` : '—',
      x.accuracyDrop !== null ? fmtDropWithInterval(x.accuracyDrop, dropCi(x)) : '—',
      ...(showAgreement ? [agreementText(x)] : []),
      x.sizeBytes !== null ? fmtSize(x.sizeBytes) : '—',
      x.sizeRatio !== null ? `${x.sizeRatio.toFixed(2)}×` : '—',
      x.peakRssBytes !== null ? fmtSize(x.peakRssBytes) : '—',
      x.joulesPerInference !== null ? fmtMj(x.joulesPerInference) + (x.energyMethod === 'estimated' ? ' (est.)' : '') : '—',
      x.pareto ? 'yes' : '',
      noteFor(x),
    ]),
  });
  if (r.candidates.some((x) => x.accuracyDrop !== null)) blocks.push({ kind: 'paragraph', text: DROP_MEANING });
  const lost = r.candidates.filter((x) => x.dominatedBy !== null);
  if (lost.length) {
    blocks.push({ kind: 'heading', level: 2, text: 'Why each dominated candidate lost' });
    blocks.push({ kind: 'list', items: lost.map((x) => `${x.id}: ${x.whyLost}`) });
  }
  const missed = r.candidates.filter((x) => x.violations.length > 0);
  if (missed.length) {
    blocks.push({ kind: 'heading', level: 2, text: 'Candidates that miss a constraint' });
    blocks.push({ kind: 'list', items: missed.map((x) => `${x.id}: ${x.violations.join('; ')}`) });
  }
  const noise = r.candidates.filter((x) => x.indistinguishableFrom.length > 0);
  if (noise.length) {
    blocks.push({ kind: 'heading', level: 2, text: 'Latencies not distinguishable on this device' });
    blocks.push({
      kind: 'paragraph',
      text: `The ${pctText(r.settings.confidence)} intervals of these candidates' p50 latencies overlap: none of them is ranked as faster than the others it is listed with.`,
    });
    blocks.push({ kind: 'list', items: noise.map((x) => `${x.id} (p50 ${latencyText(x)}): not distinguishable from ${x.indistinguishableFrom.join(', ')}`) });
  }
  const dropped = r.candidates.filter((x) => stateOf(x) !== 'done');
  if (dropped.length) {
    blocks.push({ kind: 'heading', level: 2, text: 'Failed, rejected and skipped candidates' });
    blocks.push({ kind: 'list', items: dropped.map((x) => `${x.id} (${stateOf(x)}): ${droppedReason(x)}`) });
  }
  if (r.notTried.length) {
    blocks.push({ kind: 'heading', level: 2, text: 'Not tried' });
    blocks.push({ kind: 'list', items: r.notTried.map((n) => `${n.id}: ${n.reason}`) });
  }
  blocks.push({ kind: 'heading', level: 2, text: "The plan's reasons" });
  blocks.push({ kind: 'list', items: r.plan.reasons });
  if (r.notes.length) {
    blocks.push({ kind: 'heading', level: 2, text: 'Notes' });
    blocks.push({ kind: 'list', items: r.notes });
  }
  return blocks;
}

function axisName(axis: string): string {
  return axis === 'latencyMs' ? 'p50 latency' : axis === 'accuracyDropPp' ? 'accuracy drop' : axis === 'sizeBytes' ? 'size' : 'energy per inference';
}

/** How to read the sign of a drop (the chart's axis and the table say it). */
const BETTER_BELOW_ZERO = 'below 0: better than the original';
const DROP_MEANING =
  "Accuracy drop = the original's figure − the candidate's, in percentage points: a negative drop means the candidate scored better than the original on these samples (whether by more than chance, its interval says).";

/** Agreement is shown beside a labelled (top-1) accuracy when some candidate has it. */
function agreementShown(r: TuneResult): boolean {
  return r.settings.accuracyMetric === 'top1' && r.candidates.some((x) => agreementOf(x) !== null);
}

function agreementOf(x: TuneCandidateJson): number | null {
  return x.accuracy?.agreement ?? null;
}

/** "99.22 %" (share of samples where the candidate's top-1 class is the original's), or "—". */
function agreementText(x: TuneCandidateJson): string {
  const a = agreementOf(x);
  return a === null ? '—' : `${(a * 100).toFixed(2)} %`;
}

const CALIBRATION_WARNING = 'accuracy judged on calibration data (--no-holdout): the figures are optimistic';

/** "95 %" (as few decimals as needed). */
function pctText(confidence: number): string {
  return `${Number((confidence * 100).toFixed(1))} %`;
}

/** Whether the tune computed intervals (confidence 0: point estimates only). */
function intervalsShown(r: TuneResult): boolean {
  return r.settings.confidence > 0 && r.candidates.some((x) => dropCi(x) !== null || latencyCi(x) !== null);
}

/** The drop's interval, when the tune computed one (none of zero width: the baseline's). */
function dropCi(x: TuneCandidateJson): readonly [number, number] | null {
  const a = x.accuracy;
  return a && a.confidence > 0 && Number.isFinite(a.ci[0]) && Number.isFinite(a.ci[1]) && a.ci[1] > a.ci[0] ? a.ci : null;
}

function latencyCi(x: TuneCandidateJson): readonly [number, number] | null {
  const ci = x.latencyCiMs;
  return ci && Number.isFinite(ci[0]) && Number.isFinite(ci[1]) && ci[1] > ci[0] ? ci : null;
}

/** "4.00 ms [3.70, 4.30]". */
function latencyText(x: TuneCandidateJson): string {
  if (x.latencyMs === null) return '—';
  const ci = latencyCi(x);
  return `${fmtMs(x.latencyMs)} ms${ci ? ` [${fmtMs(ci[0])}, ${fmtMs(ci[1])}]` : ''}`;
}

/** A candidate whose outputs collapsed is shown as rejected whatever its stored state. */
function stateOf(x: TuneCandidateJson): string {
  return x.collapsed.length > 0 && x.state === 'done' ? 'rejected' : x.state;
}

function collapsedText(x: TuneCandidateJson): string {
  return `outputs collapsed: ${x.collapsed.join('; ')}`;
}

function droppedReason(x: TuneCandidateJson): string {
  const reason = x.reason ?? '';
  if (x.collapsed.length === 0 || x.collapsed.every((f) => reason.includes(f))) return reason;
  return reason ? `${reason}; ${collapsedText(x)}` : collapsedText(x);
}

/** "judged on 256 validation samples (held out of /data: 768 fit, 256 validation, seed 7, stratified); 95 % intervals". */
function judgedText(r: TuneResult): string | null {
  const s = r.settings;
  if (s.judgedOn === null) return null;
  const counts = [...new Set(r.candidates.map((x) => x.accuracy?.samples).filter((n): n is number => n !== undefined))].sort((a, b) => a - b);
  const n = counts.length === 0 ? null : counts.length === 1 ? `${counts[0]}` : `${counts[0]}–${counts[counts.length - 1]}`;
  let text: string;
  if (s.judgedOn === 'validation') {
    const where = s.validationDataDir
      ? ` in ${s.validationDataDir}`
      : s.split
        ? ` (held out of ${s.split.sourceDir}: ${s.split.fit.samples} fit, ${s.split.validation.samples} validation, seed ${s.split.seed}${s.split.stratified ? ', stratified' : ''})`
        : '';
    text = `judged on ${n ?? ''}${n ? ' ' : ''}validation samples${where}`;
  } else if (s.judgedOn === 'calibration') {
    text = `judged on calibration data${n ? ` (${n} samples the candidates were fitted to)` : ''}: ${CALIBRATION_WARNING}`;
  } else {
    text = `judged on ${n ? `${n} ` : ''}synthesized inputs (no data given)`;
  }
  return `${text}; ${s.confidence > 0 ? `${pctText(s.confidence)} intervals` : 'point estimates only (--confidence 0)'}`;
}

function chosenSummary(x: TuneCandidateJson): string {
  const parts: string[] = [];
  if (x.latencyMs !== null) parts.push(`p50 ${latencyText(x)}${x.speedup !== null ? ` (${x.speedup.toFixed(2)}× the original's speed)` : ''}`);
  if (x.sizeBytes !== null) parts.push(`${fmtSize(x.sizeBytes)}${x.sizeRatio !== null ? ` (${x.sizeRatio.toFixed(2)}× smaller)` : ''}`);
  if (x.accuracyDrop !== null) parts.push(`accuracy drop ${fmtDropWithInterval(x.accuracyDrop, dropCi(x))}${x.accuracyDrop < 0 ? ' (better than the original)' : ''}`);
  if (x.accuracy?.metric === 'top1' && agreementOf(x) !== null) parts.push(`agreement with the original ${agreementText(x)}`);
  return parts.join(', ');
}

function noteFor(x: TuneCandidateJson): string {
  const warning = x.suspect ? [`warning: suspect, ${x.suspect}`] : [];
  const noise = x.indistinguishableFrom.length ? [`p50 not distinguishable from ${x.indistinguishableFrom.join(', ')}`] : [];
  return [...warning, baseNote(x), ...noise].filter((t) => t !== '').join('; ');
}

function baseNote(x: TuneCandidateJson): string {
  if (x.collapsed.length) return droppedReason(x);
  if (x.state !== 'done') return x.reason ?? '';
  if (x.violations.length) return `misses ${x.violations.join('; ')}`;
  if (x.dominatedBy) return `dominated by ${x.dominatedBy}`;
  if (x.slowerThanBaseline) return `quantized, not faster than fp32 here; ${x.note}`;
  return x.note;
}

function mdCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function toMarkdown(blocks: Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading':
        out.push(`${'#'.repeat(b.level)} ${b.text}`, '');
        break;
      case 'facts':
        out.push(...b.rows.map(([k, v]) => `- **${k}**: ${v}`), '');
        break;
      case 'list':
        out.push(...b.items.map((i) => `- ${i.replace(/\n/g, ' ')}`), '');
        break;
      case 'paragraph':
        out.push(b.text, '');
        break;
      case 'table':
        out.push(`| ${b.head.map(mdCell).join(' | ')} |`);
        out.push(`| ${b.align.map((a) => (a === 'r' ? '---:' : '---')).join(' | ')} |`);
        for (const row of b.rows) out.push(`| ${row.map(mdCell).join(' | ')} |`);
        out.push('');
        break;
      case 'svg':
        // Inline SVG in an HTML block (CommonMark type 7 block: starts with a tag, ends at a blank line).
        out.push(`<div class="pareto">${b.svg}</div>`, '');
        break;
    }
  }
  return out.join('\n');
}

const CSS = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dl.facts dt { font-weight: bold; } dl.facts dd { margin: 0; }
table { border-collapse: collapse; font-size: .85rem; } th, td { border-bottom: 1px solid #ddd; padding: .3rem .5rem; vertical-align: top; }
th { background: #f4f4f4; text-align: left; } td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }
.chart { margin: 1rem 0; }
`;

function inlineMarkdown(text: string): string {
  return escapeXml(text).replace(/\*\*(.+?)\*\*/g, '<strong>$1</strong>');
}

function toHtml(blocks: Block[]): string {
  const title = blocks.find((b): b is Extract<Block, { kind: 'heading' }> => b.kind === 'heading')?.text ?? 'edgetune tune';
  const body: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading':
        body.push(`<h${b.level}>${escapeXml(b.text)}</h${b.level}>`);
        break;
      case 'facts':
        body.push(`<dl class="facts">${b.rows.map(([k, v]) => `<dt>${escapeXml(k)}</dt><dd>${inlineMarkdown(v)}</dd>`).join('')}</dl>`);
        break;
      case 'list':
        body.push(`<ul>${b.items.map((i) => `<li>${escapeXml(i)}</li>`).join('')}</ul>`);
        break;
      case 'paragraph':
        body.push(`<p>${escapeXml(b.text)}</p>`);
        break;
      case 'table': {
        const cls = (i: number): string => (b.align[i] === 'r' ? ' class="r"' : '');
        const head = `<tr>${b.head.map((h, i) => `<th${cls(i)}>${escapeXml(h)}</th>`).join('')}</tr>`;
        const rows = b.rows.map((row) => `<tr>${row.map((cell, i) => `<td${cls(i)}>${escapeXml(cell)}</td>`).join('')}</tr>`).join('\n');
        body.push(`<table class="candidates">\n${head}\n${rows}\n</table>`);
        break;
      }
      case 'svg':
        body.push(`<div class="chart">${b.svg}</div>`);
        break;
    }
  }
  return `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>${escapeXml(title)}</title>\n<style>${CSS}</style>\n</head>\n<body>\n${body.join('\n')}\n</body>\n</html>\n`;
}
