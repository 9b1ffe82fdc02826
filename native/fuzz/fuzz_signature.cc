// libFuzzer harness: signature.json (strict JSON, fields, base64) and manifest rebuilding.
#include <cstddef>
#include <cstdint>

#include "../src/errors.h"
#include "../src/verify.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace paddle_native;
  try {
    SignatureFile sig = ParseSignatureFile(data, size);
    (void)BuildManifest(sig.files);
  } catch (const PaddleError&) {
  }
  return 0;
}
