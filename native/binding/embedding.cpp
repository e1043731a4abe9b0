// Bindings of the embedding lookup and its backward scatter.
#include <napi.h>

#include "../ops/ops.h"
#include "args.h"
#include "guard.h"
#include "registry.h"

namespace lmf::binding {

LMF_BIND(embedding) {
  return wrap(info, ops::embedding(tensor_arg(info, 0, "embedding", "weight"), tensor_arg(info, 1, "embedding", "indices")));
} LMF_END

// embeddingBackward(gradOut, indices, numEmbeddings) -> dweight
LMF_BIND(embeddingBackward) {
  const char* op = "embedding backward";
  return wrap(info, ops::embedding_backward(tensor_arg(info, 0, op, "gradient"), tensor_arg(info, 1, op, "indices"),
                                            int_arg(info, 2, op, "numEmbeddings")));
} LMF_END

}  // namespace lmf::binding
