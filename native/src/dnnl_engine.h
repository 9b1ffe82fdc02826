// The one oneDNN CPU engine of the process and each thread's stream, shared by the oneDNN
// kernels (dnnl_ops.cc, dnnl_nlp.cc); inline, so every file sees the same instances.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

// oneDNN's runtime here is OpenMP (libgomp); declared rather than included so that compilers
// without GCC's omp.h on their path (clang for the fuzzers) build these files too.
extern "C" int omp_get_max_threads(void);
extern "C" void omp_set_num_threads(int);

namespace paddle_native {

inline dnnl::engine& Eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

inline dnnl::stream& Strm() {
  thread_local dnnl::stream s(Eng());
  return s;
}

// The OpenMP threads the calling thread's next parallel region gets (the executor sets them per
// run). oneDNN's JIT convolutions split their work for this count when the primitive is made,
// not when it runs: a primitive made for 1 thread runs on 1 thread however many are set later,
// so every plan cache keys its primitives by it.
inline int DnnlThreads() { return omp_get_max_threads(); }

}  // namespace paddle_native
