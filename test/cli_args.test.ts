// The CLI's option tables and their parser (lib/cli/args.ts), without a child process: suggestions for
// mistyped options, the checks of numbers, lists and choices, repeatable options, and the generated --help.
import { describe, expect, it } from 'vitest';

import { ValueError } from '../lib/errors.js';
import { editDistance, helpText, parse, suggest, type CommandSpec } from '../lib/cli/args.js';
import { configOptions, defaultConfig, FLAGS } from '../lib/cli/config.js';

const SPEC = {
  name: 'demo run',
  summary: 'a command to test the parser with',
  positionals: 'FILES...',
  options: [
    { name: 'seq-len', type: 'int', min: 1, default: 128, help: 'context length' },
    { name: 'lr', type: 'number', help: 'learning rate' },
    { name: 'val-fraction', type: 'number', min: 0, below: 1, default: 0.05, help: 'held-out share' },
    { name: 'temperature', type: 'number', min: 0, default: 0.8, help: 'sampling temperature' },
    { name: 'steps', type: 'int', min: 0, nullable: true, help: 'steps' },
    { name: 'threads', type: 'ints', default: [1, 2], help: 'thread counts' },
    { name: 'sizes', type: 'list', choices: ['1M', '5M', '91M'], help: 'model sizes' },
    { name: 'special', type: 'list', help: 'special tokens' },
    { name: 'peer', type: 'string', choices: ['torch', 'none'], default: 'torch', help: 'the peer' },
    { name: 'bias', type: 'bool', default: false, help: 'biases' },
    { name: 'data', type: 'string', repeat: true, help: 'a file' },
    { name: 'out', type: 'string', arg: 'DIR', required: true, help: 'where to write', section: 'output:' },
    { name: 'M', type: 'int', min: 1, help: 'rows', section: 'output:' },
    { name: 'quick', type: 'flag', help: 'shorter' },
  ],
} as const satisfies CommandSpec;

const run = (...argv: string[]) => parse(SPEC, ['--out', 'o', ...argv]);

/** The one-line message of the ValueError that `f` throws. */
function message(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ValueError);
    return (e as Error).message;
  }
  throw new Error('expected a ValueError');
}

describe('lmforge option parser', () => {
  it('parses every type, applies the defaults and records what was given', () => {
    const a = run('f1', '--seq-len', '256', '--lr=-1e-3', '--threads', '1,2,4', '--sizes', ' 1M, 91M', '--special', 'a,,b', '--bias', 'true', '--quick', 'f2', '--', '--not-an-option');
    expect(a.help).toBe(false);
    expect(a.positionals).toEqual(['f1', 'f2', '--not-an-option']);
    expect(a.values).toMatchObject({ 'seq-len': 256, lr: -1e-3, 'val-fraction': 0.05, threads: [1, 2, 4], sizes: ['1M', '91M'], special: ['a', 'b'], peer: 'torch', bias: true, quick: true, out: 'o', data: [] });
    expect(a.values.steps).toBeUndefined();
    expect([...a.given].sort()).toEqual(['bias', 'lr', 'out', 'quick', 'seq-len', 'sizes', 'special', 'threads']);
    // A value that starts with a dash is the option's value (as the hand-written parser took it).
    expect(run('--lr', '-2').values.lr).toBe(-2);
    expect(run('--steps', 'null').values.steps).toBeNull();
  });

  it('collects a repeatable option in order', () => {
    expect(run('--data', 'a.txt', '--data', 'b.txt', '--data=c.txt').values.data).toEqual(['a.txt', 'b.txt', 'c.txt']);
  });

  it('suggests the closest option for a typo, and points to --help when nothing is close', () => {
    expect(message(() => run('--seq-lenn', '3'))).toBe("demo run: unknown option --seq-lenn (did you mean --seq-len?)");
    expect(message(() => run('--seqlen', '3'))).toMatch(/did you mean --seq-len\?/);
    expect(message(() => run('--temprature', '1'))).toMatch(/did you mean --temperature\?/);
    expect(message(() => run('--frobnicate', '3'))).toBe("demo run: unknown option --frobnicate (run 'lmforge demo run --help' for the options)");
    // One letter off in a one- or two-letter name is not a typo worth guessing at.
    expect(message(() => run('--T', '3'))).toMatch(/unknown option --T \(run/);
    expect(message(() => run('-x'))).toMatch(/unknown option -x \(run/);
    expect(suggest('SWEP', ['sweep', 'soak'])).toBe('sweep');
    expect(suggest('optimizers', ['tokenizers'])).toBeUndefined();
    expect(editDistance('seq-len', 'seq-eln')).toBe(1);
  });

  it('checks every number in one place, with one message style', () => {
    const cases: [string[], RegExp][] = [
      [['--seq-len', '0'], /--seq-len must be a positive integer, got '0'/],
      [['--seq-len', '1.5'], /--seq-len must be a positive integer, got '1.5'/],
      [['--seq-len', 'many'], /--seq-len must be a positive integer, got 'many'/],
      [['--seq-len', ''], /--seq-len must be a positive integer, got ''/],
      [['--lr', 'abc'], /--lr must be a number, got 'abc'/],
      [['--lr', 'Infinity'], /--lr must be a number, got 'Infinity'/],
      [['--val-fraction', '1'], /--val-fraction must be a number in \[0, 1\), got '1'/],
      [['--temperature', '-0.5'], /--temperature must be a non-negative number, got '-0.5'/],
      [['--steps', 'x'], /--steps must be a non-negative integer or null, got 'x'/],
      [['--threads', '1,x'], /--threads must be a comma-separated list of positive integers, got '1,x'/],
      [['--threads', '0'], /--threads must be a comma-separated list of positive integers, got '0'/],
      [['--M', '2048,4096'], /--M must be a positive integer, got '2048,4096'/],
      [['--sizes', '1M,3M'], /--sizes must be a comma-separated list of 1M, 5M, 91M, got '3M'/],
      [['--sizes', '91m'], /got '91m' \(did you mean 91M\?\)/],
      [['--peer', 'tourch'], /--peer must be torch or none, got 'tourch' \(did you mean torch\?\)/],
      [['--bias', 'yes'], /--bias must be true or false, got 'yes'/],
      [['--quick=1'], /--quick takes no value/],
      [['--lr'], /--lr needs a value/],
    ];
    for (const [argv, re] of cases) expect(message(() => run(...argv)), argv.join(' ')).toMatch(re);
    expect(run('--val-fraction', '0').values['val-fraction']).toBe(0);
    expect(message(() => parse(SPEC, []))).toBe('demo run: --out DIR is required');
  });

  it('--help wins over the rest of the line; a command without positionals refuses one', () => {
    expect(parse(SPEC, ['--seq-len', 'x', '--frobnicate', '-h']).help).toBe(true);
    expect(parse(SPEC, ['--help']).help).toBe(true);
    const none = { name: 'info', summary: 's', options: [], positionalsHint: 'none here' } as const satisfies CommandSpec;
    expect(message(() => parse(none, ['extra']))).toBe("info: unexpected argument 'extra' (none here)");
  });

  it('generates the help from the table: usage, each option with its placeholder and default, sections', () => {
    const h = helpText(SPEC);
    expect(h.split('\n')[0]).toBe('lmforge demo run — a command to test the parser with');
    expect(h).toContain('Usage: lmforge demo run --out DIR [FILES...] [options]');
    expect(h).toMatch(/\n {2}--seq-len N +context length \(default 128\)\n/);
    expect(h).toMatch(/\n {2}--threads A,B +thread counts \(default 1,2\)\n/);
    expect(h).toMatch(/\n {2}--peer torch\|none +the peer \(default torch\)\n/);
    expect(h).toMatch(/\n {2}--data X +a file \(repeatable\)\n/);
    expect(h).toMatch(/\n {2}--help +this text/);
    // A section's options come after the others, under its heading.
    expect(h.indexOf('\noutput:\n')).toBeGreaterThan(h.indexOf('--quick'));
    expect(h.indexOf('--out DIR  ')).toBeGreaterThan(h.indexOf('\noutput:\n'));
  });
});

describe('lmforge train options come from the config table', () => {
  it('one option per config key, named by FLAGS, with the key and its default in the help', () => {
    const opts = configOptions();
    expect(opts.map((o) => o.name).sort()).toEqual(Object.keys(FLAGS).sort());
    const cfg = defaultConfig();
    for (const o of opts) {
      const [section, key] = FLAGS[o.name]!;
      expect(o.help, o.name).toContain(`[${section}.${key}]`);
      expect(o.section).toBe(`${section}:`);
      const d = (cfg[section] as Record<string, unknown>)[key];
      if (typeof d === 'number') expect(o.defaultText, o.name).toBe(String(d));
    }
    const byName = new Map(opts.map((o) => [o.name, o]));
    expect(byName.get('seq-len')!.help).toContain('[model.seqLen]');
    expect(byName.get('data')!.repeat).toBe(true);
    expect(byName.get('top-k')!.nullable).toBe(true);
  });
});
