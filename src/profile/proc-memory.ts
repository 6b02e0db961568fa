/** Resident memory of a process from `/proc/<pid>/status` (Linux): current (VmRSS) and peak (VmHWM). */
import { readFileSync } from 'node:fs';

/** VmRSS and VmHWM in bytes. */
export interface ProcMemory {
  rssBytes: number;
  hwmBytes: number;
}

/** Parse the VmRSS / VmHWM lines (kB) of a /proc status file; null when absent (kernel threads, non-Linux). */
export function parseProcStatusMemory(text: string): ProcMemory | null {
  const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(text);
  if (!rss || !hwm) return null;
  return { rssBytes: Number(rss[1]) * 1024, hwmBytes: Number(hwm[1]) * 1024 };
}

/** Memory of a process (default: this one); null when /proc is not there or the process is gone. */
export function readProcMemory(pid: number | 'self' = 'self'): ProcMemory | null {
  try {
    return parseProcStatusMemory(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return null;
  }
}
