/**
 * A sample of the ONNX fuzz cases through the real CLI (`node bin/edgetune.js`, built dist/): compress, eval and
 * profile. Each must exit 0 with a valid result, or exit 2 printing `message [CODE]` with a bad-input code (and
 * the same code in the `--json` error object), leaving no file in the output directory. `profile` runs the model
 * in a child process with limits, so a native crash there may also come back as a failed result (exit 1 with
 * CHILD_CRASHED / CHILD_OOM / CHILD_TIMEOUT) — never as a dead CLI or a hang.
 *
 * EDGETUNE_FUZZ_CLI_COUNT (default 30) sets the sample size; EDGETUNE_FUZZ_SEED the seed. Needs `npm run build`.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrtSession } from '../../src/profile/ort-session.js';
import { runCli } from '../integration/cli/cli-helpers.js';
import { prepareBases, type BaseId, type FuzzBase } from './fuzz/fuzz-bases.js';
import { describeTarget, makeCase, type FuzzCase } from './fuzz/fuzz-case.js';
import { fuzzSettings } from './fuzz/fuzz-settings.js';

const settings = fuzzSettings();
/** CLI cases use their own index range, so they are not copies of the in-process cases. */
const CLI_INDEX_BASE = 1_000_000;
const BAD_INPUT = new Set(['USAGE', 'MODEL_INVALID', 'MODEL_UNSUPPORTED', 'DATASET_INVALID', 'CONFIG_INVALID', 'SIGNATURE_INVALID', 'ARTIFACT_INVALID', 'JOB_INVALID', 'LIMIT_EXCEEDED']);
const CHILD_FAILURES = new Set(['CHILD_CRASHED', 'CHILD_OOM', 'CHILD_TIMEOUT']);
const METHODS = ['fp16', 'int4', 'int8-dynamic', 'int8'] as const;

type Command = 'compress' | 'eval' | 'profile';

let workDir: string;
let bases: Record<BaseId, FuzzBase>;

beforeAll(() => {
  if (!existsSync(join(process.cwd(), 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  workDir = mkdtempSync(join(tmpdir(), 'edgetune-fuzz-cli-'));
  bases = prepareBases(process.cwd(), join(workDir, 'bases'));
});
afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

function casesFor(command: Command): number[] {
  const commands: Command[] = ['compress', 'eval', 'profile'];
  return Array.from({ length: settings.cliCount }, (_, i) => i).filter((i) => commands[i % 3] === command).map((i) => CLI_INDEX_BASE + i);
}

function argsFor(command: Command, c: FuzzCase, base: FuzzBase, modelPath: string, outDir: string, i: number): string[] {
  if (command === 'compress') {
    const method = c.target.kind === 'compress' ? c.target.method : METHODS[i % METHODS.length]!;
    return ['compress', modelPath, '-o', join(outDir, 'out.onnx'), '--method', method, ...(method === 'int8' ? ['--data', base.fixtureDataDir] : []), '--json'];
  }
  if (command === 'eval') {
    const reference = c.target.kind === 'eval' && c.target.reference === 'original' ? ['--reference', base.path] : [];
    return ['eval', modelPath, '--data', base.fixtureDataDir, ...reference, '--json'];
  }
  return ['profile', modelPath, '--iterations', '3', '--warmup', '1', '--energy', 'off', '--time-limit-seconds', '60', '--memory-limit-mb', '1536', '--json'];
}

/** Run one case through the CLI; returns a finding, or null when the contract held. */
async function runCase(command: Command, index: number): Promise<{ finding: string | null; outcome: string }> {
  const c = makeCase(settings.seed, index, bases, settings.kind);
  const base = bases[c.baseId];
  const caseDir = join(workDir, `case-${index}`);
  const inDir = join(caseDir, 'in');
  const outDir = join(caseDir, 'out');
  mkdirSync(inDir, { recursive: true });
  mkdirSync(outDir, { recursive: true });
  const modelPath = join(inDir, 'model.onnx');
  writeFileSync(modelPath, c.mutation.bytes);
  const args = argsFor(command, c, base, modelPath, outDir, index);
  const what = `case ${index} [${c.baseId}, ${c.mutation.kind}: ${c.mutation.detail}; was ${describeTarget(c.target)}] edgetune ${args.slice(0, 1).join(' ')}`;
  const r = runCli(args, { timeoutMs: 180_000 });
  const leftIn = readdirSync(inDir).filter((f) => f !== 'model.onnx');
  const outFiles = readdirSync(outDir);
  const codeMatch = /\[([A-Z_]+)\]\s*$/m.exec(r.stderr);
  const stderrTail = r.stderr.trim().split('\n').slice(-3).join(' | ');
  try {
    if (leftIn.length > 0) return { finding: `${what}: wrote [${leftIn.join(', ')}] beside the input`, outcome: 'bug' };
    if (r.status === 2) {
      if (!codeMatch || !BAD_INPUT.has(codeMatch[1]!)) return { finding: `${what}: exit 2 without a bad-input [CODE] on stderr: ${stderrTail}`, outcome: 'bug' };
      const json = JSON.parse(r.stdout) as { error?: { code?: string; message?: string } };
      if (json.error?.code !== codeMatch[1] || !json.error?.message) return { finding: `${what}: --json error object ${r.stdout.trim()} does not match stderr ${codeMatch[1]}`, outcome: 'bug' };
      if (outFiles.length > 0) return { finding: `${what}: refused (${codeMatch[1]}) but left [${outFiles.join(', ')}] in the output directory`, outcome: 'bug' };
      return { finding: null, outcome: codeMatch[1]! };
    }
    if (r.status === 0) {
      const json = JSON.parse(r.stdout) as Record<string, any>;
      if (command === 'compress') {
        if (outFiles.join(',') !== 'out.onnx') return { finding: `${what}: exit 0 but the output directory holds [${outFiles.join(', ')}]`, outcome: 'bug' };
        try {
          const session = await createOrtSession(join(outDir, 'out.onnx'), { threads: 1 });
          await session.release();
        } catch (error) {
          return { finding: `${what}: exit 0 but onnxruntime refuses the output: ${error instanceof Error ? error.message : String(error)}`, outcome: 'bug' };
        }
        if (json.output?.bytes === undefined) return { finding: `${what}: exit 0 without the compress JSON`, outcome: 'bug' };
      } else if (command === 'eval') {
        if (!(json.samples > 0)) return { finding: `${what}: exit 0 with ${JSON.stringify(json).slice(0, 200)}`, outcome: 'bug' };
      } else if (!Number.isFinite(json.latencyMs?.p50)) return { finding: `${what}: exit 0 without a latency`, outcome: 'bug' };
      return { finding: null, outcome: 'ok' };
    }
    if (command === 'profile' && r.status === 1 && codeMatch && CHILD_FAILURES.has(codeMatch[1]!)) {
      // The profiling child died or hit a limit: a failed result, reported; the CLI itself is fine.
      return { finding: null, outcome: codeMatch[1]! };
    }
    return { finding: `${what}: exit ${r.status ?? 'killed (timeout)'}: ${stderrTail}`, outcome: 'bug' };
  } finally {
    rmSync(caseDir, { recursive: true, force: true });
  }
}

describe('ONNX fuzzing through the real CLI', () => {
  for (const command of ['compress', 'eval', 'profile'] as const) {
    const indices = casesFor(command);
    it(`${indices.length} mutated models through \`edgetune ${command}\` exit 0 with a valid result or 2 with a bad-input code`, async () => {
      const findings: string[] = [];
      const outcomes: Record<string, number> = {};
      for (const index of indices) {
        const { finding, outcome } = await runCase(command, index);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        if (finding) findings.push(finding);
      }
      console.log(`cli fuzz ${command}: ${JSON.stringify(outcomes)}`);
      expect(findings).toEqual([]);
    }, Math.max(120_000, indices.length * 60_000));
  }
});
