/** Downstream evaluation: built-in tasks from held-out text, JSONL tasks, and scoring that does not depend on the tokenizer. */
export type { ChoiceExample, LastWordExample, Task, TaskResult } from './types.js';
export { buildLastWordTask, LAST_WORD_CONTEXT_CHARS } from './last_word.js';
export type { LastWordOptions } from './last_word.js';
export { brownBaseTag, buildClozeTask, CLOZE_CONTEXT_CHARS } from './cloze.js';
export type { ClozeOptions } from './cloze.js';
export { builtinTasks } from './builtin.js';
export type { BuiltinTaskOptions } from './builtin.js';
export { loadJsonlTasks } from './jsonl.js';
export { evaluateTasks } from './score.js';
export type { EvaluateTasksOptions } from './score.js';
