/**
 * The HTML report in a real browser: Debian's chromium (package `chromium`, /usr/bin/chromium) renders a real
 * tune's report headless; the chart's SVG elements must be laid out where the data puts them and the screenshot
 * must show them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { tuneModel } from '../../../src/tune/tune-model.js';
import type { TuneResult } from '../../../src/tune/tune-types.js';
import { CHART_SIZE } from '../../../src/tune/pareto-chart.js';
import { decodePng } from './png-decode.js';

const CHROMIUM = '/usr/bin/chromium';
/** Both runs use the same window width, so that the measured layout is the screenshot's. */
const WIDTH = 1200;
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`report-chromium.test.ts: ${CHROMIUM} is absent (apt-get install chromium): the browser rendering test is skipped`);

interface Layout {
  svg: { x: number; y: number; w: number; h: number };
  marks: Array<{ id: string; cls: string; x: number; y: number; w: number; h: number }>;
  ring: { x: number; y: number; w: number; h: number } | null;
  labels: Array<{ id: string; w: number; h: number }>;
}

function chromium(dir: string, args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--force-device-scale-factor=1', `--user-data-dir=${join(dir, 'chrome-profile')}`, ...args], {
    encoding: 'utf8',
    timeout: 90_000,
  });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

// The page measures its own chart after layout and writes the boxes into the DOM, which --dump-dom prints.
const MEASURE = `<script>
addEventListener('load', () => {
  const box = (e) => { const r = e.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height }; };
  const svg = document.getElementById('pareto-chart');
  const ring = svg.querySelector('circle.chosen-ring');
  const layout = {
    svg: box(svg),
    marks: [...svg.querySelectorAll('circle.candidate')].map((c) => ({ id: c.dataset.id, cls: c.getAttribute('class'), ...box(c) })),
    ring: ring ? box(ring) : null,
    labels: [...svg.querySelectorAll('text.label')].map((t) => { const b = t.getBBox(); return { id: t.dataset.id, w: b.width, h: b.height }; }),
  };
  const pre = document.createElement('pre');
  pre.id = 'layout';
  pre.textContent = JSON.stringify(layout);
  document.body.appendChild(pre);
});
</script>`;

describe.skipIf(!haveChromium)('the HTML report renders its Pareto chart in headless chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-report-chromium-'));
  const reportPath = join(dir, 'report.html');
  let result: TuneResult;
  let layout: Layout;

  beforeAll(async () => {
    result = await tuneModel({
      modelPath: 'test/fixtures/models/mnist-mlp.onnx',
      dataDir: 'test/fixtures/data/mnist-test-flat',
      calibrationDataDir: 'test/fixtures/data/mnist-calib-flat',
      workDir: join(dir, 'work'),
      only: ['int8-dyn', 'int4', 'fp16'],
      constraints: { maxAccuracyDropPp: 1 },
      // --objective size: the chosen one is the smallest front member whatever the latency noise (under latency, a
      // quantized candidate whose p50 interval overlaps fp32's is not eligible, and fp32 — off the front — may win).
      objective: 'size',
      profile: { iterations: 10, warmup: 2, energy: 'off' },
      reportPath,
    });
    const measured = join(dir, 'measured.html');
    writeFileSync(measured, readFileSync(reportPath, 'utf8').replace('</body>', `${MEASURE}</body>`));
    const dump = chromium(dir, [`--window-size=${WIDTH},1400`, '--virtual-time-budget=5000', '--dump-dom', pathToFileURL(measured).href]);
    const m = /<pre id="layout">([^<]*)<\/pre>/.exec(dump.stdout);
    if (!m) throw new Error(`chromium printed no layout (status ${dump.status}): ${dump.stderr.slice(-600)}`);
    layout = JSON.parse(m[1]!.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')) as Layout;
  }, 180_000);

  it('lays the chart out at its size with one visible marker per profiled candidate, inside it', () => {
    expect(layout.svg.w).toBeCloseTo(CHART_SIZE.width, 0);
    expect(layout.svg.h).toBeCloseTo(CHART_SIZE.height, 0);
    const profiled = result.candidates.filter((c) => c.state === 'done');
    expect(profiled.length).toBeGreaterThanOrEqual(2);
    expect(layout.marks.map((m) => m.id).sort()).toEqual(profiled.map((c) => c.id).sort());
    for (const mark of layout.marks) {
      expect(mark.w).toBeGreaterThan(8);
      expect(mark.x).toBeGreaterThanOrEqual(layout.svg.x);
      expect(mark.y).toBeGreaterThanOrEqual(layout.svg.y);
      expect(mark.x + mark.w).toBeLessThanOrEqual(layout.svg.x + layout.svg.w);
      expect(mark.y + mark.h).toBeLessThanOrEqual(layout.svg.y + layout.svg.h);
    }
    // Left to right in latency order; the largest file has the largest marker.
    const centreX = (id: string): number => {
      const m = layout.marks.find((k) => k.id === id)!;
      return m.x + m.w / 2;
    };
    const byLatency = [...profiled].sort((a, b) => a.latencyMs! - b.latencyMs!).map((c) => c.id);
    const byX = [...profiled].sort((a, b) => centreX(a.id) - centreX(b.id)).map((c) => c.id);
    expect(byX).toEqual(byLatency);
    const biggest = [...profiled].sort((a, b) => b.sizeBytes! - a.sizeBytes!)[0]!;
    const widest = [...layout.marks].sort((a, b) => b.w - a.w)[0]!;
    expect(widest.id).toBe(biggest.id);
    // Labels were rendered with a font (non-empty boxes).
    expect(layout.labels.length).toBeGreaterThan(0);
    for (const l of layout.labels) expect(l.w).toBeGreaterThan(10);
  });

  it('the screenshot shows the chart: ink in the plot, the chosen marker ringed and filled in the front colour', () => {
    expect(result.chosen).not.toBeNull();
    expect(layout.ring).not.toBeNull();
    const shotPath = join(dir, 'shot.png');
    const height = Math.ceil(layout.svg.y + layout.svg.h + 40);
    const shot = chromium(dir, [`--window-size=${WIDTH},${height}`, `--screenshot=${shotPath}`, pathToFileURL(reportPath).href]);
    expect(existsSync(shotPath), shot.stderr.slice(-600)).toBe(true);
    const png = decodePng(readFileSync(shotPath));
    expect(png.width).toBe(WIDTH);
    const px = (x: number, y: number): [number, number, number] => {
      const i = (Math.round(y) * png.width + Math.round(x)) * 4;
      return [png.rgba[i]!, png.rgba[i + 1]!, png.rgba[i + 2]!];
    };
    let ink = 0;
    let total = 0;
    for (let y = Math.ceil(layout.svg.y); y < layout.svg.y + layout.svg.h; y += 2) {
      for (let x = Math.ceil(layout.svg.x); x < layout.svg.x + layout.svg.w; x += 2) {
        total++;
        const [r, g, b] = px(x, y);
        if (r + g + b < 3 * 235) ink++;
      }
    }
    expect(ink / total).toBeGreaterThan(0.01); // grid, axes, markers and text
    expect(ink / total).toBeLessThan(0.6); // not a blank or solid block
    const chosen = layout.marks.find((m) => m.id === result.chosen)!;
    expect(chosen.cls).toBe('candidate front');
    const [r, g, b] = px(chosen.x + chosen.w / 2, chosen.y + chosen.h / 2);
    expect(b).toBeGreaterThan(r + 40); // #1f77b4 at 70 % over white
    expect(b).toBeGreaterThan(g);
    // The ring around it is dark.
    const ring = layout.ring!;
    // (Its box is the geometry: the 2.5 px stroke is centred on the left edge; take the darkest pixel across it.)
    const across = [-2, -1, 0, 1, 2].map((dx) => px(ring.x + dx, ring.y + ring.h / 2).reduce((s, v) => s + v, 0));
    expect(Math.min(...across)).toBeLessThan(3 * 100);
  });
});
