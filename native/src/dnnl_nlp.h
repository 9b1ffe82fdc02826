// oneDNN kernels for the attention and normalization ops of transformer encoders (batched
// activation x activation products, softmax, layer_norm); Executor::UseNlpKernels puts them in
// place at load (dnnl_nlp.cc).
#pragma once

#include <memory>

#include "executor.h"

namespace paddle_native {

std::shared_ptr<void> MakeNlpState();
void DnnlBatchMatmulKernel(OpContext& ctx);  // legacy `matmul` attrs: transpose_X, transpose_Y, alpha
void DnnlSoftmaxKernel(OpContext& ctx);
void DnnlLayerNormKernel(OpContext& ctx);
// Every kernel of dnnl_nlp.cc (all have a shape-only mode; all read plain tensors).
bool IsNlpKernel(KernelFn fn);

}  // namespace paddle_native
