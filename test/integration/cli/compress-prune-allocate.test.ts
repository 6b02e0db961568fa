/**
 * compress --method prune --allocate sensitivity / --target-latency-ms on the residual CNN, through the built CLI and
 * real onnxruntime: the model is valid and runs, the report lists every group's width and why; bad input is exit 2
 * with nothing written. No timed assertions: the latency figures are only checked to be there.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from './cli-helpers.js';
import { evaluateModel } from '../../../src/compress/evaluate.js';
import { loadModelFile } from '../../../src/onnx/model-file.js';

const CNN = 'test/fixtures/models/mnist-rescnn.onnx';
const CALIB = 'test/fixtures/data/mnist-calib';
const TEST = 'test/fixtures/data/mnist-test';
const dir = tempDir('edgetune-prune-allocate-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Allocated {
  kept: number;
  channels: number;
  status: 'pruned' | 'unchanged' | 'left alone';
  reason: string;
}
interface Details {
  allocate: string;
  target: { kind: string };
  allocation: Allocated[];
  latency: { tableBaseMs: number; p50Ms: number; speedup: number; targetSpeedup: number | null };
  flops: { before: number; after: number; removedShare: number };
  sensitivity: { refitSamples: number; sets: string[] };
  latencyModel: { kind: string; msPerGflop: number; msPerMillionElements: number; measured: number; widths: number };
  table: Array<{ id: number; options: Array<{ kept: number; latencyMs: number; measuredLatencyMs: number; latencyCiMs: [number, number]; latencySource: string }> }>;
}

function compress(extra: string[], out: string): { status: number | null; report: { details: Details; notes: string[] } | null; stderr: string } {
  const r = runCli(['compress', CNN, '-o', out, '-m', 'prune', '--data', CALIB, '--val-data', TEST, '--json', ...extra], { timeoutMs: 300_000 });
  return { status: r.status, report: r.status === 0 ? JSON.parse(r.stdout) : null, stderr: r.stderr };
}

function checkGroups(details: Details, notes: string[]): void {
  expect(details.allocate).toBe('sensitivity');
  expect(details.allocation.length).toBeGreaterThan(0);
  for (const g of details.allocation) {
    expect(g.kept).toBeLessThanOrEqual(g.channels);
    expect(g.reason.length).toBeGreaterThan(0);
    if (g.status === 'pruned' && g.kept >= 8) expect(g.kept % 8).toBe(0);
    // every group's width is in the notes, with its reason
    expect(notes.some((n) => n.includes(`${g.kept}/${g.channels} — ${g.status}`))).toBe(true);
  }
  expect(details.allocation.some((g) => g.status === 'pruned')).toBe(true);
}

describe('prune --allocate sensitivity on the residual CNN', () => {
  let baseMs = 0;
  it('--ratio as a share of FLOPs: a valid model removing at least that share, widths and reasons listed', async () => {
    const out = join(dir, 'flops.onnx');
    const r = compress(['--allocate', 'sensitivity', '--ratio', '0.25'], out);
    expect(r.status, r.stderr).toBe(0);
    const { details, notes } = r.report!;
    expect(details.target.kind).toBe('flops');
    expect(details.flops.removedShare).toBeGreaterThanOrEqual(0.25 * 0.9);
    expect(details.latency.p50Ms).toBeGreaterThan(0);
    checkGroups(details, notes);
    // The table the allocator used: every width's measurement, its interval, and the fitted model's value within it.
    expect(details.latencyModel.kind).toBe('fitted');
    expect(details.latencyModel.msPerGflop).toBeGreaterThanOrEqual(0);
    expect(details.latencyModel.widths).toBe(details.table.reduce((n, g) => n + g.options.length, 0));
    for (const g of details.table) {
      for (const o of g.options) {
        expect(o.latencyCiMs[0]).toBeLessThanOrEqual(o.latencyCiMs[1]);
        expect(o.latencyMs).toBeGreaterThanOrEqual(o.latencyCiMs[0] - 1e-9);
        expect(o.latencyMs).toBeLessThanOrEqual(o.latencyCiMs[1] + 1e-9);
        expect(['fitted', 'measured']).toContain(o.latencySource);
        expect(o.measuredLatencyMs).toBeGreaterThan(0);
      }
    }
    expect(notes.some((n) => n.startsWith('latency table: ') && n.includes('ms per GFLOP'))).toBe(true);
    // Sensitivity judged after a next-layer refit fitted on other sets than the judged ones.
    expect(details.sensitivity.refitSamples).toBeGreaterThan(0);
    expect(notes.some((n) => n.startsWith('sensitivity: ') && n.includes('after a next-layer least-squares refit'))).toBe(true);
    baseMs = details.latency.tableBaseMs;
    const m = await evaluateModel(loadModelFile(out).model, TEST, { reference: loadModelFile(CNN).model, maxSets: 2, confidence: 0 });
    expect(m.agreement!).toBeGreaterThan(0.9);
  }, 300_000);

  it('--target-latency-ms: a valid model, the report lists the target, the measured latency and every group', async () => {
    expect(baseMs).toBeGreaterThan(0);
    const out = join(dir, 'latency.onnx');
    // The machine is shared: the unpruned latency measured by this run may be below the one of the run before. When
    // the command says the target is already met, it names the latency it measured; aim 15 % below that instead.
    let targetMs = baseMs * 0.85;
    let r = compress(['--target-latency-ms', targetMs.toFixed(4)], out);
    for (let attempt = 0; attempt < 3 && r.status === 2; attempt++) {
      const measured = /already runs in ([\d.]+) ms/.exec(r.stderr);
      if (!measured) break;
      targetMs = Number(measured[1]) * 0.85;
      r = compress(['--target-latency-ms', targetMs.toFixed(4)], out);
    }
    expect(r.status, r.stderr).toBe(0);
    const { details, notes } = r.report!;
    expect(details.target.kind).toBe('latency');
    expect(details.latency.speedup).toBeGreaterThan(0);
    // The speed-up asked for is the table's base over the target; the note sets it beside the measured one.
    expect(details.latency.targetSpeedup).toBeCloseTo(details.latency.tableBaseMs / Number(targetMs.toFixed(4)), 6);
    expect(notes.some((n) => n.includes(`asks for ${details.latency.targetSpeedup!.toFixed(2)}× over the unpruned model`) && n.includes(`measured ${details.latency.speedup.toFixed(2)}× in alternation`))).toBe(true);
    // Judged on --val-data: no warning that the fidelity figure is not held out (compress-fidelity-gate checks the other case).
    expect(notes.some((n) => n.startsWith('the fidelity above is not a held-out figure'))).toBe(false);
    checkGroups(details, notes);
    const m = await evaluateModel(loadModelFile(out).model, TEST, { reference: loadModelFile(CNN).model, maxSets: 2, confidence: 0 });
    expect(m.agreement!).toBeGreaterThan(0.8);
  }, 300_000);

  it('bad input: an impossible latency target, a ratio outside (0, 1), no --data, --target-cache → exit 2, nothing written', () => {
    const out = join(dir, 'bad.onnx');
    const cases: Array<{ args: string[]; message: RegExp; data?: boolean }> = [
      { args: ['--target-latency-ms', '0.00001'], message: /cannot be reached by pruning: the nearest reachable latency is .* \[USAGE\]/ },
      { args: ['--target-latency-ms', '-3'], message: /--target-latency-ms must be .* > 0/ },
      { args: ['--allocate', 'sensitivity', '--ratio', '1.5'], message: /--ratio must be in \(0, 1\)/ },
      { args: ['--allocate', 'uniform', '--target-latency-ms', '1'], message: /--target-latency-ms needs --allocate sensitivity/ },
      { args: ['--allocate', 'sensitivity', '--target-cache', 'l1'], message: /--target-cache sizes every group alike/ },
    ];
    for (const c of cases) {
      const r = runCli(['compress', CNN, '-o', out, '-m', 'prune', '--data', CALIB, ...c.args], { timeoutMs: 300_000 });
      expect(r.status, `${c.args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(c.message);
      expect(existsSync(out)).toBe(false);
    }
    const noData = runCli(['compress', CNN, '-o', out, '-m', 'prune', '--allocate', 'sensitivity', '--ratio', '0.2']);
    expect(noData.status).toBe(2);
    expect(noData.stderr).toMatch(/needs --data DIR/);
    expect(existsSync(out)).toBe(false);
  }, 600_000);
});
