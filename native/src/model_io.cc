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

const char* const kPdmodel = "model.pdmodel";
const char* const kPir = "model.json";
const char* const kParams = "model.pdiparams";
const char* const kSignature = "signature.json";

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
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
  struct stat st;
  if (dir.empty() || ::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw FormatError(dir.empty() ? "modelDir" : dir, 0, "model directory does not exist or is not a directory");
  }
  std::string format = options.format;
  if (format == "auto") {
    if (Exists(path(kPdmodel))) format = "pdmodel";
    else if (Exists(path(kPir))) format = "pir";
    else throw FormatError(dir, 0, std::string("neither ") + kPdmodel + " nor " + kPir + " found (format auto)");
  } else if (format != "pdmodel" && format != "pir") {
    throw PaddleError(ErrorCode::kArgument, "format must be auto, pdmodel or pir, got \"" + format + "\"");
  }
  const std::string model_name = format == "pdmodel" ? kPdmodel : kPir;
  if (!Exists(path(model_name))) throw FormatError(model_name, 0, "missing in " + dir + " (format " + format + ")");
  const uint64_t limit = options.max_memory_mb << 20;
  std::vector<std::string> needed = {model_name};
  if (Exists(path(kParams))) needed.push_back(kParams);

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
    const auto& params_bytes = bytes.count(kParams) ? bytes[kParams] : kNoParams;
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
  std::vector<const VarDesc*> expected;
  for (const auto& n : param_names) expected.push_back(program.FindVar(n));
  std::vector<HostTensor> params;
  if (!param_names.empty()) {
    if (!bytes.count(kParams)) throw FormatError(kParams, 0, "missing in " + dir + " but the program has " + std::to_string(param_names.size()) + " parameters");
    auto& pbytes = bytes[kParams];
    params = ParsePdiparams(pbytes.data(), pbytes.size(), kParams, expected);
    std::vector<uint8_t>().swap(pbytes);  // release the file copy; tensors own their data now
  }
  loaded->engine = std::make_unique<Executor>(std::move(program), std::move(param_names), std::move(params), limit, model_name);
  return loaded;
}

}  // namespace paddle_native
