/**
 * Float64 reference for scaled-dot-product attention, written from the definition: for each batch b and
 * query head h it builds the whole [Tq, Tk] score matrix
 *   S[i, j] = scale · <q_i, k_j> - m_h · (pos_i - j)        (ALiBi term only when slopes are given)
 * with pos_i = Tk - Tq + i (queries are the last Tq positions), sets S[i, j] = -inf where the key is
 * masked (causal: j > pos_i; documents: doc[b, j] != doc[b, pos_i]), takes P = softmax over j and
 * out_i = sum_j P[i, j] v_j. Key/value head of query head h: h / (H / Hkv) (grouped-query attention).
 * The backward pass is the chain rule through those three steps: dV = Pᵀ·dO, dP = dO·Vᵀ,
 * dS = P ∘ (dP - rowsum(dP ∘ P)), dQ = scale·dS·K, dK = scale·dSᵀ·Q.
 */

export interface RefAttentionShape {
  B: number;
  H: number;
  Hkv: number;
  Tq: number;
  Tk: number;
  D: number;
}

export interface RefAttentionOptions {
  causal: boolean;
  scale: number;
  slopes?: readonly number[] | null;
  /** [B, Tk] document ids, row-major. */
  docIds?: ArrayLike<number> | null;
}

export interface RefAttentionResult {
  out: Float64Array;
  lse: Float64Array;
  dq?: Float64Array;
  dk?: Float64Array;
  dv?: Float64Array;
}

/** q [B, H, Tq, D], k and v [B, Hkv, Tk, D], dout (optional) like q; all row-major. */
export function refAttention(
  s: RefAttentionShape,
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  o: RefAttentionOptions,
  dout?: ArrayLike<number>,
): RefAttentionResult {
  const { B, H, Hkv, Tq, Tk, D } = s;
  const G = H / Hkv;
  const first = Tk - Tq;
  const out = new Float64Array(B * H * Tq * D);
  const lse = new Float64Array(B * H * Tq);
  const dq = dout ? new Float64Array(out.length) : undefined;
  const dk = dout ? new Float64Array(B * Hkv * Tk * D) : undefined;
  const dv = dout ? new Float64Array(B * Hkv * Tk * D) : undefined;
  const S = new Float64Array(Tq * Tk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const qb = (b * H + h) * Tq;
      const kb = (b * Hkv + Math.floor(h / G)) * Tk;
      for (let i = 0; i < Tq; i++) {
        const pos = first + i;
        for (let j = 0; j < Tk; j++) {
          let masked = o.causal && j > pos;
          if (o.docIds && o.docIds[b * Tk + j] !== o.docIds[b * Tk + pos]) masked = true;
          let x = -Infinity;
          if (!masked) {
            x = 0;
            for (let d = 0; d < D; d++) x += q[(qb + i) * D + d]! * k[(kb + j) * D + d]!;
            x *= o.scale;
            if (o.slopes) x -= o.slopes[h]! * (pos - j);
          }
          S[i * Tk + j] = x;
        }
        let m = -Infinity;
        for (let j = 0; j < Tk; j++) m = Math.max(m, S[i * Tk + j]!);
        let sum = 0;
        for (let j = 0; j < Tk; j++) sum += Math.exp(S[i * Tk + j]! - m);
        const l = m + Math.log(sum);
        lse[qb + i] = l;
        for (let j = 0; j < Tk; j++) S[i * Tk + j] = Math.exp(S[i * Tk + j]! - l); // now P
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let j = 0; j < Tk; j++) acc += S[i * Tk + j]! * v[(kb + j) * D + d]!;
          out[(qb + i) * D + d] = acc;
        }
      }
      if (!dout) continue;
      for (let i = 0; i < Tq; i++) {
        const dP = new Float64Array(Tk);
        let rs = 0;
        for (let j = 0; j < Tk; j++) {
          let acc = 0;
          for (let d = 0; d < D; d++) acc += dout[(qb + i) * D + d]! * v[(kb + j) * D + d]!;
          dP[j] = acc;
          rs += acc * S[i * Tk + j]!;
        }
        for (let j = 0; j < Tk; j++) {
          const p = S[i * Tk + j]!;
          if (p === 0) continue;
          const ds = p * (dP[j]! - rs) * o.scale;
          for (let d = 0; d < D; d++) {
            dq![(qb + i) * D + d] += ds * k[(kb + j) * D + d]!;
            dk![(kb + j) * D + d] += ds * q[(qb + i) * D + d]!;
            dv![(kb + j) * D + d] += p * dout[(qb + i) * D + d]!;
          }
        }
      }
    }
  }
  return { out, lse, dq, dk, dv };
}
