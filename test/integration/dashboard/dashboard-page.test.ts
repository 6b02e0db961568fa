/**
 * The page `npm run build` bundles into dist/: light (< 300 KiB gzipped, the bound), and self-contained —
 * devices and operators are often offline, so nothing may come from a CDN or any other host.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { REPO } from '../agent/fleet-harness.js';

const WEB = join(REPO, 'dist/operator/dashboard/web');
const FILES = ['index.html', 'app.js', 'app.css'];

describe('the bundled dashboard page', () => {
  it('weighs less than 300 KiB gzipped, Chart.js included', () => {
    const gz = FILES.reduce((n, f) => n + gzipSync(readFileSync(join(WEB, f))).length, 0);
    expect(gz).toBeLessThan(300 * 1024);
    expect(readFileSync(join(WEB, 'app.js'), 'utf8')).toMatch(/chart\.js|Chart\.js|chartjs/i);
  });

  it('loads nothing from another host: the HTML names only its own assets, the script and style fetch no URL', () => {
    const html = readFileSync(join(WEB, 'index.html'), 'utf8');
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(refs.sort()).toEqual(['#/fleet', '#/fleet', '#/models', '#/push', '#/rollouts', '/assets/app.css', '/assets/app.js']);
    for (const f of ['app.js', 'app.css']) {
      const text = readFileSync(join(WEB, f), 'utf8');
      expect(text, f).not.toMatch(/(?:import|url)\(\s*["']?https?:/);
      expect(text, f).not.toMatch(/fetch\(\s*["']https?:/);
      expect(text, f).not.toMatch(/@import/);
    }
  });
});
