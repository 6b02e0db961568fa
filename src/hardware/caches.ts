/** Pure helpers for sysfs CPU lists and the cache hierarchy (ABI: Documentation/ABI/testing/sysfs-devices-system-cpu). */
import type { CacheLevelInfo, CacheSummary } from './hardware-info.js';

/** Parse a sysfs cache `size` ('32K', '1024K', '2M', '512') to bytes; null when it does not parse or is 0. */
export function parseCacheSize(text: string | null): number | null {
  if (text === null) return null;
  const m = /^\s*(\d+)\s*([KMG]?)(?:i?B)?\s*$/i.exec(text);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toUpperCase();
  const bytes = n * (unit === 'K' ? 1024 : unit === 'M' ? 1024 ** 2 : unit === 'G' ? 1024 ** 3 : 1);
  return bytes > 0 && Number.isSafeInteger(bytes) ? bytes : null;
}

/** Parse a CPU list ('0-3,5,7-8') into sorted CPU numbers; null when malformed. An empty string is []. */
export function parseCpuList(text: string | null): number[] | null {
  if (text === null) return null;
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const cpus = new Set<number>();
  for (const part of trimmed.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return null;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi - lo > 65536) return null;
    for (let c = lo; c <= hi; c++) cpus.add(c);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** Parse a hex CPU mask ('00000000,0000000f') into CPU numbers; null when malformed. */
export function parseCpuMask(text: string | null): number[] | null {
  if (text === null) return null;
  const hex = text.trim().replace(/,/g, '');
  if (!/^[0-9a-fA-F]+$/.test(hex)) return null;
  const cpus: number[] = [];
  for (let i = 0; i < hex.length; i++) {
    const nibble = Number.parseInt(hex[hex.length - 1 - i]!, 16);
    for (let b = 0; b < 4; b++) if (nibble & (1 << b)) cpus.push(i * 4 + b);
  }
  return cpus;
}

/** One `cpuN/cache/indexM` directory as read from sysfs (null fields did not parse). */
export interface RawCacheIndex {
  cpu: number;
  level: number | null;
  type: string | null;
  sizeBytes: number | null;
  sharedCpus: number[] | null;
}

/**
 * Deduplicate cache indexes into levels: instances keyed on (level, type, shared CPU set); a cache is "shared" when
 * one instance serves more CPUs than one core's SMT threads. Entries with unreadable fields are skipped (the caller
 * warns). For each level the largest instance is reported (on big.LITTLE: the big cluster's).
 */
export function summarizeCaches(entries: readonly RawCacheIndex[], threadsPerCore: number): CacheSummary {
  const instances = new Map<string, { level: number; type: CacheLevelInfo['type']; sizeBytes: number; cpus: number[] }>();
  for (const e of entries) {
    if (e.level === null || e.sizeBytes === null || e.type === null) continue;
    const type = e.type === 'Data' || e.type === 'Instruction' || e.type === 'Unified' ? e.type : null;
    if (type === null) continue;
    const cpus = e.sharedCpus && e.sharedCpus.length > 0 ? e.sharedCpus : [e.cpu];
    const key = `${e.level}/${type}/${cpus.join(',')}`;
    if (!instances.has(key)) instances.set(key, { level: e.level, type, sizeBytes: e.sizeBytes, cpus });
  }
  const byLevel = new Map<string, CacheLevelInfo>();
  for (const inst of instances.values()) {
    const key = `${inst.level}/${inst.type}`;
    const prev = byLevel.get(key);
    const shared = inst.cpus.length > Math.max(1, threadsPerCore);
    if (!prev) {
      byLevel.set(key, { level: inst.level, type: inst.type, sizeBytes: inst.sizeBytes, instances: 1, cpusPerInstance: inst.cpus.length, shared });
    } else {
      prev.instances++;
      if (inst.sizeBytes > prev.sizeBytes) prev.sizeBytes = inst.sizeBytes;
      if (inst.cpus.length > prev.cpusPerInstance) prev.cpusPerInstance = inst.cpus.length;
      prev.shared = prev.shared || shared;
    }
  }
  const levels = [...byLevel.values()].sort((a, b) => a.level - b.level || a.type.localeCompare(b.type));
  const find = (level: number, types: CacheLevelInfo['type'][]): CacheLevelInfo | undefined =>
    levels.find((l) => l.level === level && types.includes(l.type));
  const l1d = find(1, ['Data', 'Unified']);
  const l1i = find(1, ['Instruction']);
  const l2 = find(2, ['Unified', 'Data']);
  const l3 = find(3, ['Unified', 'Data']);
  return {
    l1d: l1d?.sizeBytes ?? null,
    l1i: l1i?.sizeBytes ?? null,
    l2: l2?.sizeBytes ?? null,
    l3: l3?.sizeBytes ?? null,
    l2Shared: l2 ? l2.shared : null,
    l3Shared: l3 ? l3.shared : null,
    source: levels.length > 0 ? 'sysfs' : null,
    levels,
  };
}
