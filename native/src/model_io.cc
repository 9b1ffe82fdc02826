#include "model_io.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>

#include "errors.h"
#include "paddle_backend.h"
#include "verify.h"

namespace paddle_native {

namespace {

// File name prefixes, in the order they are looked for: "model" (paddle.jit.save with that
// prefix) and "inference" (what PaddleX / PaddleOCR / PaddleDetection exports write).
const char* const kPrefixes[] = {"model", "inference"};
const char* const kSignature = "signature.json";

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

ModelFiles FindModelFiles(const std::string& dir, const std::string& requested) {
  struct stat st;
  if (dir.empty() || ::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw FormatError(dir.empty() ? "modelDir" : dir, 0, "model directory does not exist or is not a directory");
  }
  if (requested != "auto" && requested != "pdmodel" && requested != "pir") {
    throw PaddleError(ErrorCode::kArgument, "format must be auto, pdmodel or pir, got \"" + requested + "\"");
  }
  std::vector<std::string> tried;
  for (const char* format : {"pdmodel", "pir"}) {
    if (requested != "auto" && requested != format) continue;
    for (const char* prefix : kPrefixes) {
      std::string program = std::string(prefix) + (std::string(format) == "pdmodel" ? ".pdmodel" : ".json");
      tried.push_back(program);
      if (Exists(dir + "/" + program)) return ModelFiles{format, program, std::string(prefix) + ".pdiparams"};
    }
  }
  std::string list;
  for (const auto& t : tried) list += (list.empty() ? "" : ", ") + t;
  throw FormatError(dir, 0, "no model program found (format " + requested + "; looked for " + list + ")");
}

std::vector<std::string> MissingOps(const Program& program) {
  const auto& table = KernelTable();
  std::map<std::string, int> missing;
  for (const auto& op : program.ops) {
    if (op.type == "feed" || op.type == "fetch" || op.type == "fetch_v2" || table.count(op.type)) continue;
    missing[op.source_type.empty() ? op.type : op.source_type]++;
  }
  std::vector<std::string> out;
  for (const auto& m : missing) out.push_back(m.first + (m.second > 1 ? " (x" + std::to_string(m.second) + ")" : ""));
  return out;
}

namespace {

// Refuses a program with ops the builtin backend lacks, naming all of them at once.
void CheckCoverage(const Program& program, const std::string& file) {
  auto missing = MissingOps(program);
  if (missing.empty()) return;
  std::string list;
  for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
  throw PaddleError(ErrorCode::kUnsupportedOp, std::to_string(missing.size()) + " unsupported op type" + (missing.size() > 1 ? "s" : "") +
                                                   " in " + file + ": " + list + " (builtin backend supports: " + SupportedOpList() + ")");
}

std::string NowIso8601() {
  std::time_t t = std::time(nullptr);
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

}  // namespace

std::vector<uint8_t> ReadWholeFile(const std::string& path, const std::string& name, uint64_t limit) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) throw FormatError(name, 0, std::string("cannot open ") + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fileno(f.get()), &st) != 0 || !S_ISREG(st.st_mode)) throw FormatError(name, 0, path + " is not a regular file");
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (limit && size > limit) {
    throw PaddleError(ErrorCode::kMemoryLimit, name + " is " + std::to_string(size) + " bytes, above maxMemoryMB (" +
                                                   std::to_string(limit >> 20) + " MiB)");
  }
  std::vector<uint8_t> data(static_cast<size_t>(size));
  size_t got = size ? std::fread(data.data(), 1, data.size(), f.get()) : 0;
  if (got != data.size()) throw FormatError(name, got, "short read (file changed while loading?)");
  return data;
}

std::unique_ptr<LoadedModel> LoadModel(const LoadOptions& options) {
  const std::string dir = options.model_dir;
  auto path = [&](const std::string& name) { return dir + "/" + name; };
  const ModelFiles files = FindModelFiles(dir, options.format);
  const std::string& format = files.format;
  const std::string& model_name = files.program;
  const std::string& params_name = files.params;
  const uint64_t limit = options.max_memory_mb << 20;
  std::vector<std::string> needed = {model_name};
  if (Exists(path(params_name))) needed.push_back(params_name);

  auto loaded = std::make_unique<LoadedModel>();
  loaded->format = format;
  std::map<std::string, std::vector<uint8_t>> bytes;
  std::map<std::string, std::string> manifest_files;
  if (options.require_signature) {
    if (!Exists(path(kSignature))) {
      throw VerificationError(std::string(kSignature) + " is missing in " + dir +
                              " (signatures are required; pass requireSignature: false to load unsigned models)");
    }
    if (options.public_key_pem.empty()) throw VerificationError("no publicKeyPem given to verify " + dir + "/signature.json");
    std::vector<uint8_t> sig_bytes = ReadWholeFile(path(kSignature), kSignature, 1 << 20);
    SignatureFile sig = ParseSignatureFile(sig_bytes.data(), sig_bytes.size());
    for (const auto& name : needed) {
      if (!sig.files.count(name)) throw VerificationError("model file " + name + " is not listed in signature.json");
    }
    for (const auto& entry : sig.files) {
      if (!Exists(path(entry.first))) throw VerificationError(entry.first + " is listed in signature.json but missing in " + dir);
      std::vector<uint8_t> data = ReadWholeFile(path(entry.first), entry.first, limit);
      std::string got = Sha256Hex(data.data(), data.size());
      if (got != entry.second) {
        throw VerificationError("digest mismatch for " + entry.first + ": signature.json expects sha256 " + entry.second + ", file has " + got);
      }
      if (std::find(needed.begin(), needed.end(), entry.first) != needed.end()) bytes[entry.first] = std::move(data);
    }
    std::string manifest = BuildManifest(sig.files);
    VerifyManifestSignature(sig.algorithm, options.public_key_pem, manifest, sig.signature);
    loaded->verification.verified = true;
    loaded->verification.algorithm = sig.algorithm;
    loaded->verification.key_id = sig.key_id;
    loaded->verification.digest = Sha256Hex(reinterpret_cast<const uint8_t*>(manifest.data()), manifest.size());
    loaded->verification.verified_at = NowIso8601();
  } else {
    for (const auto& name : needed) {
      bytes[name] = ReadWholeFile(path(name), name, limit);
      manifest_files[name] = Sha256Hex(bytes[name].data(), bytes[name].size());
    }
    std::string manifest = BuildManifest(manifest_files);
    loaded->verification.digest = Sha256Hex(reinterpret_cast<const uint8_t*>(manifest.data()), manifest.size());
  }

  // Parse from the same bytes that were hashed.
  const auto& model_bytes = bytes[model_name];
  if (options.backend == "paddle") {
    // Paddle Inference gets the verified bytes from memory (PD_ConfigSetModelBuffer), never a
    // second read of the files.
    static const std::vector<uint8_t> kNoParams;
    const auto& params_bytes = bytes.count(params_name) ? bytes[params_name] : kNoParams;
    loaded->engine = CreatePaddleEngine(options, format, model_bytes, params_bytes);
    return loaded;
  }
  if (options.backend != "builtin") throw PaddleError(ErrorCode::kArgument, "backend must be builtin or paddle, got \"" + options.backend + "\"");
  Program program;
  std::vector<std::string> param_names;
  if (format == "pdmodel") {
    program = ParsePdmodel(model_bytes.data(), model_bytes.size(), model_name);
    for (const auto& v : program.vars) {
      if (v.persistable && v.is_tensor && v.name != "feed" && v.name != "fetch") param_names.push_back(v.name);
    }
    std::sort(param_names.begin(), param_names.end());
  } else {
    program = ParsePirJson(model_bytes.data(), model_bytes.size(), model_name, &param_names);
  }
  CheckCoverage(program, model_name);
  std::vector<const VarDesc*> expected;
  for (const auto& n : param_names) expected.push_back(program.FindVar(n));
  std::vector<HostTensor> params;
  if (!param_names.empty()) {
    if (!bytes.count(params_name)) throw FormatError(params_name, 0, "missing in " + dir + " but the program has " + std::to_string(param_names.size()) + " parameters");
    auto& pbytes = bytes[params_name];
    params = ParsePdiparams(pbytes.data(), pbytes.size(), params_name, expected);
    std::vector<uint8_t>().swap(pbytes);  // release the file copy; tensors own their data now
  }
  auto executor = std::make_unique<Executor>(std::move(program), std::move(param_names), std::move(params), limit, model_name, options.cpu_threads);
  loaded->engine = std::move(executor);
  return loaded;
}

ModelSummary InspectModelDir(const std::string& dir, const std::string& format, uint64_t max_bytes) {
  ModelSummary summary;
  summary.files = FindModelFiles(dir, format);
  const std::string& name = summary.files.program;
  std::vector<uint8_t> bytes = ReadWholeFile(dir + "/" + name, name, max_bytes);
  Program program;
  std::vector<std::string> param_names;
  if (summary.files.format == "pdmodel") {
    program = ParsePdmodel(bytes.data(), bytes.size(), name);
    for (const auto& v : program.vars) {
      if (v.persistable && v.is_tensor && v.name != "feed" && v.name != "fetch") param_names.push_back(v.name);
    }
  } else {
    program = ParsePirJson(bytes.data(), bytes.size(), name, &param_names);
  }
  summary.parameters = param_names.size();
  std::map<int64_t, TensorSpec> feeds;
  std::map<int64_t, std::string> fetches;
  for (const auto& op : program.ops) {
    auto col = op.attrs.count("col") ? op.attrs.at("col").i : 0;
    if (op.type == "feed" && op.Output("Out") && op.Output("Out")->size() == 1) {
      const std::string& var = (*op.Output("Out"))[0];
      const VarDesc* v = program.FindVar(var);
      feeds[col] = TensorSpec{var, v ? v->dtype : DType::kFloat32, v ? v->dims : Shape{}};
    } else if ((op.type == "fetch" || op.type == "fetch_v2") && op.Input("X") && op.Input("X")->size() == 1) {
      fetches[col] = (*op.Input("X"))[0];
    }
    if (op.source_type == "-") continue;
    summary.op_counts[op.source_type.empty() ? op.type : op.source_type]++;
  }
  for (auto& f : feeds) summary.inputs.push_back(std::move(f.second));
  for (auto& f : fetches) summary.outputs.push_back(std::move(f.second));
  summary.missing = MissingOps(program);
  return summary;
}

}  // namespace paddle_native
