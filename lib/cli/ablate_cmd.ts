/** `lmforge ablate`: a grid of training runs over config keys, from flags with comma lists or a grid file. */
import { join, resolve } from 'node:path';

import { ValueError } from '../errors.js';
import { runAblation } from '../research/ablate.js';
import { ABLATION_MODES, checkAxisKey, checkBaseKeys, DEFAULT_TOKENS, normalizeAxes, parseGridFile, type AblationMode, type AblationSpec, type Axis } from '../research/ablate_spec.js';
import { command, parse, type CommandSpec, type Option } from './args.js';
import { absolutePaths, applyFlag, configOptions, defaultConfig, FLAGS, mergeConfig, readConfigFile, type RunConfig } from './config.js';
import { stamp, totalStepsOf } from './train_cmd.js';

// Each config flag of `lmforge train`, taking a comma list here: two values or more make an axis, one sets the base.
// The sample keys are left out: a grid draws no samples.
const CONFIG_OPTIONS: Option[] = configOptions().filter((o) => !['sample-tokens', 'sample-prompt', 'temperature', 'top-k'].includes(o.name));
// The defaults that differ from train's.
const DEFAULTS: Record<string, string> = {
  steps: 'none', tokens: DEFAULT_TOKENS.toLocaleString('en-US'), 'eval-every': 'an eighth of the run', 'checkpoint-every': 'a quarter of the run', seed: 'set by --seeds', 'model-seed': 'set by --seeds',
};
const LIST_OPTIONS: Option[] = CONFIG_OPTIONS.map((o) => {
  const defaultText = DEFAULTS[o.name] ?? o.defaultText;
  return o.repeat ? o : { name: o.name, type: 'string', help: o.help, arg: `${o.arg ?? (o.type === 'bool' ? 'true|false' : o.type === 'string' ? 'X' : 'N')},...`, ...(defaultText === undefined ? {} : { defaultText }), ...(o.section === undefined ? {} : { section: o.section }) };
});

export const ABLATE = {
  name: 'ablate',
  summary: 'train a grid of runs over config choices (same data, budget and seeds) and compare them',
  positionals: 'FILES/FOLDERS...',
  positionalsHelp: 'training text as for train (default the bundled Brown corpus); every cell trains on it',
  options: [
    { name: 'grid', type: 'string', arg: 'FILE', help: 'JSON: { "base": {run config, as train --config}, "axes": { "model.position": ["rope", "alibi"], ... },\n"mode": "full", "seeds": 2 }; flags override it' },
    { name: 'mode', type: 'string', choices: ABLATION_MODES, help: 'full: every combination of the axes; one-at-a-time: the baseline (first value of each\naxis) and each axis varied alone', defaultText: 'full' },
    { name: 'seeds', type: 'int', min: 1, help: 'runs per cell, with seeds 0..N-1 (model init and batch order)', defaultText: '1' },
    { name: 'out', type: 'string', arg: 'DIR', help: 'grid folder: grid.json, cells/<cell>/seed-<s>/ (run folders), results.json/.md, charts;\nrunning again in it skips finished runs and resumes interrupted ones', defaultText: 'runs/ablate-<date-time>' },
    { name: 'force', type: 'flag', help: "use this grid in a folder that holds another: runs whose config is unchanged are kept, the others retrained" },
    { name: 'quiet', type: 'flag', help: 'no per-step progress (the line per run stays)' },
    { name: 'tasks', type: 'list', arg: 'TASKS|none', defaultText: 'last-word,cloze', help: "downstream tasks scored on each run's final model, as eval --tasks (last-word, cloze,\nFILE.jsonl); changing them later scores finished runs again without training" },
    { name: 'task-examples', type: 'int', min: 1, default: 200, help: 'examples per built-in task' },
    ...LIST_OPTIONS,
  ],
  notes: `Every flag of the sections above takes a comma list: two values or more make an axis of the grid, one
value sets it for every cell (over --grid's base). The budget (--tokens, default ${DEFAULT_TOKENS.toLocaleString('en-US')}, or --steps), the data and
the seeds are the same for every cell; --eval-every and --checkpoint-every default to an eighth and a quarter
of the run. Grid files name keys as in the config ("model.position") or as flags ("position").

Examples:
  lmforge ablate --position rope,alibi --activation gelu,swiglu --seeds 2 --threads 1
  lmforge ablate --optimizer adamw,lion,sgd --lr 1e-3,3e-3 --mode one-at-a-time --out runs/opt
  lmforge ablate --grid grid.json --out runs/grid      (again after a stop: continues where it was)`,
} as const satisfies CommandSpec;

/** The base and the axes of the flags: converted and checked by the train flag's own type, one element at a time. */
function fromFlags(given: ReadonlySet<string>, values: Record<string, unknown>, base: RunConfig): { base: RunConfig; axes: Axis[] } {
  const axes: Axis[] = [];
  for (const o of CONFIG_OPTIONS) {
    if (!given.has(o.name)) continue;
    if (o.repeat) {
      applyFlag(base, o.name, values[o.name]);
      continue;
    }
    const raw = String(values[o.name]);
    const items = raw.split(',').map((x) => x.trim());
    if (items.some((x) => x === '')) throw new ValueError('ablate', `--${o.name} has an empty item in '${raw}'`);
    const converted = items.map((x) => parse({ name: 'ablate', summary: '', options: [o] }, [`--${o.name}`, x]).values[o.name]);
    const [section, key] = FLAGS[o.name]!;
    if (converted.length === 1) applyFlag(base, o.name, converted[0]);
    else {
      checkAxisKey(`${section}.${key}`, `--${o.name}`);
      axes.push({ key: `${section}.${key}`, values: converted });
    }
  }
  return { base, axes };
}

/** The grid spec of a command line: defaults, then --grid, then flags. */
export function specOf(given: ReadonlySet<string>, values: Record<string, unknown>, positionals: readonly string[]): AblationSpec {
  let base = defaultConfig();
  base.train.steps = null;
  base.train.tokens = DEFAULT_TOKENS;
  base.train.sampleTokens = 0;
  let axes: Axis[] = [];
  let mode: AblationMode = 'full';
  let seeds = 1;
  const set = new Set<string>(); // keys the user set: the others may take the grid's own defaults
  const gridPath = values.grid as string | undefined;
  if (gridPath !== undefined) {
    const file = parseGridFile(readConfigFile(gridPath), gridPath);
    checkBaseKeys(file.base, `${gridPath} base`);
    const partial = file.base as Partial<Record<string, Record<string, unknown>>>;
    base = mergeConfig(base, partial, `${gridPath} base`);
    for (const [s, ks] of Object.entries(partial)) for (const k of Object.keys(ks ?? {})) set.add(`${s}.${k}`);
    if (set.has('train.steps') && !set.has('train.tokens')) base.train.tokens = null;
    axes = file.axes;
    mode = file.mode ?? mode;
    seeds = file.seeds ?? seeds;
  }
  const flags = fromFlags(given, values, base);
  for (const f of given) if (f in FLAGS) set.add(FLAGS[f]!.join('.'));
  if (given.has('steps') && !given.has('tokens')) base.train.tokens = null;
  if (given.has('tokens') && !given.has('steps')) base.train.steps = null;
  // A flag replaces the file's axis of its key: one value fixes the key, a list makes it the flag's axis (after the file's).
  const flagKeys = new Set([...given].filter((f) => f in FLAGS).map((f) => FLAGS[f]!.join('.')));
  axes = [...axes.filter((x) => !flagKeys.has(x.key)), ...flags.axes];
  if (positionals.length) base.data.files = [...base.data.files, ...positionals];
  if (base.train.steps !== null && base.train.tokens !== null) throw new ValueError('ablate', 'give one budget: train.steps or train.tokens, not both');
  if (base.train.steps === null && base.train.tokens === null) throw new ValueError('ablate', 'a budget is needed: --tokens or --steps');
  if (values.mode !== undefined) mode = values.mode as AblationMode;
  if (values.seeds !== undefined) seeds = values.seeds as number;
  absolutePaths(base);
  // Evaluations for the curves and checkpoints for resuming, scaled to the run unless set.
  const steps = totalStepsOf(base);
  if (!set.has('train.evalEvery')) base.train.evalEvery = Math.max(1, Math.ceil(steps / 8));
  if (!set.has('train.checkpointEvery')) base.train.checkpointEvery = Math.max(1, Math.ceil(steps / 4));
  return { base, axes: normalizeAxes(base, axes), mode, seeds };
}

export const ablateCommand = command(ABLATE, async (a) => {
  const v = a.values as Record<string, unknown> & { out?: string; force: boolean; quiet: boolean };
  const spec = specOf(a.given, v, a.positionals);
  const out = resolve(v.out ?? join('runs', `ablate-${stamp()}`));
  const names = ((v.tasks as string[] | undefined) ?? ['last-word', 'cloze']).filter((t) => t !== 'none');
  const tasks = { names, examples: v['task-examples'] as number, seed: 0 };
  const runs = await runAblation(spec, { out, force: v.force, quiet: v.quiet, tasks, command: `lmforge ablate ${a.argv.join(' ')}`.trim() });
  process.stdout.write(`${runs.length} runs (${runs.filter((r) => r.status === 'skipped').length} finished before); results in ${join(out, 'results.md')}\n`);
});
