/** Multiple-choice tasks from JSONL files in lm-evaluation-harness's shape. */
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';

import { ValueError } from '../errors.js';
import { checkString } from '../ops/util.js';
import { checkChoiceExample } from './check.js';
import type { ChoiceExample, Task } from './types.js';

/**
 * A choice task from a JSONL file, one example a line: `{"context": "...", "choices": ["...", ...], "gold": 0}`
 * (lm-evaluation-harness's multiple-choice shape; other fields are ignored, blank lines skipped). Each
 * choice is a continuation of its context. The task is named after the file (without .jsonl). A bad line
 * is a ValueError naming file:line and the field.
 */
export function loadJsonlTasks(path: string): Task {
  const op = 'loadJsonlTasks';
  checkString(op, 'path', path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ValueError(op, `cannot read task file '${path}' (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const examples: ChoiceExample[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      throw new ValueError(op, `${path}:${i + 1}: not valid JSON`);
    }
    examples.push(checkChoiceExample(op, `${path}:${i + 1}`, obj));
  });
  if (examples.length === 0) throw new ValueError(op, `${path} holds no examples`);
  return { name: basename(path, extname(path)), kind: 'choice', examples };
}
