// libFuzzer harness: PIR model.json (JSON parser + PIR translation), then compiling and
// shape-probing the program. Only typed PaddleErrors may escape.
#include <cstddef>
#include <cstdint>

#include "../src/errors.h"
#include "../src/executor.h"
#include "../src/program.h"
#include "zero_params.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace paddle_native;
  try {
    std::vector<std::string> params;
    Program program = ParsePirJson(data, size, "model.json", &params);
    std::vector<HostTensor> tensors = ZeroParams(program, params);  // zero-filled, declared shapes
    Executor executor(std::move(program), params, std::move(tensors), uint64_t{64} << 20, "model.json");
  } catch (const PaddleError&) {
  }
  return 0;
}
