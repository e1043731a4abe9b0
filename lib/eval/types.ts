/** The shapes of downstream tasks and their results. */

/** A multiple-choice example (lm-evaluation-harness's shape): `choices[gold]` is the right continuation of `context`. */
export interface ChoiceExample {
  context: string;
  choices: string[];
  gold: number;
}

/**
 * A last-word example (LAMBADA-style): greedy continuation of `context` must produce `target` as a whole
 * word, after one space (none when the context is empty or ends with whitespace).
 */
export interface LastWordExample {
  context: string;
  target: string;
}

export type Task =
  | { name: string; kind: 'choice'; examples: ChoiceExample[] }
  | { name: string; kind: 'last-word'; examples: LastWordExample[] };

export interface TaskResult {
  name: string;
  kind: Task['kind'];
  examples: number;
  /** Share of examples answered right. */
  accuracy: number;
  /** Standard error of the accuracy, sqrt(acc·(1 − acc)/n). */
  stderr: number;
  /**
   * The baseline beside it. Choice tasks: the mean of 1/choices (a uniform guess). Last-word tasks: the
   * accuracy of always answering the task's most frequent target word (the best constant guess).
   */
  chance: number;
}
