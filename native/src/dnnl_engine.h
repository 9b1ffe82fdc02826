// The one oneDNN CPU engine of the process and each thread's stream, shared by the oneDNN
// kernels (dnnl_ops.cc, dnnl_nlp.cc); inline, so every file sees the same instances.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

namespace paddle_native {

inline dnnl::engine& Eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

inline dnnl::stream& Strm() {
  thread_local dnnl::stream s(Eng());
  return s;
}

}  // namespace paddle_native
