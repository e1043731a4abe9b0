/**
 * 8-bit Adam and AdamW (Dettmers et al., "8-bit Optimizers via Block-wise Quantization", the bitsandbytes
 * design): both moments stored as 8-bit codes into 256-entry dynamic maps (signed for m, unsigned for v),
 * in blocks of 256 elements with one float32 absmax each. The native step dequantizes, updates m, v and
 * the weights in float32, and requantizes each moment to the nearest code against the block's new absmax.
 * About 2.03 bytes of state per parameter. Tensors under `minSize8bit` (4096) elements, and parameters
 * listed in `fp32Params` (embeddings, say), keep float32 state.
 *
 * Where this departs from bitsandbytes, and why:
 * - The maps follow create_dynamic_map's construction but are computed in float64 and rounded once to
 *   float32 (so the float64 reference in the tests rebuilds them exactly); bitsandbytes computes them in
 *   float32, and an outside comparison found 1–2 ulp differences in about 37% of the 256 entries. Codes
 *   can therefore differ from bitsandbytes' where a value lies within a few ulp of a midpoint.
 * - Like bitsandbytes, a negative first moment that rounds to the code of 0 is stored as the
 *   smallest-magnitude negative code, so it keeps its sign; a positive one that rounds to 0 stays 0 (the
 *   sign bit of 0.0 is clear, which is the test bitsandbytes makes).
 * - Weight decay: `Adam8bit` follows PyTorch's Adam (L2: wd·w is added to the gradient before the
 *   moments), whereas bitsandbytes' Adam8bit, like its AdamW8bit, decays the weights directly (decoupled).
 *   `decoupledWeightDecay: true` (or `AdamW8bit`) gives the bitsandbytes behaviour. One difference remains
 *   there: lmforge multiplies w by (1 − lr·wd) before subtracting the update (PyTorch's AdamW), bitsandbytes
 *   after, which changes the step by a factor (1 − lr·wd) on the update only.
 */
import { ArgumentTypeError, ValueError } from '../errors.js';
import { native, type Adam8bitHyper, type NativeStepGroup } from '../native.js';
import { full, zeros } from '../ops/creation.js';
import { Tensor } from '../tensor.js';
import { ADAM_SPECS, adamDefaults, adamHyper, adamState, type AdamOptions } from './adamw.js';
import { Optimizer, type ParamGroup, type ParamGroupInput, type ParamState, type StepEntry } from './optimizer.js';

export interface Adam8bitExtra {
  /** Tensors with fewer elements keep float32 state (default 4096, as bitsandbytes). */
  minSize8bit?: number;
  /** Parameters that keep float32 state whatever their size. */
  fp32Params?: readonly Tensor[];
  /**
   * Decoupled weight decay, w ← w·(1 − lr·wd) as AdamW, instead of L2 (default false, PyTorch's Adam).
   * bitsandbytes' `Adam8bit(params, weight_decay=wd)` decays this way: it is `new Adam8bit(params,
   * { weightDecay: wd, decoupledWeightDecay: true })`, the same step as `new AdamW8bit(params, { weightDecay: wd })`.
   */
  decoupledWeightDecay?: boolean;
}

let zeroCodes: [number, number] | undefined;
/** The codes of 0.0 in the signed and unsigned maps. */
function zeroCode(): [number, number] {
  if (!zeroCodes) {
    const find = (signed: boolean) => {
      const t = new Tensor(native.quant8Map(signed));
      try {
        return (t.dataSync() as Float32Array).indexOf(0);
      } finally {
        t.dispose();
      }
    };
    zeroCodes = [find(true), find(false)];
  }
  return zeroCodes;
}

/** The 256 values of the signed (first moment) or unsigned (second moment) dynamic map. */
export function quant8Map(signed: boolean): Float32Array {
  const t = new Tensor(native.quant8Map(signed));
  try {
    return t.dataSync() as Float32Array;
  } finally {
    t.dispose();
  }
}

function split(opts: Partial<AdamOptions> & Adam8bitExtra, op: string): [Partial<AdamOptions>, number, Set<Tensor>, boolean] {
  const { minSize8bit = 4096, fp32Params = [], decoupledWeightDecay = false, ...rest } = opts;
  if (typeof minSize8bit !== 'number' || !Number.isInteger(minSize8bit) || minSize8bit < 0)
    throw new ValueError(op, `minSize8bit must be a non-negative integer, got ${String(minSize8bit)}`);
  if (typeof decoupledWeightDecay !== 'boolean')
    throw new ArgumentTypeError(op, `decoupledWeightDecay must be a boolean, got ${typeof decoupledWeightDecay}`);
  return [rest, minSize8bit, new Set(fp32Params), decoupledWeightDecay];
}

function state8(p: Tensor, minSize: number, fp32: Set<Tensor>): ParamState | null {
  if (p.size < minSize || fp32.has(p)) return null;
  const [z1, z2] = zeroCode();
  const blocks = Math.ceil(p.size / 256);
  return {
    expAvgCodes: full(p.shape, z1, { dtype: 'uint8', device: p.device }),
    expAvgSqCodes: full(p.shape, z2, { dtype: 'uint8', device: p.device }),
    expAvgAbsmax: zeros([blocks], { device: p.device }),
    expAvgSqAbsmax: zeros([blocks], { device: p.device }),
  };
}

/** Adam (L2 weight decay, or decoupled with `decoupledWeightDecay: true`) with 8-bit blockwise state. */
export class Adam8bit extends Optimizer<AdamOptions, Adam8bitHyper> {
  get name(): string {
    return 'Adam8bit';
  }
  protected readonly decoupled: boolean;
  private readonly minSize: number;
  private readonly fp32: Set<Tensor>;
  constructor(params: readonly Tensor[] | readonly ParamGroupInput<AdamOptions>[], opts: Partial<AdamOptions> & Adam8bitExtra = {}, defaultWd = 0) {
    const [rest, minSize, fp32, decoupled] = split(opts, `${new.target.name}.constructor`);
    super(params, adamDefaults(rest, defaultWd), ADAM_SPECS);
    this.decoupled = decoupled;
    this.minSize = minSize;
    this.fp32 = fp32;
  }
  /** Keeps float32 state for `p` (call before its first step). */
  useFp32State(p: Tensor): void {
    if (this.state.has(p)) throw new ValueError(this.opName('useFp32State'), 'the parameter already has state (call before the first step)');
    this.fp32.add(p);
  }
  protected initState(p: Tensor, _group: ParamGroup<AdamOptions>): ParamState {
    return state8(p, this.minSize, this.fp32) ?? adamState(p);
  }
  protected stepEntry(g: ParamGroup<AdamOptions>, step: number, st: ParamState): StepEntry<Adam8bitHyper> {
    // The state's layout is said, not guessed from the number of tensors.
    const eightBit = st.expAvgCodes !== undefined;
    return {
      hyper: { ...adamHyper(g, step, this.decoupled), eightBit },
      states: eightBit ? [st.expAvgCodes!, st.expAvgSqCodes!, st.expAvgAbsmax!, st.expAvgSqAbsmax!] : [st.expAvg!, st.expAvgSq!],
    };
  }
  protected runStep(groups: NativeStepGroup<Adam8bitHyper>[]): boolean {
    return native.adam8bitStep(groups);
  }
}

/**
 * AdamW (decoupled weight decay, default 0.01) with 8-bit blockwise state: Adam8bit with
 * `decoupledWeightDecay: true`, and bitsandbytes' AdamW8bit (and its Adam8bit given a weight decay).
 */
export class AdamW8bit extends Adam8bit {
  override get name(): string {
    return 'AdamW8bit';
  }
  constructor(params: readonly Tensor[] | readonly ParamGroupInput<AdamOptions>[], opts: Partial<AdamOptions> & Omit<Adam8bitExtra, 'decoupledWeightDecay'> = {}) {
    if ((opts as Adam8bitExtra).decoupledWeightDecay === false)
      throw new ValueError('AdamW8bit.constructor', 'AdamW8bit always decouples weight decay (use Adam8bit for L2 decay)');
    super(params, { ...opts, decoupledWeightDecay: true }, 0.01);
  }
}
