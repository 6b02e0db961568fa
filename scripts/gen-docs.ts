/**
 * `npm run docs`: regenerate docs/cli.md and the generated sections of docs/config.md, docs/mqtt.md and docs/jobs.md
 * from the code (scripts/lib/docs/generate-docs.ts says what comes from where). `--check` writes nothing and exits 1
 * naming the stale files, as test/unit/cli/docs-drift.test.ts does.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT, generateDocs, readCommitted } from './lib/docs/generate-docs.js';

const check = process.argv.includes('--check');
const docs = await generateDocs();
const stale = docs.filter((d) => readCommitted(d.path) !== d.content);
if (check) {
  if (stale.length > 0) {
    process.stderr.write(`docs out of date: ${stale.map((d) => d.path).join(', ')}; run npm run docs\n`);
    process.exitCode = 1;
  } else process.stderr.write(`docs up to date (${docs.length} files)\n`);
} else {
  for (const d of stale) {
    const full = join(REPO_ROOT, d.path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, d.content);
    process.stderr.write(`wrote ${d.path}\n`);
  }
  if (stale.length === 0) process.stderr.write(`docs up to date (${docs.length} files)\n`);
}
