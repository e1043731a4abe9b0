/** Checks of task examples, shared by the JSONL reader and evaluateTasks. */
import { ArgumentTypeError, ValueError } from '../errors.js';
import { describe } from '../ops/util.js';
import type { ChoiceExample, LastWordExample, Task } from './types.js';

/**
 * A multiple-choice example ({ context, choices, gold }) or a ValueError naming `where` (file:line, or
 * tasks[i].examples[j]) and the field: context a string, choices at least two non-empty strings (an empty
 * one has no bytes to normalise by), gold an integer index into choices.
 */
export function checkChoiceExample(op: string, where: string, x: unknown): ChoiceExample {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new ValueError(op, `${where}: expected an object { context, choices, gold }, got ${describe(x)}`);
  const o = x as Record<string, unknown>;
  for (const f of ['context', 'choices', 'gold']) if (!(f in o)) throw new ValueError(op, `${where}: missing field '${f}'`);
  if (typeof o.context !== 'string') throw new ValueError(op, `${where}: 'context' must be a string, got ${describe(o.context)}`);
  const c = o.choices;
  if (!Array.isArray(c) || c.length < 2) throw new ValueError(op, `${where}: 'choices' must be an array of at least 2 strings, got ${Array.isArray(c) ? `${c.length} choice${c.length === 1 ? '' : 's'}` : describe(c)}`);
  c.forEach((s, i) => {
    if (typeof s !== 'string' || s === '') throw new ValueError(op, `${where}: 'choices'[${i}] must be a non-empty string, got ${typeof s === 'string' ? "''" : describe(s)}`);
  });
  const g = o.gold;
  if (typeof g !== 'number' || !Number.isInteger(g) || g < 0 || g >= c.length)
    throw new ValueError(op, `${where}: 'gold' must be an integer index in [0, ${c.length}) into 'choices', got ${JSON.stringify(g) ?? describe(g)}`);
  return { context: o.context, choices: c as string[], gold: g };
}

function checkLastWordExample(op: string, where: string, x: unknown): LastWordExample {
  const o = (typeof x === 'object' && x !== null ? x : {}) as Record<string, unknown>;
  if (typeof o.context !== 'string') throw new ValueError(op, `${where}: 'context' must be a string, got ${describe(o.context)}`);
  if (typeof o.target !== 'string' || o.target.trim() === '') throw new ValueError(op, `${where}: 'target' must be a non-empty word, got ${describe(o.target)}`);
  return { context: o.context, target: o.target };
}

/** Throws unless `tasks` is a non-empty array of tasks with valid examples. */
export function checkTasks(op: string, tasks: unknown): Task[] {
  if (!Array.isArray(tasks) || tasks.length === 0) throw new ArgumentTypeError(op, `tasks must be a non-empty array of tasks, got ${describe(tasks)}`);
  tasks.forEach((t, i) => {
    const o = (typeof t === 'object' && t !== null ? t : {}) as Record<string, unknown>;
    if (typeof o.name !== 'string') throw new ArgumentTypeError(op, `tasks[${i}].name must be a string, got ${describe(o.name)}`);
    if (o.kind !== 'choice' && o.kind !== 'last-word') throw new ValueError(op, `tasks[${i}] (${o.name}): kind must be 'choice' or 'last-word', got ${JSON.stringify(o.kind)}`);
    if (!Array.isArray(o.examples) || o.examples.length === 0) throw new ValueError(op, `tasks[${i}] (${o.name}): examples must be a non-empty array`);
    const check = o.kind === 'choice' ? checkChoiceExample : checkLastWordExample;
    o.examples.forEach((e, j) => check(op, `tasks[${i}].examples[${j}] (${o.name})`, e));
  });
  return tasks as Task[];
}
