// The op layer, every family's ops in this one header (header names are unique across native/: a family's
// header lives in native/kernels, the op layer has only ops.h, checks.h and dispatch.h): validates dtype,
// shape and device, allocates outputs and calls the kernel twins.
// Every function throws lmf::Error naming the op (as the user knows it) and the offending values.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../core/tensor.h"
#include "../kernels/bpe.h"
#include "../kernels/elementwise.h"
#include "../kernels/reduce.h"
#include "../kernels/unigram.h"
#include "../runtime/collective.h"

namespace lmf::ops {

// creation
Tensor full(const Shape& shape, DType dtype, double value, Device device);
Tensor arange(double start, double stop, double step, DType dtype, Device device);
Tensor rand_uniform(const Shape& shape, DType dtype, uint64_t seed, uint64_t offset, double low, double high, Device device);
Tensor rand_normal(const Shape& shape, DType dtype, uint64_t seed, uint64_t offset, double mean, double std, Device device);
// Copies `bytes` of host data laid out contiguously in `dtype` into a new tensor.
Tensor from_host(const void* data, size_t bytes, const Shape& shape, DType dtype, Device device);
// Copies the tensor's elements in row-major order into dst (numel * dtype size bytes).
void to_host(const Tensor& t, void* dst);

// views and copies
Tensor reshape(const Tensor& t, Shape shape);
Tensor permute(const Tensor& t, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& t, int64_t d0, int64_t d1);
Tensor slice(const Tensor& t, int64_t dim, int64_t start, int64_t end, int64_t step);
Tensor expand(const Tensor& t, const Shape& shape);
Tensor contiguous(const Tensor& t);
Tensor astype(const Tensor& t, DType dtype);
Tensor to_device(const Tensor& t, Device device);
// Copies src into dst elementwise (broadcasting src, converting dtype). A src that shares memory with dst
// is read through a temporary; a dst whose elements overlap (an expanded view) is refused.
void copy_into(const Tensor& dst, const Tensor& src);
// True when two elements of t share an address (a stride 0 over a dimension of size > 1).
bool has_internal_overlap(const Tensor& t);
// True when a and b may share memory: the same storage and intersecting byte ranges.
bool may_overlap(const Tensor& a, const Tensor& b);
// An operand of an op that updates several tensors in place; `what` names it in errors.
struct InPlaceArg {
  const Tensor* t;
  bool written;
  std::string what;
};
// Throws ValueError when an operand that is written may share memory with another operand (operands
// that are only read may share): a fused pass would update that memory twice or read what it wrote.
void check_no_alias(const std::vector<InPlaceArg>& args, const char* op);

// math
Tensor unary(const Tensor& t, kernels::UnaryOp op);
Tensor binary(const Tensor& a, const Tensor& b, kernels::BinaryOp op);
Tensor binary_scalar(const Tensor& a, double s, kernels::BinaryOp op, bool scalar_first);
// cond ? a : b with broadcasting; cond may have any dtype (nonzero is true).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor reduce(const Tensor& t, std::vector<int64_t> dims, bool keepdim, kernels::ReduceOp op);
// a @ b with NumPy matmul semantics (1-d operands promoted, batch dims broadcast); bias over the last
// dim and residual of the output's shape are fused into the epilogue.
Tensor matmul(const Tensor& a, const Tensor& b, const Tensor* bias, const Tensor* residual);
Tensor softmax(const Tensor& t, int64_t dim, bool log);
Tensor embedding(const Tensor& weight, const Tensor& index);
// dWeight [V, D] from dOut [..., D]: rows scattered and summed (duplicates add), accumulated in fp32
// (fp64 for float64) and returned in dOut's dtype.
Tensor embedding_backward(const Tensor& grad_out, const Tensor& index, int64_t num_embeddings);
// Per-row losses [N] (reduction "none"), or their mean over non-ignored rows / sum as a 0-d tensor,
// in the logits' dtype; also each row's log-sum-exp (float32, float64 for float64 logits) for the
// backward pass and the number of non-ignored rows.
struct CrossEntropyResult {
  Tensor loss, lse;
  int64_t valid = 0;
};
// z_loss adds z_loss * lse^2 to each non-ignored row's loss (PaLM's z-loss; 0 = off).
CrossEntropyResult cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index, const std::string& reduction,
                                 double z_loss = 0.0);
// dlogits [N, V] = (softmax(logits) - onehot(target)) * row_grad[row] (0 for ignored rows), from the
// saved log-sum-exp; row_grad is [N] in lse's dtype.
Tensor cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& row_grad, int64_t ignore_index,
                              double z_loss = 0.0);

const char* unary_name(kernels::UnaryOp op);
const char* binary_name(kernels::BinaryOp op);
const char* reduce_name(kernels::ReduceOp op);

// ==== activation, norm, rope ====
// Ops of the fused layer kernels (activation.h, norm.h, rope.h): validation, allocation, dispatch.

// kind: relu, gelu (exact, erf), swish, glu, geglu, swiglu, reglu: lib/ops' ActivationKind and GatedKind.
// Gated kinds map [..., 2h] to [..., h]: act(x[..., :h]) * x[..., h:].
// `op` is the public function errors name. Plain kinds take any rank, 0-d included.
Tensor activation(const Tensor& x, const std::string& kind, const char* op = "activation");
// dx (x's shape) from dy (the output's shape).
Tensor activation_backward(const Tensor& dy, const Tensor& x, const std::string& kind, const char* op = "activation");

// y = norm(s) * w (+ b), s = x or x + residual (then `sum` holds s). mean (layernorm) and rstd have
// x's leading shape, float32 (float64 for float64 data).
struct NormResult {
  Tensor y, mean, rstd;
  std::optional<Tensor> sum;
};
NormResult layer_norm(const Tensor& x, const Tensor& weight, const Tensor* bias, const Tensor* residual, double eps);
NormResult rms_norm(const Tensor& x, const Tensor& weight, const Tensor* residual, double eps);

// Gradients of either norm: dx (also the residual's gradient), dweight, dbias (layernorm with bias only).
// s is the tensor that was normalised (x, or the `sum` output); dsum the gradient reaching `sum`, or null.
struct NormGrads {
  Tensor dx, dw;
  std::optional<Tensor> db;
};
NormGrads layer_norm_backward(const Tensor& dy, const Tensor* dsum, const Tensor& s, const Tensor& weight, const Tensor& mean,
                              const Tensor& rstd, bool has_bias);
NormGrads rms_norm_backward(const Tensor& dy, const Tensor* dsum, const Tensor& s, const Tensor& weight, const Tensor& rstd);

// RoPE on [B, H, T, D]; pairing "half" or "interleaved"; rotary_dims 0 means D. inverse rotates by
// -angle (the backward pass).
// x may be a strided view (the CPU kernel reads it in place); y is contiguous. in_place: rotates x itself
// and returns it (x must not overlap itself).
Tensor rope(const Tensor& x, double base, const std::string& pairing, int64_t offset, int64_t rotary_dims, bool inverse,
            bool in_place = false);

// ==== attention ====
// The attention op: validation, allocation and dispatch for the fused (flash-style) attention kernels.

struct AttentionOptions {
  bool causal = true;
  double scale = 1.0;
  std::vector<double> slopes;       // empty: no ALiBi; else one slope per query head
  const Tensor* doc_ids = nullptr;  // int32 [B, Tk], or null
};

struct AttentionResult {
  Tensor out, lse;  // out [B, H, Tq, D] in q's dtype; lse [B, H, Tq] float32 (float64 for float64)
};

// q [B, H, Tq, D], k and v [B, Hkv, Tk, D]; see native/kernels/attention.h for the definition.
AttentionResult attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o);

struct AttentionGrads {
  Tensor dq, dk, dv;
  Tensor packed;  // with packed: [B, T, H + 2 Hkv, D], of which dq, dk and dv are views
};

// Operands may be strided views (the CPU float32/bfloat16 kernels read them in place). The forward's out
// is laid out like v (token-major v, a view of a fused q/k/v projection, gives a token-major out whose
// [B, T, H * D] view needs no copy); dq, dk and dv like q, k and v. packed
// (Tq = Tk): the gradients are written into one new [B, T, H + 2 Hkv, D] buffer, the layout of a fused
// q/k/v projection's gradient.
AttentionGrads attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                                  const Tensor& lse, const AttentionOptions& o, bool packed = false);

// ==== optim, adam8bit ====
// Optimizer ops: validate the parameter groups and run one fused step over all of them (native/kernels/
// optim.h, adam8bit.h). Parameters and states are updated in place.

// The tensors of one parameter in a step: the parameter, its gradient, the fp32 master copy (bfloat16
// parameters only; null otherwise) and its state tensors, in the order each hyperparameter struct below
// documents.
struct OptimTensors {
  const Tensor* param = nullptr;
  const Tensor* grad = nullptr;
  const Tensor* master = nullptr;
  std::vector<const Tensor*> states;
};

// Parameters that share one set of hyperparameters (a parameter group, or the part of one whose state
// has one layout).
template <class Hyper>
struct OptimGroup {
  Hyper hyper;
  std::vector<OptimTensors> params;
};

// Hyperparameters arrive in double and are validated in double before anything is converted to float.
// `step` counts applied steps, 1 for the first.

// SGD (PyTorch semantics). States: [momentum buffer] when momentum > 0, none otherwise.
struct SgdHyper {
  double lr = 0, weight_decay = 0, momentum = 0, dampening = 0;
  bool nesterov = false;
  int64_t step = 1;
};

// Adam (L2 decay) and AdamW (decoupled). States: [first moment, second moment] (float32).
struct AdamHyper {
  double lr = 0, weight_decay = 0, beta1 = 0, beta2 = 0, eps = 0;
  bool decoupled = false;
  int64_t step = 1;
};

// 8-bit Adam and AdamW. eight_bit: states [first-moment codes, second-moment codes (uint8, one per
// element), first-moment absmax, second-moment absmax (float32, one per block of 256)]; otherwise as Adam
// (small tensors keep float32 state).
struct Adam8bitHyper : AdamHyper {
  bool eight_bit = true;
};

// Lion. States: [momentum].
struct LionHyper {
  double lr = 0, weight_decay = 0, beta1 = 0, beta2 = 0;
};

// SophiaG. States: [first moment, Hessian EMA].
struct SophiaHyper {
  double lr = 0, weight_decay = 0, beta1 = 0, rho = 0, eps = 0;
};

// One fused step over every group. A gradient holding NaN or Inf (checked on every call, over all the
// gradients before any is applied) leaves everything unchanged and the call returns false.
bool sgd_step(const std::vector<OptimGroup<SgdHyper>>& groups);
bool adam_step(const std::vector<OptimGroup<AdamHyper>>& groups);
bool adam8bit_step(const std::vector<OptimGroup<Adam8bitHyper>>& groups);
bool lion_step(const std::vector<OptimGroup<LionHyper>>& groups);
bool sophia_step(const std::vector<OptimGroup<SophiaHyper>>& groups);

// The total 2-norm of the gradients (in double); when it is finite and above max_norm, every gradient is
// scaled by max_norm / (norm + 1e-6). A non-finite norm is returned as is, with nothing scaled.
double clip_grad_norm(const std::vector<const Tensor*>& grads, double max_norm);

// Sophia's Hessian EMA, h = beta2*h + (1-beta2)*e for each (hessian, estimate) pair of each group. An
// estimate holding NaN or Inf (checked over all of them first) leaves every h unchanged: returns false.
struct HessianGroup {
  double beta2 = 0;
  std::vector<const Tensor*> hessians, estimates;
};
bool hessian_ema(const std::vector<HessianGroup>& groups);

// The 256 codes of the signed or unsigned dynamic map, float32.
Tensor quant8_map(bool is_signed);
// Blockwise (256) quantisation of a float32 tensor: [codes uint8 (x's shape), absmax float32 [ceil(n/256)]].
std::vector<Tensor> quantize8(const Tensor& x, bool is_signed);
Tensor dequantize8(const Tensor& codes, const Tensor& absmax, bool is_signed);

// ==== bpe ====
// BPE training op: checks the counted words and the initial vocabulary, then runs the merge loop
// (native/kernels/bpe.h). Host memory only: tokenizers are trained on the CPU.

struct BpeTrainInput {
  const int32_t* symbols = nullptr;  // concatenated words, as ids of the initial vocabulary
  int64_t num_symbols = 0;
  const int32_t* word_offsets = nullptr;  // num_words + 1 entries: word w is symbols[off[w], off[w + 1])
  const double* word_counts = nullptr;    // num_words entries, positive integers
  int64_t num_words = 0;
  const uint8_t* vocab_bytes = nullptr;  // concatenated byte strings of the initial vocabulary
  int64_t num_vocab_bytes = 0;
  const int32_t* vocab_offsets = nullptr;  // vocab_count + 1 entries
  int64_t vocab_count = 0;
};

// Merges in order (left, right, result ids). vocab_size: the target size, at least vocab_count;
// min_frequency >= 0; the first num_special entries are special tokens: no word may hold them and no
// merge may produce their bytes.
std::vector<kernels::BpeMerge> bpe_train(const BpeTrainInput& in, int64_t vocab_size, int64_t min_frequency, int64_t num_special);

// ==== unigram ====
// Unigram (SentencePiece) training ops: check the words and pieces, then run a lattice pass
// (native/kernels/unigram.h). Host memory only: tokenizers are trained on the CPU.

// Flat arrays as they come from JS: sequence k is chars[offsets[k], offsets[k + 1]).
struct UnigramSeqs {
  const int32_t* chars = nullptr;  // code points
  int64_t num_chars = 0;
  const int32_t* offsets = nullptr;
  int64_t num_offsets = 0;  // sequences + 1
};

struct UnigramEStepResult {
  std::vector<double> expected, viterbi, cover;
  kernels::UnigramEStepStats stats;
};

// words: non-empty, counts finite and > 0 (num_counts == words); pieces: non-empty, distinct, scores finite.
UnigramEStepResult unigram_estep(const UnigramSeqs& words, const double* counts, int64_t num_counts, const UnigramSeqs& pieces,
                                 const double* scores, int64_t num_scores);

// Seed substrings (kernels::unigram_substrings_cpu): max_len >= 2, min_count > 0, max_results >= 0.
std::vector<kernels::UnigramSubstring> unigram_substrings(const UnigramSeqs& words, const double* counts, int64_t num_counts,
                                                          int64_t max_len, double min_count, int64_t max_results);

struct UnigramAlternativesResult {
  std::vector<int32_t> status;
  std::vector<int64_t> offsets;
  std::vector<int32_t> ids;
};

UnigramAlternativesResult unigram_alternatives(const UnigramSeqs& pieces, const double* scores, int64_t num_scores);

// ==== distributed ====
// Collectives on tensors (runtime/collective.h): each checks its tensors (contiguous; float32, float64 or
// int32, plus bfloat16/float16 under NCCL; on the CPU for MPI, on CUDA for NCCL), then calls the engine.
// `reduce` is "sum", "avg" (floats only) or "max". Tickets come back from the async forms.
coll::Info comm_init(const std::string& backend, int64_t timeout_ms);
uint64_t comm_all_reduce(const Tensor& t, const std::string& reduce, bool async);
void comm_reduce_scatter(const Tensor& input, const Tensor& output, const std::string& reduce);
void comm_all_gather(const Tensor& input, const Tensor& output);
void comm_broadcast(const Tensor& t, int64_t root);
void comm_barrier();
bool comm_test(uint64_t ticket);
void comm_wait(uint64_t ticket);
void comm_finalize();

}  // namespace lmf::ops
