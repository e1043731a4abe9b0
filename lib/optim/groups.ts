/** Parameter groups: weight decay for matrices, none for norms, biases and embeddings. */
import { ArgumentTypeError } from '../errors.js';
import { checkFinite, checkObject, describe } from '../ops/util.js';
import { Tensor } from '../tensor.js';

export interface NamedParamGroup {
  params: Tensor[];
  names: string[];
  weightDecay: number;
}

// Names (any path segment, or a substring for the long forms) that mark norms, biases and embeddings.
const NO_DECAY_SEGMENTS = new Set(['bias', 'ln', 'ln1', 'ln2', 'ln_f', 'lnf', 'wte', 'wpe', 'emb', 'tok_emb', 'pos_emb']);
const NO_DECAY_SUBSTRINGS = ['norm', 'embed', 'bias'];

/** True for a parameter that should not be decayed: rank ≤ 1 (biases, norm gains) or a norm/bias/embedding by name. */
export function isNoDecay(name: string, p: Tensor): boolean {
  if (p.ndim <= 1) return true;
  const lower = name.toLowerCase();
  if (NO_DECAY_SUBSTRINGS.some((s) => lower.includes(s))) return true;
  return lower.split(/[./]/).some((seg) => NO_DECAY_SEGMENTS.has(seg));
}

/**
 * Splits named parameters into [decay group, no-decay group] (empty groups left out): norms, biases and
 * embeddings — by name, or by rank ≤ 1 — go in the group with weightDecay 0.
 */
export function paramGroups(namedParams: Iterable<[string, Tensor]> | Record<string, Tensor>, opts: { weightDecay: number }): NamedParamGroup[] {
  const op = 'paramGroups';
  if (typeof namedParams !== 'object' || namedParams === null)
    throw new ArgumentTypeError(op, `namedParams must be an iterable of [name, Tensor] or a record of Tensors, got ${describe(namedParams)}`);
  const weightDecay = checkFinite(op, 'weightDecay', checkObject(op, 'options', opts).weightDecay, 0);
  const entries: [string, Tensor][] = Symbol.iterator in namedParams ? [...(namedParams as Iterable<[string, Tensor]>)] : Object.entries(namedParams);
  const decay: NamedParamGroup = { params: [], names: [], weightDecay };
  const none: NamedParamGroup = { params: [], names: [], weightDecay: 0 };
  for (const entry of entries) {
    if (!Array.isArray(entry)) throw new ArgumentTypeError(op, `namedParams must hold [name, Tensor] pairs, got ${describe(entry)}`);
    const [name, p] = entry as [string, Tensor];
    if (!(p instanceof Tensor)) throw new ArgumentTypeError(op, `parameter '${name}' must be a Tensor, got ${describe(p)}`);
    const g = isNoDecay(name, p) ? none : decay;
    g.params.push(p);
    g.names.push(name);
  }
  return [decay, none].filter((g) => g.params.length > 0);
}
