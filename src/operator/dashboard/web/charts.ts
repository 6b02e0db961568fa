/** The dashboard's charts: Chart.js, only the parts used (tree-shaken by esbuild). */
import { Chart, Legend, LinearScale, LineController, LineElement, PointElement, ScatterController, Tooltip, type ChartDataset, type TooltipModel } from 'chart.js';

Chart.register(ScatterController, LineController, LinearScale, PointElement, LineElement, Tooltip, Legend);

/** A tune candidate as the Model page's JSON carries it. */
export interface ChartCandidate {
  id: string;
  methods: string[];
  latencyMs: number | null;
  sizeBytes: number | null;
  accuracyDrop: number | null;
  accuracyCi: [number, number] | null;
  judgedOn: string | null;
  pareto: boolean;
  chosen: boolean;
}

type Point = { x: number; y: number; c: ChartCandidate };

/**
 * An HTML tooltip beside the canvas (Chart.js `external`): readable text, selectable, and there for a screen reader
 * or a test to read, where Chart.js's own tooltip is pixels on the canvas.
 */
function htmlTooltip(linesOf: (raw: unknown) => string[]) {
  return (context: { chart: Chart; tooltip: TooltipModel<any> }): void => {
    const { chart, tooltip } = context;
    const parent = chart.canvas.parentElement;
    if (!parent) return;
    let el = parent.querySelector<HTMLElement>('.chart-tip');
    if (!el) {
      el = document.createElement('div');
      el.className = 'chart-tip';
      el.setAttribute('role', 'tooltip');
      parent.append(el);
    }
    const first = tooltip.dataPoints?.[0];
    if (tooltip.opacity === 0 || !first) {
      el.hidden = true;
      return;
    }
    el.replaceChildren(
      ...linesOf(first.raw).map((line, i) => {
        const div = document.createElement(i === 0 ? 'strong' : 'div');
        div.textContent = line;
        return div;
      }),
    );
    el.hidden = false;
    const left = Math.min(Math.max(tooltip.caretX, 90), parent.clientWidth - 90);
    el.style.left = `${left}px`;
    el.style.top = `${tooltip.caretY}px`;
  };
}

function fmtBytes(v: number | null): string {
  if (v === null) return '-';
  if (v >= 1024 * 1024) return `${(v / (1024 * 1024)).toFixed(2)} MiB`;
  if (v >= 1024) return `${(v / 1024).toFixed(1)} KiB`;
  return `${v} B`;
}

/** The accuracy drop with its interval, e.g. `0.40 pp [0.10, 0.90]`. */
export function fmtDrop(c: { accuracyDrop: number | null; accuracyCi: [number, number] | null; judgedOn: string | null }): string {
  if (c.accuracyDrop === null) return 'accuracy drop: not measured';
  const ci = c.accuracyCi ? ` [${c.accuracyCi[0].toFixed(2)}, ${c.accuracyCi[1].toFixed(2)}]` : '';
  return `accuracy drop ${c.accuracyDrop.toFixed(2)} pp${ci}${c.judgedOn ? `, judged on ${c.judgedOn} data` : ''}`;
}

/** The lines of a candidate's tooltip: methods, latency, size, accuracy drop with its interval. */
export function candidateLines(c: ChartCandidate): string[] {
  return [
    `${c.id}${c.chosen ? ' (chosen)' : ''}${c.pareto ? ' · Pareto front' : ''}`,
    `methods: ${c.methods.length > 0 ? c.methods.join(' + ') : 'none (original)'}`,
    `p50 latency ${c.latencyMs === null ? '-' : `${c.latencyMs.toFixed(3)} ms`}`,
    `size ${fmtBytes(c.sizeBytes)}`,
    fmtDrop(c),
  ];
}

/** A tune's candidates as a latency × size scatter, the Pareto front joined, the chosen one larger; hover explains. */
export function tuneChart(canvas: HTMLCanvasElement, candidates: ChartCandidate[]): Chart<'scatter', Point[]> {
  const pts = (list: ChartCandidate[]): Point[] =>
    list.filter((c) => c.latencyMs !== null && c.sizeBytes !== null).map((c) => ({ x: c.latencyMs as number, y: (c.sizeBytes as number) / 1024, c }));
  const front = pts(candidates.filter((c) => c.pareto)).sort((a, b) => a.x - b.x);
  const datasets: ChartDataset<'scatter', Point[]>[] = [
    { label: 'other candidates', data: pts(candidates.filter((c) => !c.pareto && !c.chosen)), backgroundColor: '#9aa4b1', pointRadius: 5, pointHoverRadius: 8 },
    // The tune's front is over every objective (latency, size, memory, energy, accuracy), so its members are marked, not
    // joined: in this latency × size plane some of them lie behind others.
    { label: 'Pareto front (all objectives)', data: front, backgroundColor: '#2a6fdb', pointRadius: 6, pointHoverRadius: 9 },
    { label: 'chosen', data: pts(candidates.filter((c) => c.chosen)), backgroundColor: '#e0602b', pointStyle: 'rectRot', pointRadius: 10, pointHoverRadius: 13 },
  ];
  return new Chart<'scatter', Point[]>(canvas, {
    type: 'scatter',
    data: { datasets },
    // where the chosen candidate is drawn (CSS pixels in the canvas, after every layout), for scripts and tests
    plugins: [
      {
        id: 'chosen-at',
        afterDraw: (chart) => {
          const point = chart.getDatasetMeta(2).data[0];
          if (point) canvas.dataset.chosenAt = `${Math.round(point.x)},${Math.round(point.y)}`;
        },
      },
    ],
    options: {
      animation: false,
      maintainAspectRatio: false,
      interaction: { mode: 'nearest', intersect: false, axis: 'xy' },
      scales: {
        x: { title: { display: true, text: 'p50 latency (ms)' } },
        y: { title: { display: true, text: 'size (KiB)' } },
      },
      plugins: {
        legend: { position: 'bottom' },
        tooltip: { enabled: false, external: htmlTooltip((raw) => candidateLines((raw as Point).c)) },
      },
    },
  });
}

/** A point of a device's latency history. */
export interface LatencyPoint {
  t: number;
  p50: number;
  label: string[];
}

/** A device's p50 latency over time (x: minutes, hours or days before now, by the span), one point per report. */
export function latencyChart(canvas: HTMLCanvasElement, points: LatencyPoint[]): Chart<'line', Array<{ x: number; y: number; p: LatencyPoint }>> {
  const now = Date.now();
  const span = now - Math.min(...points.map((p) => p.t));
  const [unitMs, unit] = span < 2 * 3_600_000 ? [60_000, 'minutes ago'] : span < 72 * 3_600_000 ? [3_600_000, 'hours ago'] : [86_400_000, 'days ago'];
  const data = points.map((p) => ({ x: (p.t - now) / unitMs, y: p.p50, p }));
  return new Chart(canvas, {
    type: 'line',
    data: { datasets: [{ label: 'p50 latency (ms)', data, borderColor: '#2a6fdb', backgroundColor: '#2a6fdb', pointRadius: 4, tension: 0 }] },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      scales: {
        x: { type: 'linear', title: { display: true, text: unit }, ticks: { callback: (v: string | number) => `${Number(Math.abs(Number(v)).toFixed(1))}` } },
        y: { title: { display: true, text: 'p50 ms' }, beginAtZero: true },
      },
      plugins: { legend: { display: false }, tooltip: { enabled: false, external: htmlTooltip((raw) => (raw as { p: LatencyPoint }).p.label) } },
    },
  });
}
