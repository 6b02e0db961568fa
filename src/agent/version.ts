import { readFileSync } from 'node:fs';

let cached: string | null = null;

/** edgetune's version from package.json (src/agent and dist/agent are two levels below the package root). */
export function edgetuneVersion(): string {
  if (cached === null) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
      cached = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
    } catch {
      cached = '0.0.0';
    }
  }
  return cached;
}
