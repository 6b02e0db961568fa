/** Pure board identification: device-tree strings, Jetson release file, DMI, and the accelerators a SoC implies. */
import type { Accelerator, TegraRelease } from './hardware-info.js';

/**
 * Split a device-tree string property (NUL-terminated, NUL-separated list) into its strings. Returns null when the
 * bytes are not printable text (a garbled file), [] for an empty property.
 */
export function splitDeviceTreeStrings(bytes: Uint8Array): string[] | null {
  const text = Buffer.from(bytes).toString('utf8');
  const parts = text.split('\0').map((s) => s.trim()).filter((s) => s.length > 0);
  // eslint-disable-next-line no-control-regex
  if (parts.some((s) => /[\u0000-\u001f\u007f\ufffd]/.test(s))) return null;
  return parts;
}

/** Parse /etc/nv_tegra_release ('# R36 (release), REVISION: 4.3, GCID: …'); null when the first line does not match. */
export function parseNvTegraRelease(text: string): TegraRelease | null {
  const m = /^#\s*R(\d+)\s*\(release\),\s*REVISION:\s*(\d+(?:\.\d+)*)/m.exec(text);
  if (!m) return null;
  return { release: `R${m[1]}`, revision: m[2]!, l4tVersion: `${m[1]}.${m[2]}` };
}

/** SoC named by a compatible list ('brcm,bcm2712' → 'bcm2712', 'nvidia,tegra234' → 'tegra234'). */
export function socFromCompatible(compatible: readonly string[]): string | null {
  for (const c of compatible) {
    const m = /^(?:brcm|nvidia|rockchip|amlogic|allwinner|qcom|mediatek|fsl|nxp|ti),([a-z]+\d+[a-z0-9]*)$/.exec(c);
    if (m && /^(bcm|tegra|rk|sun|meson|imx|am|mt|sm|sdm|qcs)\d/.test(m[1]!)) return m[1]!;
  }
  return null;
}

interface SocGpu {
  name: string;
  vendor: string;
  cudaArch: string | null;
  fp16: boolean | null;
  int8: boolean | null;
  inferenceUsable: boolean;
}

// Jetson SoC → GPU (CUDA arch per jetson_stats' table; FP16/INT8 per NVIDIA module data sheets).
// Pi SoCs: VideoCore, no onnxruntime execution provider.
const SOC_GPUS: Record<string, SocGpu> = {
  tegra210: { name: 'Maxwell GPU (128 CUDA cores)', vendor: 'NVIDIA', cudaArch: '5.3', fp16: true, int8: false, inferenceUsable: true },
  tegra186: { name: 'Pascal GPU (256 CUDA cores)', vendor: 'NVIDIA', cudaArch: '6.2', fp16: true, int8: null, inferenceUsable: true },
  tegra194: { name: 'Volta GPU (Tensor Cores)', vendor: 'NVIDIA', cudaArch: '7.2', fp16: true, int8: true, inferenceUsable: true },
  tegra234: { name: 'Ampere GPU (Tensor Cores)', vendor: 'NVIDIA', cudaArch: '8.7', fp16: true, int8: true, inferenceUsable: true },
  bcm2711: { name: 'VideoCore VI', vendor: 'Broadcom', cudaArch: null, fp16: null, int8: null, inferenceUsable: false },
  bcm2712: { name: 'VideoCore VII', vendor: 'Broadcom', cudaArch: null, fp16: null, int8: null, inferenceUsable: false },
};

/** The integrated GPU a SoC implies, if the table knows it. */
export function socAccelerator(soc: string | null): Accelerator | null {
  if (soc === null) return null;
  const gpu = SOC_GPUS[soc];
  if (!gpu) return null;
  return { kind: 'gpu', integrated: true, source: `device-tree compatible (${soc})`, ...gpu };
}

/** The `Model:` line of /proc/driver/nvidia/gpus/<bus>/information (a discrete NVIDIA GPU with the driver loaded). */
export function parseNvidiaGpuInformation(text: string): string | null {
  const m = /^Model:\s*(.+)$/m.exec(text);
  return m ? m[1]!.trim() : null;
}

/** Trim a DMI string and drop firmware placeholders ('To Be Filled By O.E.M.', 'Default string'). */
export function cleanDmiString(text: string | null): string | null {
  if (text === null) return null;
  const s = text.replace(/\0/g, '').trim();
  // eslint-disable-next-line no-control-regex
  if (s === '' || /[\u0000-\u001f\u007f\ufffd]/.test(s)) return null;
  if (/^(to be filled by o\.?e\.?m\.?|default string|system product name|system manufacturer|not applicable|none|n\/a|0+)$/i.test(s)) return null;
  return s;
}

/** Jetson module id from a compatible list ('nvidia,p3767-0005' → 'p3767-0005'). */
export function jetsonModule(compatible: readonly string[]): string | null {
  for (const c of compatible) {
    const m = /^nvidia,(p\d{4}-\d{4})$/.exec(c);
    if (m) return m[1]!;
  }
  return null;
}
