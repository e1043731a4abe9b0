/** Whether ops record the graph. noGrad() turns recording off for a function, across `await` too. */
import { AsyncLocalStorage } from 'node:async_hooks';

import { checkFunction } from '../errors.js';

const mode = new AsyncLocalStorage<boolean>();

export function isGradEnabled(): boolean {
  return mode.getStore() ?? true;
}

/** Runs fn without recording gradients (inference, optimizer updates, backward rules). */
export function noGrad<T>(fn: () => T): T {
  checkFunction('noGrad', 'fn', fn);
  return mode.run(false, fn);
}

/** Runs fn with recording on, even inside noGrad(). */
export function enableGrad<T>(fn: () => T): T {
  checkFunction('enableGrad', 'fn', fn);
  return mode.run(true, fn);
}
