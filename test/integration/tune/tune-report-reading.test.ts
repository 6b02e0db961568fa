/** Issue 20: the tune report says how to read a drop (below 0 = better than the original) and shows agreement beside top-1. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../cli/cli-helpers.js';
import type { TuneResult } from '../../../src/tune/tune-types.js';

// The CLI runs from dist/ (the test script builds it first).
const MLP = resolve('test/fixtures/models/mnist-mlp.onnx');
const TEST = resolve('test/fixtures/data/mnist-test-flat');
const CALIB = resolve('test/fixtures/data/mnist-calib-flat');

describe('edgetune tune: reading the accuracy drop (labelled data: top-1 and agreement)', () => {
  const dir = tempDir('edgetune-tune-reading-');
  const md = join(dir, 'report.md');
  const html = join(dir, 'report.html');
  let result: TuneResult;
  let text: string;
  beforeAll(() => {
    const args = ['tune', MLP, '--data', TEST, '--calib', CALIB, '--candidates', 'int8-dyn,fp16', '--iterations', '5', '--warmup', '1', '--energy', 'off', '--work-dir', join(dir, 'work')];
    const r = runCli([...args, '--report', md, '--json']);
    expect(r.status, r.stderr).toBe(0);
    result = JSON.parse(r.stdout) as TuneResult;
    expect(result.settings.accuracyMetric).toBe('top1');
    // The same tune again (from the store) for the text summary and the HTML report.
    const t = runCli([...args, '--report', html]);
    expect(t.status, t.stderr).toBe(0);
    text = t.stdout;
  });

  it('the chart says on the drop axis that below 0 is better than the original', () => {
    for (const file of [md, html]) expect(readFileSync(file, 'utf8')).toContain('>top-1 drop (pp; below 0: better than the original)</text>');
    const anyBelowZero = result.candidates.some((c) => c.accuracy !== null && c.accuracy.ci[0] < 0);
    expect(readFileSync(md, 'utf8').includes('<g class="zero-line">')).toBe(anyBelowZero);
  });

  it('the table shows agreement with the original beside the labelled drop, and says what a negative drop means', () => {
    const report = readFileSync(md, 'utf8');
    expect(report).toMatch(/^\| candidate \| steps \| state \| p50 ms \| speed-up \| accuracy drop \[95 % interval\] \| agreement with the original \| size \|/m);
    expect(report).toMatch(/^\| fp32( ★)? \| original \| done \| [^|]+ \| 1\.00× \| 0\.00 pp \| 100\.00 % \|/m);
    for (const c of result.candidates.filter((x) => x.id !== 'fp32')) {
      const a = c.accuracy!.agreement!;
      expect(a).toBeGreaterThan(0.9);
      expect(report).toMatch(new RegExp(`^\\| ${c.id}( ★)? \\|[^\\n]*\\| ${(a * 100).toFixed(2)} % \\|`, 'm'));
    }
    expect(report).toContain("Accuracy drop = the original's figure − the candidate's, in percentage points: a negative drop means the candidate scored better than the original");
    expect(report).toMatch(/agreement with the original \d+\.\d{2} %, \d/); // in the markers' tooltips
  });

  it('the text summary has an agree % column and the same reading of the sign', () => {
    expect(text).toMatch(/^candidate +state +p50 ms +speed-up +drop pp +interval pp +agree % +MiB/m);
    expect(text).toMatch(/^fp32( \*)? +done .* 0\.00 +— +100\.00 /m);
    expect(text).toContain("drop = the original's top1 − the candidate's: below 0 is better than the original; agree % = samples where the candidate gives the original's top-1 class");
  });
});
