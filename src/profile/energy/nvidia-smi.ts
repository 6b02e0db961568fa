/**
 * NVIDIA dGPU board power through `nvidia-smi --query-gpu=power.draw`. Covers the GPU board only (not the CPU
 * or the host); on Ampere and later (except GA100) `power.draw` is a one-second average.
 */
import type { EnergyProbe, SourceContext } from './energy-source.js';

const ARGS = ['--query-gpu=power.draw', '--format=csv,noheader,nounits'];

/** Parse nvidia-smi's one-value-per-GPU output; null entries where the driver says [N/A] or [Not Supported]. */
export function parseNvidiaSmiPower(text: string): Array<number | null> {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => {
      const v = Number(l);
      return /^[0-9.]+$/.test(l) && Number.isFinite(v) ? v : null;
    });
}

/** Probe nvidia-smi (absent on Jetson up to JetPack 6, which has no usable NVML). */
export async function probeNvidiaSmi(ctx: SourceContext): Promise<EnergyProbe> {
  const first = await ctx.run('nvidia-smi', ARGS, 5000);
  if (first.exitCode === null && /ENOENT/.test(first.error ?? '')) return { ok: false, id: 'nvidia-smi', reason: 'nvidia-smi is not installed (no NVIDIA driver)' };
  if (first.exitCode !== 0) {
    return { ok: false, id: 'nvidia-smi', reason: `nvidia-smi failed: ${(first.stderr || first.stdout || first.error || '').trim().slice(0, 160)}` };
  }
  const values = parseNvidiaSmiPower(first.stdout);
  if (values.length === 0 || values.some((v) => v === null)) {
    return { ok: false, id: 'nvidia-smi', reason: `nvidia-smi reports no power.draw for every GPU ('${first.stdout.trim().slice(0, 80)}')` };
  }
  return {
    ok: true,
    source: {
      id: 'nvidia-smi',
      method: 'measured',
      scope: `GPU board power (${values.length} GPU${values.length > 1 ? 's' : ''}; excludes CPU and host)`,
      samplePeriodMs: 200,
      detail: ['nvidia-smi --query-gpu=power.draw (Ampere+: 1 s average)'],
      async read() {
        const t0 = ctx.clock();
        const res = await ctx.run('nvidia-smi', ARGS, 5000);
        const tNs = (t0 + ctx.clock()) / 2n;
        const v = parseNvidiaSmiPower(res.stdout);
        if (res.exitCode !== 0 || v.length === 0 || v.some((x) => x === null)) throw new Error(`nvidia-smi power.draw failed: ${res.error ?? res.stderr}`);
        const rails: Record<string, number> = {};
        v.forEach((w, i) => (rails[`gpu${i}`] = w!));
        return { kind: 'power', tNs, watts: (v as number[]).reduce((s, w) => s + w, 0), rails };
      },
    },
  };
}
