// libFuzzer harness: PIR model.json (JSON parser + PIR translation), then compiling and
// shape-probing the program. Only typed PaddleErrors may escape.
#include <cstddef>
#include <cstdint>

#include "../src/errors.h"
#include "../src/executor.h"
#include "../src/program.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace paddle_native;
  try {
    std::vector<std::string> params;
    Program program = ParsePirJson(data, size, "model.json", &params);
    // Parameters get zero-filled tensors of their declared (static, small) shape.
    std::vector<HostTensor> tensors;
    for (const auto& name : params) {
      const VarDesc* v = program.FindVar(name);
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
    Executor executor(std::move(program), params, std::move(tensors), uint64_t{64} << 20, "model.json");
  } catch (const PaddleError&) {
  }
  return 0;
}
