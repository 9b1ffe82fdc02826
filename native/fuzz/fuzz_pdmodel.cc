// libFuzzer harness: legacy ProgramDesc parser, then compiling (graph passes, constant folding)
// and shape-probing the program (the executor runs every op on zero inputs and zero weights).
// Only typed PaddleErrors may escape.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../src/errors.h"
#include "../src/executor.h"
#include "../src/program.h"
#include "zero_params.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace paddle_native;
  try {
    Program program = ParsePdmodel(data, size, "model.pdmodel");
    // Parameters as the loader finds them (persistable tensors, sorted by name), zero-filled.
    std::vector<std::string> params;
    for (const auto& v : program.vars)
      if (v.persistable && v.is_tensor && v.name != "feed" && v.name != "fetch") params.push_back(v.name);
    std::sort(params.begin(), params.end());
    std::vector<HostTensor> tensors = ZeroParams(program, params);
    Executor executor(std::move(program), params, std::move(tensors), uint64_t{64} << 20, "model.pdmodel");
  } catch (const PaddleError&) {
  }
  return 0;
}
