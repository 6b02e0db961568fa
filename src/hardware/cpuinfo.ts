/** Pure parsing of /proc/cpuinfo (ARM and x86 layouts) and the ARM core table. */

/** One `processor` block: its fields by key as printed (trimmed). */
export interface CpuinfoProcessor {
  index: number;
  fields: Record<string, string>;
}

/** /proc/cpuinfo split into processor blocks and the global lines (ARM `Hardware`, `Revision`, `Model`). */
export interface ParsedCpuinfo {
  processors: CpuinfoProcessor[];
  global: Record<string, string>;
  /** Non-empty lines that are not `key : value`. */
  malformedLines: number;
}

/** Parse /proc/cpuinfo text. Never throws; lines that do not parse are counted in `malformedLines`. */
export function parseCpuinfo(text: string): ParsedCpuinfo {
  const processors: CpuinfoProcessor[] = [];
  const global: Record<string, string> = {};
  let malformedLines = 0;
  for (const block of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    for (const line of block.split('\n')) {
      if (line.trim() === '') continue;
      const colon = line.indexOf(':');
      if (colon <= 0 || !isPrintable(line)) {
        malformedLines++;
        continue;
      }
      const key = line.slice(0, colon).trim();
      if (!/^[A-Za-z][A-Za-z0-9 _()-]*$/.test(key)) {
        malformedLines++;
        continue;
      }
      fields[key] = line.slice(colon + 1).trim();
    }
    const index = fields.processor !== undefined && /^\d+$/.test(fields.processor) ? Number(fields.processor) : null;
    if (index !== null) processors.push({ index, fields });
    else Object.assign(global, fields);
  }
  return { processors, global, malformedLines };
}

function isPrintable(line: string): boolean {
  // eslint-disable-next-line no-control-regex
  return !/[\u0000-\u0008\u000b-\u001f\u007f\ufffd]/.test(line);
}

/** Flags of one processor block: ARM `Features`, x86 `flags` (null when neither is present). */
export function processorFlags(p: CpuinfoProcessor): string[] | null {
  const raw = p.fields.Features ?? p.fields.flags;
  if (raw === undefined) return null;
  return raw.split(/\s+/).filter((f) => /^[a-z0-9_.]+$/.test(f));
}

/** Flags present on every processor that lists flags (intersection: safe on big.LITTLE), sorted; null when none does. */
export function commonFlags(parsed: ParsedCpuinfo): string[] | null {
  let common: string[] | null = null;
  for (const p of parsed.processors) {
    const flags = processorFlags(p);
    if (flags === null) continue;
    const present = new Set(flags);
    common = common === null ? [...present] : common.filter((f: string) => present.has(f));
  }
  return common === null ? null : common.sort();
}

const ARM_IMPLEMENTERS: Record<string, string> = {
  '0x41': 'ARM',
  '0x42': 'Broadcom',
  '0x43': 'Cavium',
  '0x4e': 'NVIDIA',
  '0x51': 'Qualcomm',
  '0x61': 'Apple',
  '0xc0': 'Ampere',
};

// Arm Ltd parts (implementer 0x41): from the cores' Technical Reference Manuals (MIDR_EL1.PartNum).
const ARM_PARTS: Record<string, string> = {
  '0xd03': 'Cortex-A53',
  '0xd04': 'Cortex-A35',
  '0xd05': 'Cortex-A55',
  '0xd07': 'Cortex-A57',
  '0xd08': 'Cortex-A72',
  '0xd09': 'Cortex-A73',
  '0xd0a': 'Cortex-A75',
  '0xd0b': 'Cortex-A76',
  '0xd0c': 'Neoverse-N1',
  '0xd0d': 'Cortex-A77',
  '0xd40': 'Neoverse-V1',
  '0xd41': 'Cortex-A78',
  '0xd42': 'Cortex-A78AE',
  '0xd44': 'Cortex-X1',
  '0xd46': 'Cortex-A510',
  '0xd47': 'Cortex-A710',
  '0xd48': 'Cortex-X2',
  '0xd49': 'Neoverse-N2',
  '0xd4b': 'Cortex-A78C',
  '0xd4f': 'Neoverse-V2',
};

const OTHER_PARTS: Record<string, string> = {
  '0x4e:0x004': 'NVIDIA Carmel',
};

/** In-order "LITTLE" cores: never the cores inference threads should go to when bigger ones exist. */
const LITTLE_PARTS = new Set(['0x41:0xd03', '0x41:0xd04', '0x41:0xd05', '0x41:0xd46']);

/** Normalise a hex id from cpuinfo ('0xD0B', '0x0d0b') to '0xd0b'. Null when it is not hex. */
export function normaliseHexId(raw: string | undefined): string | null {
  if (raw === undefined || !/^0x[0-9a-fA-F]+$/.test(raw)) return null;
  return `0x${Number.parseInt(raw.slice(2), 16).toString(16).padStart(2, '0')}`;
}

/** Name of an ARM implementer id ('0x41' → 'ARM'). */
export function armImplementerName(implementer: string | null): string | null {
  return implementer === null ? null : ARM_IMPLEMENTERS[implementer] ?? null;
}

/** Core name for implementer + part ('0x41', '0xd0b' → 'Cortex-A76'); null when unknown. */
export function armCoreName(implementer: string | null, part: string | null): string | null {
  if (implementer === null || part === null) return null;
  const padded = `0x${Number.parseInt(part.slice(2), 16).toString(16).padStart(3, '0')}`;
  if (implementer === '0x41') return ARM_PARTS[padded] ?? null;
  return OTHER_PARTS[`${implementer}:${padded}`] ?? null;
}

/** A canonical 'implementer:part' key ('0x41:0xd0b') as device profiles write it. */
export function armPartKey(implementer: string | null, part: string | null): string | null {
  if (implementer === null || part === null) return null;
  return `${implementer}:0x${Number.parseInt(part.slice(2), 16).toString(16).padStart(3, '0')}`;
}

/** True for in-order efficiency cores (A53, A35, A55, A510). */
export function isLittleArmCore(key: string | null): boolean {
  return key !== null && LITTLE_PARTS.has(key);
}
