// oneDNN-backed kernels of the builtin executor: convolution with folded batch_norm, bias,
// residual sum and activation as post-ops, pooling, batch_norm(+relu) and channel concat, all
// on whatever memory layout oneDNN picks (blocked nChw16c/8c on AVX-512/AVX2), so a chain of
// these ops never converts back to NCHW. A Value carries its layout (Value::layout, a
// dnnl::memory::desc owned by a plan that lives as long as the process); other kernels get
// plain NCHW (Executor converts at their inputs, ToPlain).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "executor.h"

namespace paddle_native {

// Activations a conv or batch_norm can apply as a post-op; kind empty = none.
struct PostActivation {
  std::string kind;  // relu, relu6, leaky_relu, hard_swish, sigmoid, swish, tanh, gelu
  float alpha = 0, beta = 0;
};

// Maps a Paddle activation op to a post-op (false when it has none with the same numerics).
bool ActivationPostOp(const OpDesc& op, PostActivation* out);

// What a fused convolution computes: conv(x, W') + b' [+ residual] [then activation], with W'
// and b' the conv's filter and bias with a following batch_norm folded in.
struct FusedConvSpec {
  int64_t oc = 0, icg = 0, kh = 0, kw = 0, groups = 1;
  std::vector<int64_t> strides, dilations, paddings;
  std::string padding_algorithm = "EXPLICIT";
  std::vector<float> weights;  // OIHW (per group: [groups * oc/groups, icg, kh, kw])
  std::vector<float> bias;     // oc values
  bool residual = false;       // adds the "Residual" input before the activation
  PostActivation act;
};

// What a fused matrix product computes: X (flattened to [M, K] at `x_num_col_dims`, -1 = all
// but the last dim) times a constant [K, N] matrix (alpha and any transpose applied), + bias,
// then activation.
struct FusedMatmulSpec {
  int64_t k = 0, n = 0;
  int64_t x_num_col_dims = -1;
  std::vector<float> weights;  // [K, N] row-major
  std::vector<float> bias;     // n values, or empty
  PostActivation act;
};

// Op state for the kernels below (CompiledOp::state).
std::shared_ptr<void> MakeFusedConvState(FusedConvSpec spec);
std::shared_ptr<void> MakeFusedMatmulState(FusedMatmulSpec spec);
std::shared_ptr<void> MakeDnnlOpState();

// Kernels (OpContext::State() is the state above; all honour Dry()).
void FusedConvKernel(OpContext& ctx);
void FusedMatmulKernel(OpContext& ctx);    // input "X" (plain), output "Out"
void DnnlPoolKernel(OpContext& ctx);       // pool2d when DnnlPoolSupported
void DnnlBatchNormKernel(OpContext& ctx);  // batch_norm (NCHW, 4-D), attr fused_relu
void DnnlConcatKernel(OpContext& ctx);     // concat along axis 1 of 4-D float32
bool DnnlPoolSupported(const OpDesc& op);
bool IsDnnlKernel(KernelFn fn);       // every kernel of this file (all have a shape-only mode)
bool TakesDnnlLayouts(KernelFn fn);   // those reading inputs in oneDNN layouts (else plain first)

// Bytes of a value with this layout (nullptr = plain).
size_t LayoutBytes(const void* layout);
// Reorders a value of layout `from` (non-null) into plain row-major at dst.
void ReorderToPlain(const void* from, const void* src, const Shape& shape, void* dst);

// OpenMP threads of the calling thread (oneDNN's runtime); Run sets it per run.
void SetDnnlThreads(int threads);

}  // namespace paddle_native
