/** The backward pass: walks the tape from an output in reverse topological order. */
import { deviceCode, dtypeCode } from '../dtype.js';
import { DTypeError, NativeError, ShapeError, ValueError } from '../errors.js';
import { keep, tidy } from '../memory.js';
import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import { noGrad } from './grad_mode.js';
import { releaseNode, unrefNode, type GradNode } from './node.js';

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

// Tensors reachable from root through unreleased nodes, outputs before the inputs they came from.
function topoOrder(root: Tensor): Tensor[] {
  const post: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      post.push(t);
      continue;
    }
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push([t, true]);
    const node = t.gradNode;
    if (!node) continue;
    if (node.released)
      throw new ValueError('backward', `the graph through '${node.name}' was freed by an earlier backward() (run the forward pass again)`);
    for (const x of node.inputs) if (x && !seen.has(x as Tensor)) stack.push([x as Tensor, false]);
  }
  return post.reverse();
}

const gradReadyHooks = new Set<(leaf: Tensor) => void>();

/**
 * Registers `hook`, called during every backward() as soon as a leaf's gradient for that pass is final
 * (accumulated into .grad), leaves of the last-used tensors first; returns the function that removes it.
 * Data-parallel training starts communicating a bucket of gradients from here, while the rest of the
 * backward runs. The hook may read the gradient but not write it: until backward() returns, it can
 * still share memory with another leaf's (see unshare). An exception in a hook ends the backward.
 */
export function onGradReady(hook: (leaf: Tensor) => void): () => void {
  if (typeof hook !== 'function') throw new ValueError('onGradReady', `hook must be a function, got ${typeof hook}`);
  gradReadyHooks.add(hook);
  return () => void gradReadyHooks.delete(hook);
}

/** Accumulates d(root)/d(leaf) · grad into every leaf's .grad; grad defaults to 1 for a one-element root. */
export function runBackward(root: Tensor, grad?: Tensor): void {
  if (!root.requiresGrad) throw new ValueError('backward', 'the tensor does not require a gradient (no input of its graph has requiresGrad)');
  if (grad !== undefined) {
    if (!(grad instanceof Tensor)) throw new ValueError('backward', 'grad must be a Tensor');
    if (!sameShape(grad.shape, root.shape))
      throw new ShapeError('backward', `grad has shape [${grad.shape.join(', ')}] but the output has [${root.shape.join(', ')}]`);
    if (grad.dtype !== root.dtype) throw new DTypeError('backward', `grad has dtype ${grad.dtype} but the output has ${root.dtype}`);
  } else if (root.size !== 1) {
    throw new ShapeError('backward', `a gradient must be given for an output of shape [${root.shape.join(', ')}] (only one-element outputs default to 1)`);
  }
  const order = topoOrder(root);
  const held: GradNode[] = [];
  for (const t of order) {
    if (t.gradNode) {
      t.gradNode.refs += 1; // ours, so that releasing a consumer cannot free a node we still have to run
      held.push(t.gradNode);
    }
  }
  noGrad(() => {
    const grads = new Map<Tensor, Tensor>();
    const userGrad = grad;
    const fresh: Tensor[] = []; // leaves whose .grad this pass set (rather than added to)
    try {
      grads.set(root, grad ?? new Tensor(native.full(root.shape as number[], dtypeCode(root.dtype), 1, deviceCode(root.device))));
      for (const t of order) {
        const g = grads.get(t);
        if (!g) continue;
        grads.delete(t);
        const node = t.gradNode;
        if (!node) {
          if (accumulateLeaf(t, g, g === userGrad)) fresh.push(t);
          // Every use of the leaf ran before it in this order, so its gradient for this pass is final.
          for (const hook of gradReadyHooks) hook(t);
          continue;
        }
        const results = tidy(() => node.backward(g) as (Tensor | null | undefined)[]);
        const used = new Set<Tensor>();
        for (let i = 0; i < node.inputs.length; i++) {
          const x = node.inputs[i] as Tensor | null;
          let gi = results[i] ?? null;
          if (!x || !gi) {
            if (gi && gi !== g && !used.has(gi)) gi.dispose();
            continue;
          }
          if (!sameShape(gi.shape, x.shape) || gi.dtype !== x.dtype)
            throw new NativeError('backward', `rule of '${node.name}' gave a ${gi.dtype} gradient of shape [${gi.shape.join(', ')}] for a ${x.dtype} input of shape [${x.shape.join(', ')}]`);
          // One tensor object per use, so that disposing one use never frees another.
          if (used.has(gi) || gi === g || gi === userGrad) gi = alias(gi);
          used.add(gi);
          const prev = grads.get(x);
          if (prev) {
            grads.set(x, prev.add(gi));
            prev.dispose();
            gi.dispose();
          } else {
            grads.set(x, gi);
          }
        }
        if (g !== userGrad) g.dispose();
        releaseNode(node);
      }
      unshare(fresh, userGrad);
    } finally {
      for (const g of grads.values()) if (g !== userGrad) g.dispose();
      for (const n of held) unrefNode(n);
    }
  });
}

function alias(t: Tensor): Tensor {
  return new Tensor(native.reshape(t.handle, t.shape as number[]));
}

// True when the leaf's gradient is g itself (or an alias of it) rather than a new sum.
function accumulateLeaf(leaf: Tensor, g: Tensor, isUserGrad: boolean): boolean {
  const own = isUserGrad ? alias(g) : g;
  if (leaf.grad) {
    const sum = leaf.grad.add(own);
    own.dispose();
    leaf.grad.dispose();
    leaf.grad = keep(sum);
    return false;
  }
  leaf.grad = keep(own);
  return true;
}

/**
 * Gives each of these leaves a gradient with memory of its own. Rules hand one tensor to several inputs
 * (an add's operands both get the output's gradient, as aliases), and the gradient given to backward()
 * reaches a leaf unchanged through identity rules; but clipGradNorm and user code write gradients in place,
 * which must not reach another leaf's gradient or the caller's tensor. Only tensors with storages of the
 * same size can share one, so only those are compared.
 */
function unshare(leaves: readonly Tensor[], userGrad: Tensor | undefined): void {
  const bySize = new Map<number, Tensor[]>();
  const seen = (t: Tensor): Tensor[] => {
    const n = t.handle.nbytes();
    let list = bySize.get(n);
    if (!list) bySize.set(n, (list = []));
    return list;
  };
  if (userGrad) seen(userGrad).push(userGrad);
  for (const leaf of leaves) {
    const g = leaf.grad!;
    const same = seen(g);
    if (same.some((o) => o.sharesStorageWith(g))) {
      leaf.grad = keep(g.clone());
      g.dispose();
    } else {
      same.push(g);
    }
  }
}
