/**
 * Pages with text, for calibrating and fitting text detectors (PP-OCRv4 det) where the photographs have little text:
 * paragraphs of this repository's own docs rendered by Chromium in a few fonts, sizes and colours, saved as JPEG
 * screenshots. Deterministic for a given checkout; dev-time only (needs /usr/bin/chromium, playwright-core).
 *
 *   npx tsx scripts/make-text-pages.ts OUTDIR [--count 9] [--width 640] [--height 480]
 */
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const value = (name: string, fallback: number): number => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : fallback);
const out = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (!out) throw new Error('usage: make-text-pages.ts OUTDIR [--count 9] [--width 640] [--height 480]');
const count = value('count', 9);
const width = value('width', 640);
const height = value('height', 480);

/** Paragraphs of the docs, markdown punctuation stripped. */
function paragraphs(): string[] {
  const files = ['README.md', ...readdirSync('docs').filter((n) => n.endsWith('.md')).sort().map((n) => join('docs', n))];
  const text: string[] = [];
  for (const f of files) {
    for (const block of readFileSync(f, 'utf8').split(/\n\s*\n/)) {
      const clean = block.replace(/[`#*_|>[\]()]/g, ' ').replace(/\s+/g, ' ').trim();
      if (clean.length > 80 && !clean.startsWith('-')) text.push(clean);
    }
  }
  return text;
}

const STYLES = [
  { font: 'DejaVu Serif', size: 15, color: '#111', background: '#fff' },
  { font: 'DejaVu Sans', size: 13, color: '#222', background: '#f4f1e8' },
  { font: 'DejaVu Sans Mono', size: 12, color: '#0a0a0a', background: '#fdfdfd' },
  { font: 'DejaVu Sans', size: 20, color: '#1a237e', background: '#e8eaf6' },
  { font: 'DejaVu Serif', size: 11, color: '#333', background: '#ffffff' },
  { font: 'DejaVu Sans', size: 16, color: '#f5f5f5', background: '#263238' },
  { font: 'DejaVu Sans Condensed', size: 14, color: '#3e2723', background: '#fff8e1' },
  { font: 'DejaVu Serif', size: 24, color: '#000', background: '#e0e0e0' },
  { font: 'DejaVu Sans Mono', size: 10, color: '#1b5e20', background: '#f1f8e9' },
];

const text = paragraphs();
mkdirSync(out, { recursive: true });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width, height } });
  for (let i = 0; i < count; i++) {
    const style = STYLES[i % STYLES.length]!;
    const body = text.slice((i * 5) % text.length, ((i * 5) % text.length) + 6).map((p) => `<p>${p.replace(/</g, '&lt;')}</p>`).join('');
    const columns = i % 3 === 2 ? 'column-count: 2; column-gap: 24px;' : '';
    await page.setContent(`<html><body style="margin: 18px 26px; font-family: '${style.font}'; font-size: ${style.size}px; line-height: 1.35; color: ${style.color}; background: ${style.background}; ${columns}">${i % 4 === 1 ? `<h2>Section ${i + 1}</h2>` : ''}${body}</body></html>`);
    await page.screenshot({ path: join(out, `text-page-${String(i + 1).padStart(2, '0')}.jpg`), type: 'jpeg', quality: 90 });
  }
} finally {
  await browser.close();
}
process.stdout.write(`${count} pages in ${out}\n`);
