/** Parameter groups: weight decay for matrices, none for norms, biases and embeddings. */
import { ArgumentTypeError } from '../errors.js';
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
  const entries: [string, Tensor][] = Symbol.iterator in Object(namedParams) ? [...(namedParams as Iterable<[string, Tensor]>)] : Object.entries(namedParams);
  const decay: NamedParamGroup = { params: [], names: [], weightDecay: opts.weightDecay };
  const none: NamedParamGroup = { params: [], names: [], weightDecay: 0 };
  for (const [name, p] of entries) {
    if (!(p instanceof Tensor)) throw new ArgumentTypeError('paramGroups', `parameter '${name}' must be a Tensor`);
    const g = isNoDecay(name, p) ? none : decay;
    g.params.push(p);
    g.names.push(name);
  }
  return [decay, none].filter((g) => g.params.length > 0);
}
