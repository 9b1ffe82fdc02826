// libFuzzer harness: combined pdiparams parser against a fixed list of three parameters.
#include <cstddef>
#include <cstdint>

#include "../src/errors.h"
#include "../src/program.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace paddle_native;
  static VarDesc a{"a", true, DType::kFloat32, {}, true};
  static VarDesc b{"b", true, DType::kFloat32, {4, 8}, true};
  static VarDesc c{"c", true, DType::kInt64, {}, true};
  try {
    ParsePdiparams(data, size, "model.pdiparams", {&a, &b, &c});
  } catch (const PaddleError&) {
  }
  return 0;
}
