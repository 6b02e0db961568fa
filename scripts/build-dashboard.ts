/**
 * `npm run build` (after tsc): bundle the dashboard page (src/operator/dashboard/web: app.ts with Chart.js, the CSS
 * and index.html) into dist/operator/dashboard/web, where `edgetune dashboard` serves it from; no CDN at run time.
 * The page's TypeScript is type-checked first against the DOM library (web/tsconfig.json). `--out DIR` writes
 * elsewhere; the gzipped size of each file is printed.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const REPO = join(import.meta.dirname, '..');
const SRC = join(REPO, 'src/operator/dashboard/web');
const at = process.argv.indexOf('--out');
const OUT = at > 0 && process.argv[at + 1] ? (process.argv[at + 1] as string) : join(REPO, 'dist/operator/dashboard/web');

try {
  execFileSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(SRC, 'tsconfig.json')], { stdio: 'inherit' });
} catch {
  process.stderr.write('dashboard: the page does not type-check (above); nothing was bundled\n');
  process.exit(1);
}
mkdirSync(OUT, { recursive: true });
await build({
  entryPoints: { app: join(SRC, 'app.ts') },
  bundle: true,
  format: 'esm',
  target: ['es2020'],
  minify: true,
  legalComments: 'none',
  outdir: OUT,
  logLevel: 'warning',
});
await build({ entryPoints: { app: join(SRC, 'style.css') }, bundle: true, minify: true, outdir: OUT, logLevel: 'warning' });
copyFileSync(join(SRC, 'index.html'), join(OUT, 'index.html'));
let total = 0;
for (const f of ['index.html', 'app.js', 'app.css']) {
  const gz = gzipSync(readFileSync(join(OUT, f))).length;
  total += gz;
  process.stderr.write(`dashboard: ${f} ${(gz / 1024).toFixed(1)} KiB gzipped\n`);
}
process.stderr.write(`dashboard: page ${(total / 1024).toFixed(1)} KiB gzipped in ${OUT}\n`);
