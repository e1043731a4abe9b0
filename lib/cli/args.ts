/**
 * The lmforge command's option tables and the one parser they drive. Each command declares its options once
 * (name, type, default, bounds, help); from that table come the parsing (node:util's parseArgs splits the
 * words), the checks of every number, the "did you mean" for a mistyped option, and the command's --help.
 */
import { parseArgs as splitArgs } from 'node:util';

import { ValueError } from '../errors.js';
import { hint, suggest } from '../options.js';

// The suggestion helpers live in lib/options.ts (the library's option checks use them too).
export { editDistance, hint, suggest } from '../options.js';

export type OptionType =
  | 'flag' // present or not, takes no value
  | 'string'
  | 'bool' // true or false
  | 'int'
  | 'number' // finite
  | 'ints' // a comma-separated list of integers
  | 'list'; // a comma-separated list of strings, empty items dropped

export interface Option {
  /** The flag without its dashes: 'seq-len'. */
  readonly name: string;
  readonly type: OptionType;
  readonly help: string;
  /** The value's placeholder in --help (default: N, X, A,B, ... by type, or the choices joined by |). */
  readonly arg?: string;
  readonly default?: string | number | boolean | readonly number[];
  /** What --help says the default is when it is not one fixed value ('runs/<date-time>'). */
  readonly defaultText?: string;
  /** The only values allowed ('string'), or allowed in the list ('list'). */
  readonly choices?: readonly string[];
  /** Bounds of an 'int', 'number' or each element of 'ints': min <= v, v <= max, v < below. */
  readonly min?: number;
  readonly max?: number;
  readonly below?: number;
  /** Also takes 'null' (a config key whose default depends on the others). */
  readonly nullable?: boolean;
  /** May be given more than once; the values are collected in order. */
  readonly repeat?: boolean;
  readonly required?: boolean;
  /** The heading this option is listed under in --help (options without one come first). */
  readonly section?: string;
}

export interface CommandSpec {
  /** The words after `lmforge`: 'bench sweep'. Errors name it. */
  readonly name: string;
  /** One line, for `lmforge help` and the top of --help. */
  readonly summary: string;
  /** What the positional arguments are ('FILES/FOLDERS...'); without it the command takes none. */
  readonly positionals?: string;
  readonly positionalsHelp?: string;
  /** Said after "unexpected argument 'X'" by a command that takes no positional arguments. */
  readonly positionalsHint?: string;
  readonly options: readonly Option[];
  /** Text printed after the options. */
  readonly notes?: string;
}

type Value<O extends Option> = O['type'] extends 'flag' | 'bool'
  ? boolean
  : O['type'] extends 'int' | 'number'
    ? number | (O['nullable'] extends true ? null : never)
    : O['type'] extends 'ints'
      ? number[]
      : O['type'] extends 'list'
        ? string[]
        : O['repeat'] extends true
          ? string[]
          : O['choices'] extends readonly (infer C)[]
            ? C
            : string;

/** The parsed values by option name; an option without a default that was not given is undefined (a flag is false). */
export type Values<Os extends readonly Option[]> = string extends Os[number]['name']
  ? Record<string, unknown> // a table built at run time (train's, from the config keys)
  : { [O in Os[number] as O['name']]: O extends { type: 'flag' } | { default: unknown } | { repeat: true } | { required: true } ? Value<O> : Value<O> | undefined };

export interface Parsed<Os extends readonly Option[] = readonly Option[]> {
  /** The words parsed, as given. */
  readonly argv: readonly string[];
  /** --help or -h was given: print the help instead of running. */
  readonly help: boolean;
  readonly positionals: string[];
  readonly values: Values<Os>;
  /** The options given on the command line (as opposed to defaults). */
  readonly given: ReadonlySet<string>;
}

const HELP_OPTION: Option = { name: 'help', type: 'flag', help: 'this text (also -h)' };

const orList = (xs: readonly string[]): string => (xs.length === 2 ? `${xs[0]} or ${xs[1]}` : `one of ${xs.join(', ')}`);

/** What an 'int' or 'number' option (or an element of 'ints') must be, in words: "a positive integer". */
function numberWhat(o: Option): string {
  const int = o.type !== 'number';
  const { min, max, below } = o;
  if (max === undefined && below === undefined) {
    if (min === undefined) return int ? 'an integer' : 'a number';
    if (min === 0) return int ? 'a non-negative integer' : 'a non-negative number';
    if (min === 1 && int) return 'a positive integer';
    return `${int ? 'an integer' : 'a number'} >= ${min}`;
  }
  const lo = min === undefined ? '(-inf' : `[${min}`;
  const hi = below === undefined ? `${max}]` : `${below})`;
  return `${int ? 'an integer' : 'a number'} in ${lo}, ${hi}`;
}

function numberOk(o: Option, v: number): boolean {
  return Number.isFinite(v) && (o.type === 'number' || Number.isInteger(v)) && !(v < (o.min ?? -Infinity)) && !(v > (o.max ?? Infinity)) && !(v >= (o.below ?? Infinity));
}

// Number('') and Number(' ') are 0: an empty word is not a number.
const toNumber = (s: string): number => (s.trim() === '' ? NaN : Number(s));

/** Converts one option's text to its type and checks it: the one place where command-line values are validated. */
function convert(cmd: string, o: Option, raw: string): unknown {
  const bad = (what: string, got = raw): never => {
    const close = o.choices ? suggest(got, o.choices) : undefined;
    throw new ValueError(cmd, `--${o.name} must be ${what}, got '${got}'${close === undefined ? '' : ` (did you mean ${close}?)`}`);
  };
  switch (o.type) {
    case 'flag':
      return true;
    case 'string':
      return o.choices && !o.choices.includes(raw) ? bad(orList(o.choices)) : raw;
    case 'bool':
      return raw === 'true' ? true : raw === 'false' ? false : bad('true or false');
    case 'int':
    case 'number': {
      if (o.nullable && raw === 'null') return null;
      const v = toNumber(raw);
      return numberOk(o, v) ? v : bad(numberWhat(o) + (o.nullable ? ' or null' : ''));
    }
    case 'ints': {
      // Each element is an integer, positive unless the table says otherwise.
      const element: Option = { ...o, type: 'int', min: o.min ?? 1 };
      const xs = raw.split(',').map(toNumber);
      return xs.every((v) => numberOk(element, v)) ? xs : bad(`a comma-separated list of ${numberWhat(element).replace(/^an? /, '').replace('integer', 'integers')}`);
    }
    case 'list': {
      // Empty items are dropped ('a,' is one item); names from a fixed set are matched without spaces.
      const xs = raw.split(',').map((x) => (o.choices ? x.trim() : x)).filter((x) => x !== '');
      const wrong = o.choices ? xs.find((x) => !o.choices!.includes(x)) : undefined;
      return xs.length === 0 || wrong !== undefined ? bad(`a comma-separated list of ${o.choices ? o.choices.join(', ') : 'names'}`, wrong ?? raw) : xs;
    }
  }
}

/** Parses `argv` (the words after the command's name) against the command's table. */
export function parse<const Os extends readonly Option[]>(spec: CommandSpec & { readonly options: Os }, argv: readonly string[]): Parsed<Os> {
  const cmd = spec.name;
  const table = new Map<string, Option>([...spec.options, HELP_OPTION].map((o) => [o.name, o]));
  // Not strict: lmforge checks every token itself, so that each mistake gets its one-line message, and a
  // value that starts with a dash (--lr -1) is taken as the value, as before.
  const { tokens } = splitArgs({
    args: [...argv],
    options: Object.fromEntries([...table.values()].map((o) => [o.name, { type: o.type === 'flag' ? 'boolean' : 'string', ...(o.name === 'help' ? { short: 'h' } : {}) }])),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const help = tokens.some((t) => t.kind === 'option' && t.name === 'help');
  const values: Record<string, unknown> = {};
  const given = new Set<string>();
  const positionals: string[] = [];
  for (const o of spec.options) values[o.name] = o.type === 'flag' ? false : o.repeat ? [] : o.default;
  for (const t of tokens) {
    if (t.kind === 'positional') positionals.push(t.value);
    if (t.kind !== 'option') continue;
    const o = table.get(t.name);
    if (o === undefined) {
      if (help) continue; // --help wins over everything else on the line
      const names = [...table.keys()];
      throw new ValueError(cmd, `unknown option ${t.rawName}${hint(t.name, names, `run 'lmforge ${cmd} --help' for the options`, (n) => `--${n}`)}`);
    }
    if (help) continue;
    if (o.type === 'flag') {
      if (t.value !== undefined) throw new ValueError(cmd, `--${o.name} takes no value`);
    } else if (t.value === undefined) throw new ValueError(cmd, `--${o.name} needs a value`);
    const v = convert(cmd, o, t.value ?? '');
    values[o.name] = o.repeat ? [...(values[o.name] as unknown[]), v] : v;
    given.add(o.name);
  }
  if (!help) {
    const missing = spec.options.find((o) => o.required && !given.has(o.name));
    if (missing) throw new ValueError(cmd, `--${missing.name} ${argOf(missing)} is required`);
    if (spec.positionals === undefined && positionals.length)
      throw new ValueError(cmd, `unexpected argument '${positionals[0]}'${spec.positionalsHint ? ` (${spec.positionalsHint})` : ''}`);
  }
  return { argv, help, positionals, values: values as Values<Os>, given };
}

/** A command: its table, and what it does with the parsed values. */
export interface Command {
  readonly spec: CommandSpec;
  /** Parses `argv` (the words after the command's name) and runs the command, or prints its help. */
  run(argv: readonly string[]): Promise<void>;
}

export function command<const Os extends readonly Option[]>(spec: CommandSpec & { readonly options: Os }, run: (a: Parsed<Os>) => void | Promise<void>): Command {
  return {
    spec,
    async run(argv) {
      const a = parse(spec, argv);
      if (a.help) process.stdout.write(`${helpText(spec)}\n`);
      else await run(a);
    },
  };
}

function argOf(o: Option): string {
  if (o.arg) return o.arg;
  if (o.choices && o.type === 'string') return o.choices.join('|');
  return { flag: '', string: 'X', bool: 'true|false', int: 'N', number: 'X', ints: 'A,B', list: 'A,B' }[o.type];
}

function defaultOf(o: Option): string | undefined {
  if (o.defaultText !== undefined) return o.defaultText;
  if (o.default === undefined || o.type === 'flag') return undefined;
  return Array.isArray(o.default) ? o.default.join(',') : String(o.default);
}

const COLUMN = 26;

function row(left: string, text: string): string {
  const pad = left.length < COLUMN - 1 ? left.padEnd(COLUMN) : `${left}\n${''.padEnd(COLUMN)}`;
  return `${pad}${text.split('\n').join(`\n${''.padEnd(COLUMN)}`)}`;
}

/** The command with its required options and its positional arguments: 'lmforge eval --checkpoint DIR'. */
export function synopsis(spec: CommandSpec): string {
  const required = spec.options.filter((o) => o.required).map((o) => `--${o.name} ${argOf(o)}`);
  return [`lmforge ${spec.name}`, ...required, ...(spec.positionals ? [`[${spec.positionals}]`] : [])].join(' ');
}

/** The command's --help, generated from its table. */
export function helpText(spec: CommandSpec): string {
  const usage = `${synopsis(spec)}${spec.options.some((o) => !o.required) ? ' [options]' : ''}`;
  const lines = [`lmforge ${spec.name} — ${spec.summary}`, '', `Usage: ${usage}`];
  if (spec.positionals) lines.push('', row(`  ${spec.positionals}`, spec.positionalsHelp ?? ''));
  // Options without a section first (and --help with them), then each section in the order it first appears.
  const sections = [undefined, ...new Set(spec.options.map((o) => o.section).filter((x) => x !== undefined))];
  for (const section of sections) {
    lines.push('', section ?? 'Options:');
    for (const o of section === undefined ? [...spec.options.filter((x) => x.section === undefined), HELP_OPTION] : spec.options.filter((x) => x.section === section)) {
      const d = defaultOf(o);
      lines.push(row(`  --${o.name}${o.type === 'flag' ? '' : ` ${argOf(o)}`}`, `${o.help}${o.repeat ? ' (repeatable)' : ''}${d === undefined ? '' : ` (default ${d})`}`));
    }
  }
  if (spec.notes) lines.push('', spec.notes);
  return lines.join('\n');
}
