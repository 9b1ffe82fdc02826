// Loading a model directory: read each file once, verify digests and the manifest signature,
// then parse from the same bytes and build the executor.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "executor.h"

namespace paddle_native {

struct LoadOptions {
  std::string model_dir;
  std::string format = "auto";  // auto | pdmodel | pir
  std::string public_key_pem;
  bool require_signature = true;
  uint64_t max_memory_mb = 2048;
};

struct VerificationInfo {
  bool verified = false;
  std::string algorithm;
  std::string key_id;
  std::string digest;  // SHA-256 hex of the manifest bytes
  std::string verified_at;
};

struct LoadedModel {
  std::string format;  // pdmodel | pir
  VerificationInfo verification;
  std::unique_ptr<Executor> executor;
};

// Reads a whole regular file; refuses files larger than `limit` bytes (MemoryLimitError).
std::vector<uint8_t> ReadWholeFile(const std::string& path, const std::string& name, uint64_t limit);

std::unique_ptr<LoadedModel> LoadModel(const LoadOptions& options);

}  // namespace paddle_native
