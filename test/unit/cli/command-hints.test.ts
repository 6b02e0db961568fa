import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../src/cli/main.js';

const ROOT = join(import.meta.dirname, '../../..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/**
 * A message that suggests a command line — `` `edgetune results …` ``, `(edgetune dataset --labels)`, "run edgetune
 * keygen" — must say `npx edgetune …`: a clone or a project that depends on edgetune has no `edgetune` on PATH.
 * Comments and mere names (`edgetune tune: model.onnx`, a report title) are not suggestions, nor is an option's
 * description naming the equivalent flag (`.describe('… (\`edgetune profile --iterations\`)')`) unless it says "run".
 */
describe('command hints in messages', () => {
  const names = [...COMMANDS.map((c) => c.name), '--help'].map((n) => n.replace(/[-]/g, '\\-')).join('|');
  const hint = new RegExp(`(?:\`|\\(|\\brun |\\btry )edgetune (?:${names})(?![\\w:-])`, 'g');
  const spokenHint = new RegExp(`(?:\\brun |\\btry )\`?edgetune (?:${names})(?![\\w:-])`, 'g');

  it('every hint in src/ and scripts/ says `npx edgetune …`', () => {
    const offenders: string[] = [];
    for (const file of [...tsFiles(join(ROOT, 'src')), ...tsFiles(join(ROOT, 'scripts'))]) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          const trimmed = line.trim();
          if (trimmed.startsWith('//') || trimmed.startsWith('*') || trimmed.startsWith('/*')) return;
          const pattern = /\bdescribe\b/.test(line) ? spokenHint : hint;
          for (const m of line.matchAll(pattern)) offenders.push(`${relative(ROOT, file)}:${i + 1}: ${m[0]}`);
        });
    }
    expect(offenders, 'write `npx edgetune …` in messages that suggest a command').toEqual([]);
  });

  it('the pattern finds the forms it is meant to find', () => {
    const found = (text: string): boolean => [...text.matchAll(hint)].length > 0;
    expect(found('try `edgetune results --data-dir x`')).toBe(true);
    expect(found('(edgetune dataset --labels)')).toBe(true);
    expect(found('name a command; `edgetune --help` lists them')).toBe(true);
    expect(found('try `npx edgetune results --data-dir x`')).toBe(false);
    expect(found("title ?? 'edgetune tune'")).toBe(false);
    expect(found('`edgetune tune: model.onnx`')).toBe(false);
  });
});
