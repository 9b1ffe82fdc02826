#include "paddle_backend.h"

#include <dlfcn.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "errors.h"
#include "json.h"

namespace paddle_native {

namespace {

// ---- Paddle Inference C API facts (capi_exp pd_types.h / pd_config.h / pd_predictor.h /
// pd_tensor.h / pd_utils.h): opaque handles, PD_Bool = int8_t, these array structs and the
// data type enum (FLOAT32 = 0, INT32 = 1, INT64 = 2).
using PD_Bool = int8_t;
struct PD_Config;
struct PD_Predictor;
struct PD_Tensor;
struct PD_OneDimArrayCstr {
  size_t size;
  char** data;
};
struct PD_OneDimArrayInt32 {
  size_t size;
  int32_t* data;
};
enum PdDataType : int { kPdFloat32 = 0, kPdInt32 = 1, kPdInt64 = 2 };

struct PaddleApi {
  void* lib = nullptr;
  std::string path;
  const char* (*GetVersion)() = nullptr;
  PD_Config* (*ConfigCreate)() = nullptr;
  void (*ConfigDestroy)(PD_Config*) = nullptr;
  void (*ConfigSetModelBuffer)(PD_Config*, const char*, size_t, const char*, size_t) = nullptr;
  void (*ConfigSetCpuMathLibraryNumThreads)(PD_Config*, int32_t) = nullptr;
  void (*ConfigEnableUseGpu)(PD_Config*, uint64_t, int32_t, int32_t) = nullptr;
  void (*ConfigDisableGpu)(PD_Config*) = nullptr;
  PD_Predictor* (*PredictorCreate)(PD_Config*) = nullptr;
  PD_Predictor* (*PredictorClone)(PD_Predictor*) = nullptr;
  void (*PredictorDestroy)(PD_Predictor*) = nullptr;
  PD_OneDimArrayCstr* (*PredictorGetInputNames)(PD_Predictor*) = nullptr;
  PD_OneDimArrayCstr* (*PredictorGetOutputNames)(PD_Predictor*) = nullptr;
  PD_Tensor* (*PredictorGetInputHandle)(PD_Predictor*, const char*) = nullptr;
  PD_Tensor* (*PredictorGetOutputHandle)(PD_Predictor*, const char*) = nullptr;
  PD_Bool (*PredictorRun)(PD_Predictor*) = nullptr;
  void (*TensorDestroy)(PD_Tensor*) = nullptr;
  void (*TensorReshape)(PD_Tensor*, size_t, int32_t*) = nullptr;
  void (*TensorCopyFromCpuFloat)(PD_Tensor*, const float*) = nullptr;
  void (*TensorCopyFromCpuInt64)(PD_Tensor*, const int64_t*) = nullptr;
  void (*TensorCopyFromCpuInt32)(PD_Tensor*, const int32_t*) = nullptr;
  void (*TensorCopyToCpuFloat)(PD_Tensor*, float*) = nullptr;
  void (*TensorCopyToCpuInt64)(PD_Tensor*, int64_t*) = nullptr;
  void (*TensorCopyToCpuInt32)(PD_Tensor*, int32_t*) = nullptr;
  PD_OneDimArrayInt32* (*TensorGetShape)(PD_Tensor*) = nullptr;
  int (*TensorGetDataType)(PD_Tensor*) = nullptr;
  void (*OneDimArrayCstrDestroy)(PD_OneDimArrayCstr*) = nullptr;
  void (*OneDimArrayInt32Destroy)(PD_OneDimArrayInt32*) = nullptr;

  ~PaddleApi() {
    if (lib) dlclose(lib);
  }
};

PaddleError BackendError(const std::string& what) { return PaddleError(ErrorCode::kBackend, what); }

std::unique_ptr<PaddleApi> OpenPaddle(const std::string& requested) {
  std::string name = requested;
  if (name.empty()) {
    const char* env = std::getenv("PADDLE_INFERENCE_LIB");
    name = env && *env ? env : kPaddleLibraryDefault;
  }
  auto api = std::make_unique<PaddleApi>();
  api->lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!api->lib) {
    const char* err = dlerror();
    const char* ld = std::getenv("LD_LIBRARY_PATH");
    throw BackendError("cannot load the Paddle Inference C library \"" + name + "\": " + (err ? err : "dlopen failed") +
                       " (searched: " + (name.find('/') != std::string::npos ? std::string("that path only") :
                       "LD_LIBRARY_PATH=" + std::string(ld ? ld : "") + ", the ld.so cache, /lib, /usr/lib") +
                       "; set paddleLibraryPath or PADDLE_INFERENCE_LIB)");
  }
  api->path = name;
  auto sym = [&](auto& fn, const char* symbol) {
    void* p = dlsym(api->lib, symbol);
    if (!p) throw BackendError("Paddle Inference library " + name + " lacks " + symbol + " (not a capi_exp build?)");
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
  };
  sym(api->GetVersion, "PD_GetVersion");
  sym(api->ConfigCreate, "PD_ConfigCreate");
  sym(api->ConfigDestroy, "PD_ConfigDestroy");
  sym(api->ConfigSetModelBuffer, "PD_ConfigSetModelBuffer");
  sym(api->ConfigSetCpuMathLibraryNumThreads, "PD_ConfigSetCpuMathLibraryNumThreads");
  sym(api->ConfigEnableUseGpu, "PD_ConfigEnableUseGpu");
  sym(api->ConfigDisableGpu, "PD_ConfigDisableGpu");
  sym(api->PredictorCreate, "PD_PredictorCreate");
  sym(api->PredictorClone, "PD_PredictorClone");
  sym(api->PredictorDestroy, "PD_PredictorDestroy");
  sym(api->PredictorGetInputNames, "PD_PredictorGetInputNames");
  sym(api->PredictorGetOutputNames, "PD_PredictorGetOutputNames");
  sym(api->PredictorGetInputHandle, "PD_PredictorGetInputHandle");
  sym(api->PredictorGetOutputHandle, "PD_PredictorGetOutputHandle");
  sym(api->PredictorRun, "PD_PredictorRun");
  sym(api->TensorDestroy, "PD_TensorDestroy");
  sym(api->TensorReshape, "PD_TensorReshape");
  sym(api->TensorCopyFromCpuFloat, "PD_TensorCopyFromCpuFloat");
  sym(api->TensorCopyFromCpuInt64, "PD_TensorCopyFromCpuInt64");
  sym(api->TensorCopyFromCpuInt32, "PD_TensorCopyFromCpuInt32");
  sym(api->TensorCopyToCpuFloat, "PD_TensorCopyToCpuFloat");
  sym(api->TensorCopyToCpuInt64, "PD_TensorCopyToCpuInt64");
  sym(api->TensorCopyToCpuInt32, "PD_TensorCopyToCpuInt32");
  sym(api->TensorGetShape, "PD_TensorGetShape");
  sym(api->TensorGetDataType, "PD_TensorGetDataType");
  sym(api->OneDimArrayCstrDestroy, "PD_OneDimArrayCstrDestroy");
  sym(api->OneDimArrayInt32Destroy, "PD_OneDimArrayInt32Destroy");
  return api;
}

// Input names, types and declared shapes, read from the program itself (the C API cannot
// report a declared input shape before the first feed).
std::vector<TensorSpec> ReadInputSpecs(const std::string& format, const std::vector<uint8_t>& model) {
  std::vector<TensorSpec> specs;
  if (format == "pdmodel") {
    Program program = ParsePdmodel(model.data(), model.size(), "model.pdmodel");
    std::vector<std::pair<int64_t, std::string>> feeds;
    for (const auto& op : program.ops) {
      const auto* out = op.Output("Out");
      if (op.type == "feed" && out && out->size() == 1) feeds.emplace_back(op.attrs.count("col") ? op.attrs.at("col").i : 0, (*out)[0]);
    }
    std::sort(feeds.begin(), feeds.end());
    for (const auto& f : feeds) {
      const VarDesc* v = program.FindVar(f.second);
      if (!v) throw FormatError("model.pdmodel", 0, "feed target " + f.second + " has no VarDesc");
      specs.push_back(TensorSpec{v->name, v->dtype, v->dims});
    }
    return specs;
  }
  JsonValue doc = ParseJson(model.data(), model.size(), "model.json");
  const JsonValue* prog = doc.Find("program");
  const JsonValue* regions = prog ? prog->Find("regions") : nullptr;
  const JsonValue* blocks = regions && regions->IsArray() && !regions->items.empty() ? regions->items[0].Find("blocks") : nullptr;
  const JsonValue* ops = blocks && blocks->IsArray() && !blocks->items.empty() ? blocks->items[0].Find("ops") : nullptr;
  if (!ops || !ops->IsArray()) throw FormatError("model.json", 0, "no program.regions[0].blocks[0].ops");
  for (const auto& op : ops->items) {
    const JsonValue* tag = op.Find("#");
    if (!tag || !tag->IsString() || tag->text != "1.data") continue;
    TensorSpec spec{"", DType::kFloat32, {}};
    const JsonValue* attrs = op.Find("A");
    for (const auto& a : attrs && attrs->IsArray() ? attrs->items : std::vector<JsonValue>{}) {
      const JsonValue* n = a.Find("N");
      const JsonValue* at = a.Find("AT");
      const JsonValue* d = at ? at->Find("D") : nullptr;
      if (!n || !d) continue;
      if (n->text == "name" && d->IsString()) spec.name = d->text;
      if (n->text == "dtype" && d->IsString()) {
        spec.dtype = d->text == "int64" ? DType::kInt64 : d->text == "int32" ? DType::kInt32 : DType::kFloat32;
      }
      if (n->text == "shape" && d->IsArray()) {
        for (const auto& dim : d->items) {
          if (!dim.is_integer || dim.integer < -1 || dim.integer > kMaxTensorElements) throw FormatError("model.json", dim.offset, "absurd input dim");
          spec.shape.push_back(dim.integer);
        }
      }
    }
    if (spec.name.empty()) throw FormatError("model.json", op.offset, "pd_op.data without a name");
    specs.push_back(spec);
  }
  return specs;
}

class PaddleEngine : public Engine {
 public:
  PaddleEngine(std::unique_ptr<PaddleApi> api, std::string version, PD_Predictor* main, std::vector<TensorSpec> inputs,
               uint64_t parameter_bytes)
      : api_(std::move(api)), version_(std::move(version)), main_(main), inputs_(std::move(inputs)), parameter_bytes_(parameter_bytes) {
    PD_OneDimArrayCstr* names = api_->PredictorGetOutputNames(main_);
    if (!names) throw BackendError("PD_PredictorGetOutputNames returned nothing");
    for (size_t i = 0; i < names->size; ++i) output_names_.emplace_back(names->data[i]);
    api_->OneDimArrayCstrDestroy(names);
    InferOutputs();
  }

  ~PaddleEngine() override {
    for (PD_Predictor* p : pool_) api_->PredictorDestroy(p);
    if (main_) api_->PredictorDestroy(main_);
  }

  const std::vector<TensorSpec>& Inputs() const override { return inputs_; }
  const std::vector<TensorSpec>& Outputs() const override { return outputs_; }
  uint64_t ParameterBytes() const override { return parameter_bytes_; }
  uint64_t ArenaBytes() const override { return 0; }  // Paddle manages its own memory
  std::map<std::string, int> OpCounts() const override { return {}; }
  std::string Backend() const override { return "paddle"; }
  std::string BackendVersion() const override { return version_; }

  std::vector<HostTensor> Run(const std::vector<std::pair<std::string, HostTensor>>& inputs, RunTimes* times) override {
    auto start = std::chrono::steady_clock::now();
    for (const auto& spec : inputs_) {
      bool found = false;
      for (const auto& in : inputs) {
        if (in.first != spec.name) continue;
        found = true;
        if (in.second.dtype != spec.dtype) throw PaddleError(ErrorCode::kArgument, "input \"" + spec.name + "\" must be " + DTypeName(spec.dtype));
        if (in.second.shape.size() != spec.shape.size()) throw ShapeErr("input \"" + spec.name + "\" must have rank " + std::to_string(spec.shape.size()));
        for (size_t d = 0; d < spec.shape.size(); ++d) {
          if ((spec.shape[d] >= 0 && in.second.shape[d] != spec.shape[d]) || in.second.shape[d] <= 0 || in.second.shape[d] > INT32_MAX) {
            throw ShapeErr("input \"" + spec.name + "\" has shape " + ShapeString(in.second.shape) + ", expected " + ShapeString(spec.shape));
          }
        }
      }
      if (!found) throw PaddleError(ErrorCode::kArgument, "missing input \"" + spec.name + "\"");
    }
    PD_Predictor* p = Acquire();
    std::vector<HostTensor> out;
    try {
      out = RunOn(p, inputs);
    } catch (...) {
      Give(p);
      throw;
    }
    Give(p);
    if (times) {
      times->latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      times->op_ms["paddle_inference"] = times->latency_ms;
    }
    return out;
  }

 private:
  PD_Predictor* Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!pool_.empty()) {
        PD_Predictor* p = pool_.back();
        pool_.pop_back();
        return p;
      }
    }
    std::lock_guard<std::mutex> lock(clone_mu_);
    PD_Predictor* p = api_->PredictorClone(main_);  // one predictor per concurrent run (CHECKLIST 1.3)
    if (!p) throw BackendError("PD_PredictorClone failed");
    return p;
  }
  void Give(PD_Predictor* p) {
    std::lock_guard<std::mutex> lock(mu_);
    pool_.push_back(p);
  }

  std::vector<HostTensor> RunOn(PD_Predictor* p, const std::vector<std::pair<std::string, HostTensor>>& inputs) {
    for (const auto& in : inputs) {
      PD_Tensor* t = api_->PredictorGetInputHandle(p, in.first.c_str());
      if (!t) throw BackendError("PD_PredictorGetInputHandle(" + in.first + ") failed");
      std::vector<int32_t> shape(in.second.shape.begin(), in.second.shape.end());
      api_->TensorReshape(t, shape.size(), shape.data());
      switch (in.second.dtype) {
        case DType::kFloat32: api_->TensorCopyFromCpuFloat(t, reinterpret_cast<const float*>(in.second.bytes.data())); break;
        case DType::kInt64: api_->TensorCopyFromCpuInt64(t, reinterpret_cast<const int64_t*>(in.second.bytes.data())); break;
        case DType::kInt32: api_->TensorCopyFromCpuInt32(t, reinterpret_cast<const int32_t*>(in.second.bytes.data())); break;
        default: api_->TensorDestroy(t); throw PaddleError(ErrorCode::kArgument, "unsupported input dtype");
      }
      api_->TensorDestroy(t);
    }
    if (!api_->PredictorRun(p)) throw BackendError("PD_PredictorRun failed (see Paddle's log)");
    std::vector<HostTensor> out;
    for (const auto& name : output_names_) {
      PD_Tensor* t = api_->PredictorGetOutputHandle(p, name.c_str());
      if (!t) throw BackendError("PD_PredictorGetOutputHandle(" + name + ") failed");
      HostTensor h;
      try {
        PD_OneDimArrayInt32* shape = api_->TensorGetShape(t);
        if (!shape || shape->size > static_cast<size_t>(kMaxRank)) throw BackendError("output " + name + " has no valid shape");
        for (size_t i = 0; i < shape->size; ++i) h.shape.push_back(shape->data[i]);
        api_->OneDimArrayInt32Destroy(shape);
        int dt = api_->TensorGetDataType(t);
        h.dtype = dt == kPdFloat32 ? DType::kFloat32 : dt == kPdInt64 ? DType::kInt64 : dt == kPdInt32 ? DType::kInt32 : DType::kBool;
        if (h.dtype == DType::kBool) throw BackendError("output " + name + " has unsupported Paddle data type " + std::to_string(dt));
        int64_t n = CheckedNumel(h.shape, "output " + name);
        h.bytes.resize(static_cast<size_t>(n) * DTypeSize(h.dtype));
        if (h.dtype == DType::kFloat32) api_->TensorCopyToCpuFloat(t, reinterpret_cast<float*>(h.bytes.data()));
        else if (h.dtype == DType::kInt64) api_->TensorCopyToCpuInt64(t, reinterpret_cast<int64_t*>(h.bytes.data()));
        else api_->TensorCopyToCpuInt32(t, reinterpret_cast<int32_t*>(h.bytes.data()));
      } catch (...) {
        api_->TensorDestroy(t);
        throw;
      }
      api_->TensorDestroy(t);
      out.push_back(std::move(h));
    }
    return out;
  }

  // Output specs by probing, as the builtin executor does: dims differing between dynamic = 1
  // and dynamic = 2 are -1.
  void InferOutputs() {
    std::vector<std::vector<HostTensor>> probes;
    for (int64_t dyn : {1, 2}) {
      probes.push_back(RunOn(main_, ZeroProbeInputs(inputs_, dyn)));
    }
    for (size_t i = 0; i < output_names_.size(); ++i) {
      TensorSpec spec{output_names_[i], probes[0][i].dtype, probes[0][i].shape};
      MergeProbeShape(spec, probes[1][i].shape);  // a rank change keeps the first probe's shape
      outputs_.push_back(spec);
    }
  }

  std::unique_ptr<PaddleApi> api_;
  std::string version_;
  PD_Predictor* main_;
  std::vector<TensorSpec> inputs_, outputs_;
  std::vector<std::string> output_names_;
  uint64_t parameter_bytes_;
  std::mutex mu_, clone_mu_;
  std::vector<PD_Predictor*> pool_;
};

}  // namespace

std::string ExtractSemver(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i])) || (i > 0 && std::isdigit(static_cast<unsigned char>(text[i - 1])))) continue;
    size_t j = i;
    int dots = 0;
    while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) || (text[j] == '.' && dots < 2 && ++dots))) ++j;
    if (dots == 2 && std::isdigit(static_cast<unsigned char>(text[j - 1]))) return text.substr(i, j - i);
  }
  return "";
}

std::unique_ptr<Engine> CreatePaddleEngine(const LoadOptions& options, const std::string& format,
                                           const std::vector<uint8_t>& model, const std::vector<uint8_t>& params) {
  std::vector<TensorSpec> inputs = ReadInputSpecs(format, model);
  if (inputs.empty()) throw FormatError(format == "pdmodel" ? "model.pdmodel" : "model.json", 0, "program declares no inputs");
  auto api = OpenPaddle(options.paddle_library);
  const char* raw = api->GetVersion();
  std::string reported = raw ? raw : "";
  std::string version = ExtractSemver(reported);
  std::string expected = options.paddle_version.empty() ? kPaddleVersionBuiltFor : options.paddle_version;
  if (version != expected) {
    throw BackendError("Paddle Inference library " + api->path + " reports version \"" + (version.empty() ? reported : version) +
                       "\" but this image was built for " + expected + " (CHECKLIST 1.1: refusing the mismatch)");
  }
  PD_Config* config = api->ConfigCreate();
  if (!config) throw BackendError("PD_ConfigCreate failed");
  api->ConfigSetModelBuffer(config, reinterpret_cast<const char*>(model.data()), model.size(),
                            reinterpret_cast<const char*>(params.data()), params.size());
  api->ConfigSetCpuMathLibraryNumThreads(config, options.cpu_threads);
  if (options.use_gpu) api->ConfigEnableUseGpu(config, 256, options.gpu_device_id, 0 /* float32 */);
  else api->ConfigDisableGpu(config);
  PD_Predictor* predictor = api->PredictorCreate(config);  // takes ownership of config
  if (!predictor) throw BackendError("PD_PredictorCreate failed for this model (see Paddle's log)");
  return std::make_unique<PaddleEngine>(std::move(api), "paddle-inference-" + version, predictor, std::move(inputs), params.size());
}

}  // namespace paddle_native
