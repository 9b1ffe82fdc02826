// Loading a model directory: read each file once, verify digests and the manifest signature,
// then parse from the same bytes and build the executor.
#pragma once

#include <cstdint>
#include <map>
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
  // backend "paddle": Paddle Inference C API via dlopen (paddle_backend.h)
  std::string backend = "builtin";
  std::string paddle_library;      // empty: $PADDLE_INFERENCE_LIB, then libpaddle_inference_c.so
  std::string paddle_version;      // expected version; empty: kPaddleVersionBuiltFor
  bool use_gpu = false;
  int gpu_device_id = 0;
  int cpu_threads = 1;
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
  std::unique_ptr<Engine> engine;
};

// Reads a whole regular file; refuses files larger than `limit` bytes (MemoryLimitError).
std::vector<uint8_t> ReadWholeFile(const std::string& path, const std::string& name, uint64_t limit);

std::unique_ptr<LoadedModel> LoadModel(const LoadOptions& options);

// Which files of a model directory make the model: the program (`model.pdmodel`,
// `inference.pdmodel`, `model.json` or `inference.json`, looked for in that order, or only
// the requested format's) and the parameters file of the same prefix (which may be absent).
struct ModelFiles {
  std::string format;   // pdmodel | pir
  std::string program;  // file name inside the directory
  std::string params;
};
ModelFiles FindModelFiles(const std::string& dir, const std::string& format);

// Op types of `program` that the builtin backend cannot run (PIR ops under their pd_op name),
// each once, sorted, with " (xN)" when it occurs N > 1 times.
std::vector<std::string> MissingOps(const Program& program);

// What a model directory holds, parsed without verifying a signature or building an engine:
// for `paddle-model inspect` before a deployment.
struct ModelSummary {
  ModelFiles files;
  std::vector<TensorSpec> inputs;      // as declared (-1 = dynamic)
  std::vector<std::string> outputs;    // fetched variable names
  std::map<std::string, int> op_counts;  // PIR: pd_op names; legacy: op types
  std::vector<std::string> missing;      // MissingOps
  size_t parameters = 0;
};
ModelSummary InspectModelDir(const std::string& dir, const std::string& format, uint64_t max_bytes);

}  // namespace paddle_native
