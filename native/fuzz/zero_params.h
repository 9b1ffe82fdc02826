// Zero-filled parameter tensors of their declared shapes for the fuzz harnesses, so a fuzzed
// program that reads weights is compiled, folded and shape-probed like a loaded one (bounded:
// static dims up to 4096, at most 2^20 elements each).
#pragma once

#include <string>
#include <vector>

#include "../src/errors.h"
#include "../src/program.h"

namespace paddle_native {

inline std::vector<HostTensor> ZeroParams(const Program& program, const std::vector<std::string>& names) {
  std::vector<HostTensor> tensors;
  for (const auto& name : names) {
    const VarDesc* v = program.FindVar(name);
    if (!v) throw PaddleError(ErrorCode::kFormat, "fuzz: parameter without a variable");
    HostTensor t;
    t.dtype = v->dtype;
    t.shape = v->dims;
    int64_t n = 1;
    for (int64_t d : t.shape) {
      if (d < 0 || d > 4096) throw PaddleError(ErrorCode::kFormat, "fuzz: parameter dims out of harness range");
      n *= d;
      if (n > (1 << 20)) throw PaddleError(ErrorCode::kFormat, "fuzz: parameter too large for the harness");
    }
    t.bytes.assign(static_cast<size_t>(n) * DTypeSize(t.dtype), 0);
    tensors.push_back(std::move(t));
  }
  return tensors;
}

}  // namespace paddle_native
