/**
 * Which docs/ files are generated and from what: docs/cli.md whole, and named sections inside the hand-written
 * docs/config.md, docs/mqtt.md and docs/jobs.md. `generateDocs` computes every file's expected text in memory;
 * scripts/gen-docs.ts writes it, test/unit/cli/docs-drift.test.ts compares it with what is committed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCommandDocs, renderCliReference } from './cli-reference.js';
import { CONFIG_SOURCES, renderConfigDefaults, renderConfigKeys } from './config-reference.js';
import { JOB_ACTION_SOURCES, JOB_OPTION_SOURCES, renderJobActions, renderJobOptions } from './jobs-reference.js';
import { replaceSection } from './markdown.js';
import { PAYLOAD_SOURCES, TOPIC_SOURCES, renderPayloads, renderTopicTable } from './mqtt-reference.js';

/** The repository root (scripts/lib/docs is three levels below it). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A generated section of a hand-written file. */
interface Section {
  name: string;
  sources: string;
  render: () => string | Promise<string>;
}

/** A docs file: either wholly generated, or hand-written with generated sections. */
type DocSpec = { path: string; whole: () => Promise<string> } | { path: string; sections: Section[] };

/** Every generated file and section (paths relative to the repository root). */
export const DOC_SPECS: readonly DocSpec[] = [
  { path: 'docs/cli.md', whole: async () => renderCliReference(await loadCommandDocs()) },
  {
    path: 'docs/config.md',
    sections: [
      { name: 'config-keys', sources: CONFIG_SOURCES, render: renderConfigKeys },
      { name: 'config-defaults', sources: 'src/config/agent-config-defaults.ts', render: renderConfigDefaults },
    ],
  },
  {
    path: 'docs/mqtt.md',
    sections: [
      { name: 'topics', sources: TOPIC_SOURCES, render: renderTopicTable },
      { name: 'payloads', sources: PAYLOAD_SOURCES, render: renderPayloads },
    ],
  },
  {
    path: 'docs/jobs.md',
    sections: [
      { name: 'job-actions', sources: JOB_ACTION_SOURCES, render: () => renderJobActions() },
      { name: 'job-options', sources: JOB_OPTION_SOURCES, render: () => renderJobOptions() },
    ],
  },
];

/** One file as the code says it should be. */
export interface GeneratedDoc {
  /** Relative to the repository root. */
  path: string;
  content: string;
}

/** The committed text of a docs file, or null when it does not exist. */
export function readCommitted(path: string, root = REPO_ROOT): string | null {
  const full = join(root, path);
  return existsSync(full) ? readFileSync(full, 'utf8') : null;
}

/**
 * Every generated docs file's expected content. A hand-written file must exist and keep its section markers
 * (RangeError naming the file and section otherwise); its prose outside the markers is kept as it is.
 */
export async function generateDocs(read: (path: string) => string | null = (p) => readCommitted(p)): Promise<GeneratedDoc[]> {
  const out: GeneratedDoc[] = [];
  for (const spec of DOC_SPECS) {
    if ('whole' in spec) {
      out.push({ path: spec.path, content: await spec.whole() });
      continue;
    }
    let text = read(spec.path);
    if (text === null) throw new RangeError(`${spec.path} is missing: it is hand-written around generated sections (${spec.sections.map((s) => s.name).join(', ')})`);
    for (const section of spec.sections) text = replaceSection(text, section.name, section.sources, await section.render(), spec.path);
    out.push({ path: spec.path, content: text });
  }
  return out;
}

/** The generated files whose committed text (as `read` returns it) differs from what the code says, missing ones included. */
export async function staleDocs(read: (path: string) => string | null = (p) => readCommitted(p)): Promise<string[]> {
  const docs = await generateDocs(read);
  return docs.filter((d) => read(d.path) !== d.content).map((d) => d.path);
}
