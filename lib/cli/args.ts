/** A small argument parser for the lmforge command: positionals and --name value / --flag options. */
import { ValueError } from '../errors.js';

export interface ParsedArgs {
  positionals: string[];
  options: Map<string, string | true>;
}

export function parseArgs(argv: string[], flags: readonly string[], valued: readonly string[]): ParsedArgs {
  const positionals: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if (flags.includes(name)) {
      if (eq >= 0) throw new ValueError('lmforge', `--${name} takes no value`);
      options.set(name, true);
    } else if (valued.includes(name)) {
      const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new ValueError('lmforge', `--${name} needs a value`);
      options.set(name, v);
    } else {
      const all = [...flags, ...valued];
      // Long lists go to --help instead: the error stays one readable line.
      const hint = all.length === 0 ? '' : all.length > 10 ? ' (see --help for the options)' : ` (known: ${all.map((k) => `--${k}`).join(', ')})`;
      throw new ValueError('lmforge', `unknown option --${name}${hint}`);
    }
  }
  return { positionals, options };
}

export function intList(name: string, v: string): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (xs.some((x) => !Number.isInteger(x) || x < 1)) throw new ValueError('lmforge', `--${name} must be a comma-separated list of positive integers, got '${v}'`);
  return xs;
}
