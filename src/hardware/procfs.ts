/** Pure parsers for small procfs/sysfs/etc files the probe reads. */

/** /proc/meminfo MemTotal and MemAvailable in bytes (the file is in KiB); null fields did not parse. */
export function parseMeminfo(text: string): { totalBytes: number | null; availableBytes: number | null } {
  const field = (name: string): number | null => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s*kB\\s*$`, 'm').exec(text);
    if (!m) return null;
    const bytes = Number(m[1]) * 1024;
    return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : null;
  };
  return { totalBytes: field('MemTotal'), availableBytes: field('MemAvailable') };
}

/** PRETTY_NAME (else NAME VERSION) from /etc/os-release; null when absent. */
export function parseOsRelease(text: string): string | null {
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) values[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');
  }
  if (values.PRETTY_NAME) return values.PRETTY_NAME;
  if (values.NAME) return values.VERSION ? `${values.NAME} ${values.VERSION}` : values.NAME;
  return null;
}

/** A sysfs temperature in millidegrees ('47234') → °C; null when it does not parse. */
export function parseMilliCelsius(text: string | null): number | null {
  if (text === null || !/^\s*-?\d+\s*$/.test(text)) return null;
  return Number(text.trim()) / 1000;
}

/** A sysfs integer ('1800000'); null when it does not parse. */
export function parseSysfsInt(text: string | null): number | null {
  if (text === null || !/^\s*-?\d+\s*$/.test(text)) return null;
  const n = Number(text.trim());
  return Number.isSafeInteger(n) ? n : null;
}

/** A one-line sysfs/procfs string, trimmed; null when empty or not printable. */
export function parseSysfsLine(text: string | null): string | null {
  if (text === null) return null;
  const s = text.replace(/\0+$/, '').trim();
  // eslint-disable-next-line no-control-regex
  if (s === '' || /[\u0000-\u001f\u007f\ufffd]/.test(s)) return null;
  return s;
}
