import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../../..');
const BIN = join(REPO, 'bin/edgetune.js');
const SYSROOTS = join(REPO, 'test/fixtures/sysroots');
const MODELS = join(REPO, 'test/fixtures/models');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `node bin/edgetune.js ARGS` (the test script builds dist/ first). */
function cli(args: string[]): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO, encoding: 'utf8', timeout: 60_000, env: { ...process.env, FORCE_COLOR: '0' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(args: string[]): Record<string, any> {
  const r = cli([...args, '--json']);
  expect(r.status, r.stderr).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as Record<string, any>;
}

/** lscpu's JSON (util-linux): [{ field, data, children? }], flattened to field → data. */
function lscpuFields(): Record<string, string> | null {
  const r = spawnSync('lscpu', ['-J'], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const out: Record<string, string> = {};
  const walk = (entries: Array<{ field: string; data: string; children?: unknown[] }>): void => {
    for (const e of entries) {
      out[e.field.replace(/:$/, '')] = e.data;
      if (Array.isArray(e.children)) walk(e.children as typeof entries);
    }
  };
  walk((JSON.parse(r.stdout) as { lscpu: Array<{ field: string; data: string }> }).lscpu);
  return out;
}

/** lscpu -C: per cache, one instance's size and the total across instances, in bytes. */
function lscpuCaches(): Map<string, { one: number; all: number }> | null {
  const r = spawnSync('lscpu', ['-C', '-B', '-J'], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const caches = (JSON.parse(r.stdout) as { caches: Array<{ name: string; 'one-size': string; 'all-size': string }> }).caches;
  return new Map(caches.map((c) => [c.name, { one: Number(c['one-size']), all: Number(c['all-size']) }]));
}

const lscpu = lscpuFields();

describe('edgetune hw on this machine', () => {
  it.skipIf(lscpu === null)('reports what lscpu reports: model, CPUs, cores, flags, cache sizes', () => {
    const hw = json(['hw']);
    const l = lscpu!;
    expect(hw.cpu.arch).toBe(l.Architecture);
    if (l['Model name'] && hw.cpu.implementer === null) expect(hw.cpu.model).toBe(l['Model name']);
    if (l['Vendor ID']) expect(hw.cpu.vendor === l['Vendor ID'] || hw.cpu.vendor === 'ARM').toBe(true);
    const online = l['On-line CPU(s) list']!.split(',').reduce((n, part) => {
      const [a, b] = part.split('-').map(Number);
      return n + (b === undefined ? 1 : b - a! + 1);
    }, 0);
    expect(hw.cpu.cores).toBe(online);
    expect(hw.cpu.threadsPerCore).toBe(Number(l['Thread(s) per core']));
    const sockets = Number(l['Socket(s)'] ?? 1);
    const perSocket = Number(l['Core(s) per socket'] ?? l['Core(s) per cluster']);
    expect(hw.cpu.physicalCores).toBe(perSocket * sockets);
    expect(new Set(hw.cpu.flags)).toEqual(new Set(l.Flags!.split(/\s+/).filter(Boolean)));

    // Cache sizes: edgetune reports one instance (per core where private); lscpu's summary is the total across
    // instances, so compare with `lscpu -C` per-instance and total sizes.
    const caches = lscpuCaches();
    expect(caches).not.toBeNull();
    const ours = new Map<string, { sizeBytes: number; instances: number }>();
    for (const lv of hw.caches.levels as Array<{ level: number; type: string; sizeBytes: number; instances: number }>) {
      const name = lv.level === 1 ? (lv.type === 'Data' ? 'L1d' : lv.type === 'Instruction' ? 'L1i' : 'L1') : `L${lv.level}`;
      ours.set(name, lv);
    }
    expect([...ours.keys()].sort()).toEqual([...caches!.keys()].sort());
    for (const [name, c] of caches!) {
      expect(ours.get(name)!.sizeBytes, name).toBe(c.one);
      expect(ours.get(name)!.sizeBytes * ours.get(name)!.instances, `${name} total`).toBe(c.all);
    }
    expect(hw.caches.l1d).toBe(caches!.get('L1d')?.one ?? null);
    expect(hw.caches.l2).toBe(caches!.get('L2')?.one ?? null);
    expect(hw.caches.l3).toBe(caches!.get('L3')?.one ?? null);
  });

  it('lists the execution providers onnxruntime-node offers and a matched profile with its reason', () => {
    const hw = json(['hw']);
    expect(hw.executionProviders).toEqual(expect.arrayContaining([{ name: 'cpu', bundled: true, libraryPresent: true }]));
    expect(typeof hw.profile).toBe('string');
    expect(hw.deviceProfile.name).toBe(hw.profile);
    expect(hw.profileMatch.reason.length).toBeGreaterThan(10);
    expect(hw.capabilities).toHaveProperty('int8Dot');
    expect(hw.memoryBytes).toBeGreaterThan(0);
  });

  it('prints a human summary without --json', () => {
    const r = cli(['hw']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^board /m);
    expect(r.stdout).toMatch(/^profile /m);
  });
});

describe('edgetune hw --sysroot', () => {
  const expected: Record<string, string> = {
    rpi4: 'pi4',
    rpi5: 'pi5',
    'jetson-nano': 'jetson-nano',
    'jetson-orin-nano': 'jetson-orin-nano',
    'x86-avx2': 'x86-avx2',
    'x86-avx512-vnni': 'x86-avx512-vnni',
  };
  it('matches each captured board to its profile, with SPEC fields', () => {
    for (const [tree, profile] of Object.entries(expected)) {
      const hw = json(['hw', '--sysroot', join(SYSROOTS, tree)]);
      expect(hw.profile, tree).toBe(profile);
      for (const key of ['board', 'cpu', 'caches', 'memoryBytes', 'accelerators', 'capabilities', 'profile', 'warnings']) expect(hw, `${tree}.${key}`).toHaveProperty(key);
      for (const key of ['model', 'cores', 'arch', 'flags']) expect(hw.cpu, `${tree}.cpu.${key}`).toHaveProperty(key);
      for (const key of ['int8Dot', 'fp16Arith', 'i8mm', 'bf16', 'vnni', 'avx2']) expect(hw.capabilities, `${tree}.capabilities.${key}`).toHaveProperty(key);
    }
  });

  it('garbled and empty trees give a partial result with warnings and exit 0', () => {
    for (const tree of ['garbled', 'missing-files']) {
      const hw = json(['hw', '--sysroot', join(SYSROOTS, tree)]);
      expect(hw.board).toBeNull();
      expect(hw.memoryBytes).toBeNull();
      expect(hw.capabilities.int8Dot).toBeNull();
      expect(hw.profileMatch.generic).toBe(true);
      expect(hw.warnings.length).toBeGreaterThan(3);
    }
  });

  it('a sysroot that is not a directory is bad input: exit 2, USAGE', () => {
    const r = cli(['hw', '--sysroot', join(SYSROOTS, 'no-such-tree'), '--json']);
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stdout).error.code).toBe('USAGE');
  });
});

describe('edgetune plan', () => {
  const model = join(MODELS, 'mnist-rescnn.onnx');
  const mlp = join(MODELS, 'mnist-mlp.onnx');

  it.skipIf(!existsSync(model))('prints the SPEC plan JSON for named profiles', () => {
    const want: Record<string, { precision: string; reduceRange: boolean }> = {
      pi4: { precision: 'fp32', reduceRange: false },
      pi5: { precision: 'int8', reduceRange: false },
      'jetson-nano': { precision: 'fp32', reduceRange: false },
      'jetson-orin-nano': { precision: 'int8', reduceRange: false },
      'x86-avx2': { precision: 'int8', reduceRange: true },
      'x86-avx512-vnni': { precision: 'int8', reduceRange: false },
    };
    for (const [profile, w] of Object.entries(want)) {
      const plan = json(['plan', model, '--profile', profile]);
      expect(plan.profile).toBe(profile);
      expect(plan.precision, profile).toBe(w.precision);
      expect(plan.reduceRange, profile).toBe(w.reduceRange);
      expect(plan.executionProvider).toBe('cpu');
      for (const key of ['weightType', 'activationType', 'perChannel', 'pruning', 'lowRank']) expect(plan, `${profile}.${key}`).toHaveProperty(key);
      expect(plan.reasons.length).toBeGreaterThan(2);
      expect(plan.reasons.every((r: unknown) => typeof r === 'string' && r.length > 0)).toBe(true);
    }
  });

  it.skipIf(!existsSync(mlp))('plans for this machine (its matched profile) and for a captured sysroot, with --target-cache', () => {
    const hw = json(['hw']);
    const here = json(['plan', mlp]);
    expect(here.profile).toBe(hw.profile);
    expect(here.basis.target).toBe('this-device');
    const pi4 = json(['plan', mlp, '--sysroot', join(SYSROOTS, 'rpi4'), '--target-cache', '256K']);
    expect(pi4.profile).toBe('pi4');
    expect(pi4.pruning).toMatchObject({ targetCache: 'bytes', targetBytes: 262144 });
    expect(pi4.pruning.ratio).toBeGreaterThan(0);
    expect(pi4.pruning.ratio).toBeLessThanOrEqual(0.5);
  });

  it('bad input exits 2 with the code named: bad model, missing model, bad --target-cache, unknown profile', () => {
    const cases: Array<[string[], string]> = [
      [['plan', join(REPO, 'package.json')], 'MODEL_INVALID'],
      [['plan', join(MODELS, 'no-such-model.onnx')], 'MODEL_INVALID'],
      [['plan', mlp, '--target-cache', 'l9'], 'USAGE'],
      [['plan', mlp, '--profile', 'pi9'], 'USAGE'],
    ];
    for (const [args, code] of cases) {
      const r = cli([...args, '--json']);
      expect(r.status, args.join(' ')).toBe(2);
      expect(JSON.parse(r.stdout.trim()).error.code, args.join(' ')).toBe(code);
      expect(r.stderr).toContain(`[${code}]`);
    }
  });
});
