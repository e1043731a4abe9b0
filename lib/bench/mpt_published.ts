/**
 * MosaicML's published MPT training throughput by sequence length, the figures the projection is compared
 * with. Data only: nothing here is measured by lmforge.
 *
 * Source: mosaicml/llm-foundry, scripts/train/benchmarking/README.md, section "A100 80GB with 1600 Gbps
 * node-node interconnect (RoCE)", column "Throughput (T/s/GPU)" (tokens per second per GPU), 8 × A100 80GB,
 * amp_bf16, FSDP FULL_SHARD, FlashAttention (triton). https://github.com/mosaicml/llm-foundry/blob/main/scripts/train/benchmarking/README.md
 * Where the table has two rows for one size and length (125m at 2048: global batch 640 and 512), the first
 * row is kept (142830; the other is 141737, 0.8% lower).
 *
 * Architectures: the same repository's scripts/train/yamls/pretrain/mpt-<size>.yaml (d_model, n_heads,
 * n_layers; vocab_size 50368, expansion_ratio 4, no biases, tied embeddings, ALiBi). The published tables
 * were measured with those configurations; several have n_heads changed so that the head size is 128.
 */

export interface MptSize {
  name: string;
  layers: number;
  dim: number;
  heads: number;
}

export const MPT_VOCAB = 50368;

export const MPT_SIZES: readonly MptSize[] = [
  { name: '125M', layers: 12, dim: 768, heads: 12 },
  { name: '350M', layers: 24, dim: 1024, heads: 16 },
  { name: '760M', layers: 24, dim: 1536, heads: 12 },
  { name: '1B', layers: 24, dim: 2048, heads: 16 },
  { name: '3B', layers: 32, dim: 2560, heads: 20 },
  { name: '7B', layers: 32, dim: 4096, heads: 32 },
  { name: '13B', layers: 40, dim: 5120, heads: 40 },
  { name: '30B', layers: 48, dim: 7168, heads: 56 },
];

/** Tokens/s per A100 80GB GPU, by model and sequence length. */
export const MPT_A100_TOKENS_PER_GPU: Readonly<Record<string, Readonly<Record<number, number>>>> = {
  '125M': { 2048: 142830, 4096: 118396, 8192: 90392 },
  '350M': { 2048: 58782, 4096: 49555, 8192: 36569 },
  '760M': { 2048: 32434, 4096: 27351, 8192: 20933 },
  '1B': { 2048: 20513, 4096: 17807, 8192: 13814 },
  '3B': { 2048: 10811, 4096: 9457, 8192: 7695 },
  '7B': { 2048: 4641, 4096: 3684, 8192: 3206 },
  '13B': { 2048: 2262, 4096: 2060, 8192: 1795 },
  '30B': { 2048: 916, 4096: 814, 8192: 574 },
};

export const MPT_SOURCE =
  'mosaicml/llm-foundry scripts/train/benchmarking/README.md, "A100 80GB" table, Throughput (T/s/GPU); architectures from scripts/train/yamls/pretrain/mpt-*.yaml';

/** Parameters of an MPT configuration: 12·d² per layer (qkv 3d², out d², 4× MLP 8d²), two norm weights per layer, tied V·d embedding, final norm. */
export function mptParams(s: MptSize, vocab: number = MPT_VOCAB): number {
  return s.layers * (12 * s.dim * s.dim + 2 * s.dim) + vocab * s.dim + s.dim;
}
