// Every native entry point the addon exports, once. The binding defines bind_<name> for each and
// registers them from this list; lib/native.ts types the same names.
#pragma once

#define LMF_OP_LIST(X)                                                                          \
  /* creation and transfer */ X(full) X(arange) X(randUniform) X(randNormal) X(fromHost)       \
  /* views and copies */ X(reshape) X(permute) X(transpose) X(slice) X(expand) X(contiguous)    \
  X(astype) X(to) X(copyInto)                                                                   \
  /* math */ X(unary) X(binary) X(binaryScalar) X(where) X(reduce) X(matmul) X(softmax)         \
  X(embedding) X(embeddingBackward) X(crossEntropy) X(crossEntropyBackward)                     \
  /* fused layers */ X(activation) X(activationBackward) X(layerNorm) X(layerNormBackward) X(rmsNorm) \
  X(rmsNormBackward) X(rope)                                                                    \
  /* attention */ X(attentionForward) X(attentionBackward)                                       \
  /* optimizers */ X(sgdStep) X(adamStep) X(adam8bitStep) X(lionStep) X(sophiaStep) X(clipGradNorm) X(hessianEma)       \
  X(quant8Map) X(quantize8) X(dequantize8)                                                      \
  /* tokenizers */ X(bpeTrain) X(unigramEStep) X(unigramAlternatives) X(unigramSubstrings)         \
  /* runtime */ X(numThreads) X(setNumThreads) X(memoryStats) X(resetPeakMemory) X(emptyCache) X(setCacheLimit) X(cpuFeatures) \
  X(setCpuTier) X(cudaAvailable) X(matmulKernelName) X(fmaPeak) X(memBandwidth) X(buildInfo)       \
  /* collectives */ X(commInit) X(commAllReduce) X(commReduceScatter) X(commAllGather) X(commBroadcast) X(commBarrier) \
  X(commTest) X(commWait) X(commFinalize)
