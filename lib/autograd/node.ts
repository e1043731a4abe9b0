/**
 * The tape: each differentiable op that ran with recording on leaves a GradNode on its output. A node
 * holds its inputs (to route gradients), the tensors its backward rule needs (`saved`, private
 * aliases that no tidy() scope frees) and the rule itself.
 *
 * Lifetimes are reference counted so that memory goes as early as possible: a node is referenced by
 * its live output and by every unreleased node that consumed that output. backward() releases each
 * node once its rule has run; disposing the last output of a graph that is never backpropagated
 * releases the graph below it. Released nodes dispose their saved tensors.
 */

/** What a node needs of a tensor; implemented by Tensor (kept structural to avoid an import cycle). */
export interface GradTensor {
  readonly shape: readonly number[];
  gradNode: GradNode | null;
  readonly requiresGrad: boolean;
  dispose(): void;
}

export type BackwardRule = (grad: never) => (unknown | null | undefined)[];

export class GradNode {
  refs = 1; // the output that carries it
  released = false;
  constructor(
    readonly name: string,
    /** Inputs in the rule's order; null where an input needs no gradient. */
    readonly inputs: (GradTensor | null)[],
    /** Returns one gradient per input (null or undefined where none). */
    readonly backward: (grad: GradTensor) => (GradTensor | null | undefined)[],
    readonly saved: GradTensor[],
  ) {
    for (const x of inputs) if (x?.gradNode) x.gradNode.refs += 1;
  }
}

export function releaseNode(node: GradNode): void {
  if (node.released) return;
  node.released = true;
  for (const s of node.saved) s.dispose();
  node.saved.length = 0;
  for (const x of node.inputs) if (x?.gradNode) unrefNode(x.gradNode);
}

export function unrefNode(node: GradNode): void {
  node.refs -= 1;
  if (node.refs <= 0) releaseNode(node);
}
