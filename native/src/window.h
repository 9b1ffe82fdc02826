// A convolution / pooling window along one spatial axis and Paddle's padding rules, shared by the
// plain kernels (kernels.cc, where they are defined) and the oneDNN ones (dnnl_ops.cc).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "executor.h"

namespace paddle_native {

// Strides, dilations, paddings and kernel sizes above this are refused (no overflow in size math).
constexpr int64_t kMaxWindowParam = int64_t{1} << 24;

struct Window {
  int64_t k, stride, dilation, pad0, pad1, out;
};

// Fails unless every value is in [1, kMaxWindowParam].
void CheckWindowParams(OpContext& ctx, std::initializer_list<int64_t> values);

// Paddle's padding rules: EXPLICIT (2 or 4 values, or none), SAME: out = ceil(in / stride) (and
// forces dilation 1), VALID: no padding. Fails on a padding outside [0, kMaxWindowParam].
void ResolvePadding(OpContext& ctx, const std::string& algo, const std::vector<int64_t>& pads, int64_t in_h, int64_t in_w,
                    Window* h, Window* w);

}  // namespace paddle_native
