// libFuzzer harness: legacy ProgramDesc parser, then compiling and shape-probing the program
// (the executor runs every op on zero inputs at load). Only typed PaddleErrors may escape.
#include <cstddef>
#include <cstdint>

#include "../src/errors.h"
#include "../src/executor.h"
#include "../src/program.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace paddle_native;
  try {
    Program program = ParsePdmodel(data, size, "model.pdmodel");
    // No parameters: programs that read persistable vars fail cleanly at compile time.
    Executor executor(std::move(program), {}, {}, uint64_t{64} << 20, "model.pdmodel");
  } catch (const PaddleError&) {
  }
  return 0;
}
