/**
 * docs/cli.md from the yargs command modules: every entry of `COMMANDS` (src/cli/main.ts) is loaded, its `builder`
 * runs against a fresh yargs instance, and the options are read back with `getOptions()` (types, defaults, choices,
 * aliases, demanded options) and the usage instance (descriptions). Nothing is parsed from `--help` text, so the
 * terminal width and yargs' layout cannot change the docs.
 */
import yargs, { type Argv } from 'yargs';
import { COMMANDS, type CommandModule } from '../../../src/cli/main.js';
import { cell, code, generatedFileHeader, jsonValue, table } from './markdown.js';

/** One option or positional argument of a command. */
export interface CliOptionDoc {
  name: string;
  aliases: string[];
  /** `string`, `number`, `boolean`, `count`, with `[]` when repeatable; '' when yargs was given no type. */
  type: string;
  choices: unknown[] | null;
  defaultValue: unknown;
  required: boolean;
  description: string | null;
  hidden: boolean;
}

/** One command as the docs show it. */
export interface CliCommandDoc {
  name: string;
  /** The yargs command string, e.g. `compress <model>`. */
  command: string;
  /** The command module's description (its own `--help`). */
  describe: string;
  /** The one-liner of `edgetune --help` (COMMANDS in main.ts). */
  summary: string;
  positionals: CliOptionDoc[];
  options: CliOptionDoc[];
}

/** What yargs keeps per instance and the typings leave out. */
interface YargsOptionsView {
  key: Record<string, boolean>;
  alias: Record<string, string[]>;
  boolean: string[];
  string: string[];
  number: string[];
  count: string[];
  array: string[];
  choices: Record<string, unknown[]>;
  default: Record<string, unknown>;
  demandedOptions: Record<string, unknown>;
  hiddenOptions: string[];
}

interface YargsInternals {
  getOptions(): YargsOptionsView;
  getInternalMethods(): { getUsageInstance(): { getDescriptions(): Record<string, string | undefined> } };
}

/** Positional names of a yargs command string: `<x>` is required, `[x]` optional, `..` variadic. */
function positionalsOf(command: string): Array<{ name: string; required: boolean; variadic: boolean }> {
  return command
    .split(/\s+/)
    .slice(1)
    .map((token) => {
      const m = /^([<[])([^>\]|]+?)(\.\.)?(?:\|[^>\]]*)?[>\]]$/.exec(token);
      if (!m) throw new RangeError(`command '${command}': cannot read positional '${token}'`);
      return { name: m[2] as string, required: m[1] === '<', variadic: m[3] !== undefined };
    });
}

/** Run a command module's builder on a fresh yargs instance and read back its positionals and options. */
export function describeCommand(module: CommandModule, summary: string): CliCommandDoc {
  const y = yargs([]).help(false).version(false);
  module.builder(y as Argv);
  const internals = y as unknown as YargsInternals;
  const o = internals.getOptions();
  const descriptions = internals.getInternalMethods().getUsageInstance().getDescriptions();
  const aliasNames = new Set(Object.values(o.alias).flat());
  const typeOf = (key: string): string => {
    const base = o.count.includes(key) ? 'count' : o.boolean.includes(key) ? 'boolean' : o.number.includes(key) ? 'number' : o.string.includes(key) ? 'string' : '';
    return o.array.includes(key) ? `${base || 'string'}[]` : base;
  };
  const doc = (key: string, required: boolean): CliOptionDoc => ({
    name: key,
    aliases: o.alias[key] ?? [],
    type: typeOf(key),
    choices: o.choices[key] ?? null,
    defaultValue: o.default[key],
    required,
    description: descriptions[key] ?? null,
    hidden: o.hiddenOptions.includes(key),
  });
  const positionals = positionalsOf(module.command);
  const positionalNames = new Set(positionals.map((p) => p.name));
  const name = module.command.split(/\s+/)[0] as string;
  return {
    name,
    command: module.command,
    describe: module.describe,
    summary,
    positionals: positionals.map((p) => ({ ...doc(p.name, p.required), type: p.variadic ? `${typeOf(p.name) || 'string'}[]` : typeOf(p.name) })),
    options: Object.keys(o.key)
      .filter((key) => !aliasNames.has(key) && !positionalNames.has(key))
      .map((key) => doc(key, key in o.demandedOptions)),
  };
}

/** Every command of `COMMANDS`, in its order (the order of `edgetune --help`). */
export async function loadCommandDocs(): Promise<CliCommandDoc[]> {
  const out: CliCommandDoc[] = [];
  for (const entry of COMMANDS) {
    const { commandModule } = await entry.load();
    const doc = describeCommand(commandModule, entry.describe);
    if (doc.name !== entry.name) throw new RangeError(`COMMANDS entry '${entry.name}' loads a module whose command is '${commandModule.command}'`);
    // Every argument and option says what it does: the reference has no '—' cells.
    const undescribed = [...doc.positionals, ...doc.options].filter((o) => !o.description && !['help', 'version'].includes(o.name)).map((o) => o.name);
    if (undescribed.length > 0) throw new RangeError(`edgetune ${entry.name}: no describe for ${undescribed.map((n) => `'${n}'`).join(', ')} (add describe: '…' in src/cli/commands/${entry.name}.ts)`);
    out.push(doc);
  }
  return out;
}

function flagOf(option: CliOptionDoc): string {
  const flags = [...option.aliases.map((a) => (a.length === 1 ? `-${a}` : `--${a}`)), `--${option.name}`].map((f) => code(f));
  if (option.type === 'boolean' && option.defaultValue === true) flags.push(code(`--no-${option.name}`));
  return flags.join(', ');
}

function typeCell(option: CliOptionDoc): string {
  const type = option.type === '' ? 'any' : option.type;
  if (!option.choices) return type;
  return `${type}: ${option.choices.map((c) => code(String(c))).join(' | ')}`;
}

function defaultCell(option: CliOptionDoc): string {
  if (option.required) return '**required**';
  return jsonValue(option.defaultValue);
}

function renderCommand(doc: CliCommandDoc): string {
  const parts: string[] = [];
  parts.push(`## edgetune ${doc.name}`);
  parts.push('');
  parts.push('```');
  parts.push(`edgetune ${doc.command}${doc.options.length > 0 ? ' [options]' : ''}`);
  parts.push('```');
  parts.push('');
  const describe = doc.describe.trim();
  parts.push(/[.!?)]$/.test(describe) ? describe : `${describe}.`);
  if (doc.positionals.length > 0) {
    parts.push('');
    parts.push(
      table(
        ['argument', 'type', 'required', 'description'],
        doc.positionals.map((p) => [code(p.name), typeCell(p), p.required ? 'yes' : 'no', p.description ?? '—']),
      ),
    );
  }
  const visible = doc.options.filter((o) => !o.hidden);
  if (visible.length > 0) {
    parts.push('');
    parts.push(table(['option', 'type', 'default', 'description'], visible.map((o) => [flagOf(o), typeCell(o), defaultCell(o), o.description ?? '—'])));
  }
  return parts.join('\n');
}

/** docs/cli.md: the commands table, global options, then one section per command. */
export function renderCliReference(docs: readonly CliCommandDoc[]): string {
  const parts: string[] = [];
  parts.push(generatedFileHeader('src/cli/main.ts (COMMANDS) and the builders of src/cli/commands/*.ts'));
  parts.push('');
  parts.push('# Command line reference');
  parts.push('');
  parts.push(
    [
      'In a clone or a project that depends on edgetune, run the CLI as `npx edgetune COMMAND …` (there is no `edgetune`',
      'on PATH unless it was installed globally; `scripts/install.sh` puts it at `PREFIX/bin/edgetune`). Every command',
      'has `--help`. With `--json` exactly one JSON object goes to stdout ([json-output.md](json-output.md)); progress',
      'and logs go to stderr. Exit codes: 0 success, 1 failure at run time, 2 bad input (usage, unreadable or malformed',
      'model, bad dataset, bad signature, over a limit); errors print `edgetune: MESSAGE [CODE]` on stderr, and with',
      '`--json` also `{ "error": { "code", "message" } }` on stdout.',
      '',
      'Boolean options take `--no-NAME` to turn them off; the table shows it where the default is on.',
    ].join('\n'),
  );
  parts.push('');
  parts.push(table(['command', 'what it does'], docs.map((d) => [`[${d.name}](#edgetune-${d.name})`, d.summary])));
  parts.push('');
  parts.push('## Global options');
  parts.push('');
  parts.push(
    table(
      ['option', 'description'],
      [
        [`${code('-h')}, ${code('--help')}`, 'show the commands, or with a command its arguments and options'],
        [`${code('-V')}, ${code('--version')}`, "print edgetune's version (package.json) and exit 0"],
      ],
    ),
  );
  for (const doc of docs) {
    parts.push('');
    parts.push(renderCommand(doc));
  }
  return `${parts.join('\n')}\n`;
}
