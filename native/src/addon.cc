// Node-API surface of the native predictor: one Predictor ObjectWrap per loaded model.
// load() and run() return Promises and do their work on libuv worker threads; inputs are
// copied on the JS thread before the worker starts; no Napi calls happen off the JS thread.
#include <cblas.h>
#include <napi.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <type_traits>

#include "errors.h"
#include "model_io.h"
#include "nvml.h"

namespace paddle_native {

namespace {

// Per-environment state (worker threads each get their own).
struct AddonData {
  Napi::FunctionReference predictor_ctor;
};

// ---- marshalling table: dtype <-> typed array, in one place ---------------------------------
static_assert(sizeof(float) == 4, "float32");
static_assert(sizeof(int32_t) == 4 && sizeof(int64_t) == 8, "ints");

bool DTypeFromString(const std::string& s, DType* out) {
  if (s == "float32") { *out = DType::kFloat32; return true; }
  if (s == "int64") { *out = DType::kInt64; return true; }
  if (s == "int32") { *out = DType::kInt32; return true; }
  return false;
}

napi_typedarray_type TypedArrayFor(DType t) {
  switch (t) {
    case DType::kInt64: return napi_bigint64_array;
    case DType::kInt32: return napi_int32_array;
    default: return napi_float32_array;
  }
}

// Outputs of other element types are widened/narrowed to the three public dtypes.
HostTensor ToPublic(HostTensor t) {
  if (t.dtype == DType::kFloat32 || t.dtype == DType::kInt64 || t.dtype == DType::kInt32) return t;
  HostTensor o;
  o.shape = t.shape;
  size_t n = t.bytes.size() / std::max<size_t>(DTypeSize(t.dtype), 1);
  if (t.dtype == DType::kFloat64) {
    o.dtype = DType::kFloat32;
    o.bytes.resize(n * 4);
    for (size_t i = 0; i < n; ++i) reinterpret_cast<float*>(o.bytes.data())[i] = static_cast<float>(reinterpret_cast<const double*>(t.bytes.data())[i]);
  } else {  // bool, int8, uint8, int16 -> int32
    o.dtype = DType::kInt32;
    o.bytes.resize(n * 4);
    for (size_t i = 0; i < n; ++i) {
      int32_t v = 0;
      if (t.dtype == DType::kInt8) v = reinterpret_cast<const int8_t*>(t.bytes.data())[i];
      else if (t.dtype == DType::kInt16) v = reinterpret_cast<const int16_t*>(t.bytes.data())[i];
      else v = t.bytes[i];
      reinterpret_cast<int32_t*>(o.bytes.data())[i] = v;
    }
  }
  return o;
}

// A JS Error (a TypeError for bad arguments) with the addon's error code.
Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message, bool type_error = false) {
  Napi::Error e = type_error ? Napi::TypeError::New(env, message) : Napi::Error::New(env, message);
  e.Value().Set("code", code);
  return e;
}

// Runs a synchronous entry point: C++ exceptions become JS errors, never a crash.
template <typename Fn>
Napi::Value Guarded(Napi::Env env, Fn fn) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const PaddleError& e) {
    throw MakeError(env, ErrorCodeName(e.code()), e.what());
  } catch (const std::exception& e) {
    throw MakeError(env, "ERR_INTERNAL", e.what());
  }
}

Napi::Array ShapeToJs(Napi::Env env, const Shape& s) {
  Napi::Array a = Napi::Array::New(env, s.size());
  for (size_t i = 0; i < s.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(s[i])));
  return a;
}

Napi::Array SpecsToJs(Napi::Env env, const std::vector<TensorSpec>& specs) {
  Napi::Array a = Napi::Array::New(env, specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", specs[i].name);
    DType pub = specs[i].dtype == DType::kFloat64 ? DType::kFloat32
                : (specs[i].dtype == DType::kFloat32 || specs[i].dtype == DType::kInt64) ? specs[i].dtype
                                                                                          : DType::kInt32;
    o.Set("dtype", DTypeName(pub));
    o.Set("shape", ShapeToJs(env, specs[i].shape));
    a.Set(static_cast<uint32_t>(i), o);
  }
  return a;
}

Napi::Value TensorToJs(Napi::Env env, const HostTensor& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("dtype", DTypeName(t.dtype));
  o.Set("shape", ShapeToJs(env, t.shape));
  size_t es = DTypeSize(t.dtype);
  size_t n = t.bytes.size() / es;
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, t.bytes.size());
  if (!t.bytes.empty()) std::memcpy(buf.Data(), t.bytes.data(), t.bytes.size());
  napi_value arr;
  napi_status st = napi_create_typedarray(env, TypedArrayFor(t.dtype), n, buf, 0, &arr);
  if (st != napi_ok) throw Napi::Error::New(env, "could not create the output typed array");
  o.Set("data", Napi::Value(env, arr));
  return o;
}

// Shared, mutex-protected run statistics.
struct Stats {
  std::mutex mu;
  uint64_t runs = 0, failures = 0;
  bool has_last = false;
  RunTimes last;
  std::map<std::string, double> cumulative;
};

// ---- Predictor -----------------------------------------------------------------------------

class Predictor : public Napi::ObjectWrap<Predictor> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Predictor",
                       {StaticMethod<&Predictor::Load>("load"), InstanceMethod<&Predictor::Run>("run"), InstanceMethod<&Predictor::RunSync>("runSync"),
                        InstanceMethod<&Predictor::Inputs>("inputs"), InstanceMethod<&Predictor::Outputs>("outputs"),
                        InstanceMethod<&Predictor::Info>("info"), InstanceMethod<&Predictor::GetStats>("stats"),
                        InstanceMethod<&Predictor::EstimateRunBytes>("estimateRunBytes"),
                        InstanceMethod<&Predictor::Dispose>("dispose")});
  }

  explicit Predictor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Predictor>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(info.Env(), "Predictor cannot be constructed directly; use Predictor.load(options)");
    }
    auto* holder = info[0].As<Napi::External<std::shared_ptr<LoadedModel>>>().Data();
    model_ = *holder;
    stats_ = std::make_shared<Stats>();
    initialized_ = true;
  }

  static Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value Run(const Napi::CallbackInfo& info);
  Napi::Value RunSync(const Napi::CallbackInfo& info);
  Napi::Value Inputs(const Napi::CallbackInfo& info) {
    return Guarded(info.Env(), [&]() -> Napi::Value {
      Guard(info.Env());
      return SpecsToJs(info.Env(), model_->engine->Inputs());
    });
  }
  Napi::Value Outputs(const Napi::CallbackInfo& info) {
    return Guarded(info.Env(), [&]() -> Napi::Value {
      Guard(info.Env());
      return SpecsToJs(info.Env(), model_->engine->Outputs());
    });
  }
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value InfoImpl(Napi::Env env);
  Napi::Value GetStats(const Napi::CallbackInfo& info);
  Napi::Value StatsImpl(Napi::Env env);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value EstimateRunBytes(const Napi::CallbackInfo& info);

  void RunFinished() { in_flight_--; }

 private:
  void Guard(Napi::Env env) const {
    if (!initialized_) throw MakeError(env, "ERR_NOT_INITIALIZED", "predictor is not initialised");
    if (disposed_) throw MakeError(env, "ERR_DISPOSED", "predictor was disposed");
  }

  bool initialized_ = false;
  bool disposed_ = false;
  std::atomic<int> in_flight_{0};
  std::shared_ptr<LoadedModel> model_;
  std::shared_ptr<Stats> stats_;
};

// An AsyncWorker that settles a promise: Execute runs `Work()` on the pool and turns what it
// throws into the error code and message the JS side rejects with (TypeError for bad arguments).
class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env, const char* what) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), what_(what) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  virtual void Work() = 0;
  virtual void Done(bool /*ok*/) {}

  void Execute() final {
    try {
      Work();
    } catch (const PaddleError& e) {
      code_ = ErrorCodeName(e.code());
      type_error_ = e.code() == ErrorCode::kArgument;
      SetError(e.what());
    } catch (const std::exception& e) {
      code_ = "ERR_INTERNAL";
      SetError(std::string(what_) + " failed: " + e.what());
    } catch (...) {
      code_ = "ERR_INTERNAL";
      SetError(std::string(what_) + " failed with an unknown exception");
    }
    Done(code_.empty());
  }

  // Builds the resolved value on the JS thread; what it throws rejects the promise.
  virtual Napi::Value Result(Napi::Env env) = 0;

  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(Result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (const std::exception& e) {
      deferred_.Reject(MakeError(env, "ERR_INTERNAL", e.what()).Value());
    }
  }

  void OnError(const Napi::Error& e) override {
    Napi::Env env = Env();
    deferred_.Reject(MakeError(env, code_, e.Message(), type_error_).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  const char* what_;
  std::string code_;  // empty while no error was caught
  bool type_error_ = false;
};

class LoadWorker : public PromiseWorker {
 public:
  LoadWorker(Napi::Env env, LoadOptions options, int threads) : PromiseWorker(env, "model load"), options_(std::move(options)), threads_(threads) {}

 private:
  void Work() override {
    // OpenBLAS keeps one process-wide thread count: the last loaded predictor's cpuThreads wins.
    openblas_set_num_threads(threads_);
    model_ = LoadModel(options_);
  }

  Napi::Value Result(Napi::Env env) override {
    auto* data = env.GetInstanceData<AddonData>();
    std::shared_ptr<LoadedModel> shared(std::move(model_));
    auto ext = Napi::External<std::shared_ptr<LoadedModel>>::New(env, &shared);
    return data->predictor_ctor.New({ext});
  }

  LoadOptions options_;
  int threads_;
  std::unique_ptr<LoadedModel> model_;
};

// One run's outcome in the predictor's stats (any thread).
void RecordRun(Stats* stats, bool ok, const RunTimes& times) {
  std::lock_guard<std::mutex> lock(stats->mu);
  stats->runs++;
  if (!ok) {
    stats->failures++;
  } else {
    stats->has_last = true;
    stats->last = times;
    for (const auto& kv : times.op_ms) stats->cumulative[kv.first] += kv.second;
  }
}

// A run's outputs as {name: tensor}, in the model's output order (JS thread).
Napi::Object OutputsToJs(Napi::Env env, const LoadedModel& model, std::vector<HostTensor> outputs) {
  Napi::Object out = Napi::Object::New(env);
  const auto& specs = model.engine->Outputs();
  for (size_t i = 0; i < outputs.size() && i < specs.size(); ++i) out.Set(specs[i].name, TensorToJs(env, ToPublic(std::move(outputs[i]))));
  return out;
}

class RunWorker : public PromiseWorker {
 public:
  RunWorker(Napi::Env env, Napi::Object self, Predictor* owner, std::shared_ptr<LoadedModel> model, std::shared_ptr<Stats> stats,
            std::vector<std::pair<std::string, HostTensor>> inputs)
      : PromiseWorker(env, "run"), owner_(owner), model_(std::move(model)), stats_(std::move(stats)), inputs_(std::move(inputs)) {
    self_ref_ = Napi::Persistent(self);  // keeps the wrapper alive while the run is in flight
  }

 private:
  void Work() override { outputs_ = model_->engine->Run(inputs_, &times_); }

  void Done(bool ok) override { RecordRun(stats_.get(), ok, times_); }

  Napi::Value Result(Napi::Env env) override { return OutputsToJs(env, *model_, std::move(outputs_)); }

  void OnOK() override {
    owner_->RunFinished();
    PromiseWorker::OnOK();
  }

  void OnError(const Napi::Error& e) override {
    owner_->RunFinished();
    PromiseWorker::OnError(e);
  }

  Napi::ObjectReference self_ref_;
  Predictor* owner_;
  std::shared_ptr<LoadedModel> model_;
  std::shared_ptr<Stats> stats_;
  std::vector<std::pair<std::string, HostTensor>> inputs_;
  std::vector<HostTensor> outputs_;
  RunTimes times_;
};

// ---- argument parsing ------------------------------------------------------------------------

std::string OptString(const Napi::Object& o, const char* key, const std::string& def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string("options.") + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

double OptNumber(const Napi::Object& o, const char* key, double def, double lo, double hi) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("options.") + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || d != static_cast<double>(static_cast<int64_t>(d))) {
    throw Napi::RangeError::New(o.Env(), std::string("options.") + key + " must be an integer in [" + std::to_string(static_cast<int64_t>(lo)) + ", " +
                                              std::to_string(static_cast<int64_t>(hi)) + "]");
  }
  return d;
}

Napi::Value Predictor::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "Predictor.load(options) needs an options object");
    Napi::Object o = info[0].As<Napi::Object>();
    LoadOptions opts;
    Napi::Value dir = o.Get("modelDir");
    if (!dir.IsString() || dir.As<Napi::String>().Utf8Value().empty()) throw Napi::TypeError::New(env, "options.modelDir must be a non-empty string");
    opts.model_dir = dir.As<Napi::String>().Utf8Value();
    opts.format = OptString(o, "format", "auto");
    if (opts.format != "auto" && opts.format != "pdmodel" && opts.format != "pir") throw Napi::TypeError::New(env, "options.format must be auto, pdmodel or pir");
    std::string backend = OptString(o, "backend", "builtin");
    if (backend != "builtin" && backend != "paddle") throw Napi::TypeError::New(env, "options.backend must be builtin or paddle");
    std::string device = OptString(o, "device", "cpu");
    if (device != "cpu" && device != "gpu") throw Napi::TypeError::New(env, "options.device must be cpu or gpu");
    opts.public_key_pem = OptString(o, "publicKeyPem", "");
    Napi::Value req = o.Get("requireSignature");
    if (!req.IsUndefined() && !req.IsBoolean()) throw Napi::TypeError::New(env, "options.requireSignature must be a boolean");
    opts.require_signature = req.IsUndefined() ? true : req.As<Napi::Boolean>().Value();
    int threads = static_cast<int>(OptNumber(o, "cpuThreads", 1, 1, 256));
    opts.max_memory_mb = static_cast<uint64_t>(OptNumber(o, "maxMemoryMB", 2048, 1, 1 << 20));
    opts.backend = backend;
    opts.cpu_threads = threads;
    opts.paddle_library = OptString(o, "paddleLibraryPath", "");
    opts.paddle_version = OptString(o, "paddleVersion", "");
    opts.gpu_device_id = static_cast<int>(OptNumber(o, "gpuDeviceId", 0, 0, 1024));
    opts.use_gpu = device == "gpu";
    if (opts.use_gpu && backend != "paddle") {
      throw Napi::TypeError::New(env, "options.device \"gpu\" needs backend \"paddle\" (the builtin backend is CPU only)");
    }
    auto* worker = new LoadWorker(env, std::move(opts), threads);
    Napi::Promise p = worker->Promise();
    worker->Queue();
    return p;
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw MakeError(env, "ERR_INTERNAL", e.what());
  }
}

// An input's shape from JS: an array of at most kMaxRank integers in [0, 2^31].
Shape ShapeFromJs(Napi::Env env, const std::string& name, const Napi::Value& sv) {
  if (!sv.IsArray()) throw Napi::TypeError::New(env, "input \"" + name + "\": shape must be an array of integers");
  Napi::Array sa = sv.As<Napi::Array>();
  if (sa.Length() > static_cast<uint32_t>(kMaxRank)) throw Napi::RangeError::New(env, "input \"" + name + "\": rank above 8");
  Shape shape;
  for (uint32_t k = 0; k < sa.Length(); ++k) {
    Napi::Value d = sa.Get(k);
    if (!d.IsNumber()) throw Napi::TypeError::New(env, "input \"" + name + "\": shape must be an array of integers");
    double dd = d.As<Napi::Number>().DoubleValue();
    if (!(dd >= 0 && dd <= static_cast<double>(kMaxTensorElements)) || dd != static_cast<double>(static_cast<int64_t>(dd))) {
      throw Napi::RangeError::New(env, "input \"" + name + "\": shape entries must be integers in [0, 2^31]");
    }
    shape.push_back(static_cast<int64_t>(dd));
  }
  return shape;
}

// A PaddleError thrown on the JS thread as the promise-based calls reject with it: TypeError for
// bad arguments, else Error, with its code.
Napi::Error PaddleErrorToJs(Napi::Env env, const PaddleError& e) {
  return MakeError(env, ErrorCodeName(e.code()), e.what(), e.code() == ErrorCode::kArgument);
}

// run()'s and runSync()'s argument: {name: {dtype, shape, data}}, checked and copied on the JS thread.
std::vector<std::pair<std::string, HostTensor>> RunInputs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject() || info[0].IsArray()) throw Napi::TypeError::New(env, "run(inputs) needs an object of named tensors");
  Napi::Object in = info[0].As<Napi::Object>();
  Napi::Array keys = in.GetPropertyNames();
  std::vector<std::pair<std::string, HostTensor>> inputs;
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    std::string name = keys.Get(i).As<Napi::String>().Utf8Value();
    Napi::Value tv = in.Get(name);
    if (!tv.IsObject()) throw Napi::TypeError::New(env, "input \"" + name + "\" must be a tensor {dtype, shape, data}");
    Napi::Object t = tv.As<Napi::Object>();
    Napi::Value dt = t.Get("dtype");
    HostTensor host;
    if (!dt.IsString() || !DTypeFromString(dt.As<Napi::String>().Utf8Value(), &host.dtype)) {
      throw Napi::TypeError::New(env, "input \"" + name + "\": dtype must be float32, int64 or int32");
    }
    host.shape = ShapeFromJs(env, name, t.Get("shape"));
    int64_t numel = 1;
    for (int64_t d : host.shape) {
      numel *= d;  // each entry <= 2^31 and numel <= 2^31 before: no overflow
      if (numel > kMaxTensorElements) throw Napi::RangeError::New(env, "input \"" + name + "\": more than 2^31 elements");
    }
    Napi::Value data = t.Get("data");
    if (!data.IsTypedArray()) throw Napi::TypeError::New(env, "input \"" + name + "\": data must be a typed array");
    Napi::TypedArray ta = data.As<Napi::TypedArray>();
    if (ta.TypedArrayType() != TypedArrayFor(host.dtype)) {
      throw Napi::TypeError::New(env, "input \"" + name + "\": dtype " + DTypeName(host.dtype) + " needs a " +
                                          (host.dtype == DType::kInt64 ? "BigInt64Array" : host.dtype == DType::kInt32 ? "Int32Array" : "Float32Array"));
    }
    if (static_cast<int64_t>(ta.ElementLength()) != numel) {
      throw Napi::RangeError::New(env, "input \"" + name + "\": shape " + ShapeString(host.shape) + " needs " + std::to_string(numel) +
                                           " elements, data has " + std::to_string(ta.ElementLength()));
    }
    const uint8_t* src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    host.bytes.assign(src, src + ta.ByteLength());  // copied on the JS thread
    inputs.emplace_back(std::move(name), std::move(host));
  }
  return inputs;
}

Napi::Value Predictor::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Guard(env);
  try {
    auto* worker = new RunWorker(env, Value(), this, model_, stats_, RunInputs(info));
    Napi::Promise p = worker->Promise();
    in_flight_++;  // decremented in OnOK/OnError, on the JS thread
    worker->Queue();
    return p;
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw MakeError(env, "ERR_INTERNAL", e.what());
  }
}

// runSync(inputs): run() on the calling (JS) thread, returning the outputs or throwing what
// run() rejects with. No hop to the pool and back (two thread wake-ups); the event loop waits
// for the computation, so it is for runs known to be short.
Napi::Value Predictor::RunSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Guard(env);
  std::vector<std::pair<std::string, HostTensor>> inputs;
  try {
    inputs = RunInputs(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw MakeError(env, "ERR_INTERNAL", e.what());
  }
  RunTimes times;
  std::vector<HostTensor> outputs;
  try {
    outputs = model_->engine->Run(inputs, &times);
  } catch (const PaddleError& e) {
    RecordRun(stats_.get(), false, times);
    throw PaddleErrorToJs(env, e);
  } catch (const std::exception& e) {
    RecordRun(stats_.get(), false, times);
    throw MakeError(env, "ERR_INTERNAL", std::string("run failed: ") + e.what());
  }
  RecordRun(stats_.get(), true, times);
  return OutputsToJs(env, *model_, std::move(outputs));
}

// estimateRunBytes({name: shape}): synchronous (a shape-only pass, no tensor is computed).
// Unknown or missing inputs are TypeErrors (as in run()); shapes that do not fit the model are
// ShapeErrors.
Napi::Value Predictor::EstimateRunBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Guard(env);
  if (info.Length() < 1 || !info[0].IsObject() || info[0].IsArray()) {
    throw Napi::TypeError::New(env, "estimateRunBytes(inputs) needs an object of input shapes");
  }
  Napi::Object in = info[0].As<Napi::Object>();
  Napi::Array keys = in.GetPropertyNames();
  std::vector<std::pair<std::string, Shape>> shapes;
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    std::string name = keys.Get(i).As<Napi::String>().Utf8Value();
    Shape shape = ShapeFromJs(env, name, in.Get(name));
    shapes.emplace_back(std::move(name), std::move(shape));
  }
  try {
    return Napi::Number::New(env, static_cast<double>(model_->engine->EstimateRunBytes(shapes)));
  } catch (const PaddleError& e) {
    throw PaddleErrorToJs(env, e);
  } catch (const std::exception& e) {
    throw MakeError(env, "ERR_INTERNAL", e.what());
  }
}

Napi::Value Predictor::Info(const Napi::CallbackInfo& info) {
  return Guarded(info.Env(), [&]() { return InfoImpl(info.Env()); });
}

Napi::Value Predictor::InfoImpl(Napi::Env env) {
  Guard(env);
  const auto& v = model_->verification;
  Napi::Object o = Napi::Object::New(env);
  o.Set("format", model_->format);
  o.Set("backend", model_->engine->Backend());
  o.Set("backendVersion", model_->engine->BackendVersion());
  o.Set("verified", v.verified);
  if (v.verified) {
    o.Set("algorithm", v.algorithm);
    if (!v.key_id.empty()) o.Set("keyId", v.key_id);
    o.Set("verifiedAt", v.verified_at);
  }
  o.Set("digest", v.digest);
  o.Set("parameterBytes", static_cast<double>(model_->engine->ParameterBytes()));
  Napi::Object ops = Napi::Object::New(env);
  for (const auto& kv : model_->engine->OpCounts()) ops.Set(kv.first, kv.second);
  o.Set("opCounts", ops);
  Napi::Object run_ops = Napi::Object::New(env);
  for (const auto& kv : model_->engine->RunOpCounts()) run_ops.Set(kv.first, kv.second);
  o.Set("runOpCounts", run_ops);
  return o;
}

Napi::Value Predictor::GetStats(const Napi::CallbackInfo& info) {
  return Guarded(info.Env(), [&]() { return StatsImpl(info.Env()); });
}

Napi::Value Predictor::StatsImpl(Napi::Env env) {
  Guard(env);
  Napi::Object o = Napi::Object::New(env);
  std::lock_guard<std::mutex> lock(stats_->mu);
  o.Set("runs", static_cast<double>(stats_->runs));
  o.Set("failures", static_cast<double>(stats_->failures));
  auto times_obj = [&](const std::map<std::string, double>& m) {
    Napi::Object t = Napi::Object::New(env);
    for (const auto& kv : m) t.Set(kv.first, kv.second);
    return t;
  };
  if (stats_->has_last) {
    Napi::Object last = Napi::Object::New(env);
    last.Set("latencyMs", stats_->last.latency_ms);
    last.Set("opTimesMs", times_obj(stats_->last.op_ms));
    o.Set("lastRun", last);
  }
  o.Set("opTimesMs", times_obj(stats_->cumulative));
  Napi::Object mem = Napi::Object::New(env);
  mem.Set("arenaBytes", static_cast<double>(model_->engine->ArenaBytes()));
  mem.Set("parameterBytes", static_cast<double>(model_->engine->ParameterBytes()));
  o.Set("memory", mem);
  return o;
}

// dispose() refuses (throws ERR_BUSY) while runs are in flight; the caller awaits them first.
Napi::Value Predictor::Dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (disposed_) return env.Undefined();  // idempotent
  int n = in_flight_.load();
  if (n > 0) throw MakeError(env, "ERR_BUSY", "dispose() refused: " + std::to_string(n) + " run(s) in flight; await them first");
  model_.reset();
  disposed_ = true;
  return env.Undefined();
}

// Bytes a TCP socket's kernel still holds to send: written by the process and not yet
// acknowledged by the peer (SIOCOUTQ). -1 where the descriptor is not a TCP socket. The
// sidecar asks it of a connection it closes, to drop (reset) an answer its client never read
// instead of leaving it in the kernel behind a FIN.
Napi::Value UnsentBytesJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    throw Napi::TypeError::New(env, "unsentBytes(fd) takes a file descriptor number");
  }
  const int fd = info[0].As<Napi::Number>().Int32Value();
  int queued = 0;
  if (fd < 0 || ioctl(fd, SIOCOUTQ, &queued) != 0) return Napi::Number::New(env, -1);
  return Napi::Number::New(env, queued);
}

Napi::Value GpuTelemetryJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    std::string lib = "libnvidia-ml.so.1";
    if (info.Length() > 0 && !info[0].IsUndefined()) {
      if (!info[0].IsString()) throw Napi::TypeError::New(env, "gpuTelemetry(library?) takes a library path string");
      lib = info[0].As<Napi::String>().Utf8Value();
    }
    GpuTelemetry t = ReadGpuTelemetry(lib);
    Napi::Object o = Napi::Object::New(env);
    o.Set("available", t.available);
    if (!t.available) {
      o.Set("reason", t.reason);
      return o;
    }
    o.Set("driverVersion", t.driver_version);
    Napi::Array devs = Napi::Array::New(env, t.devices.size());
    for (size_t i = 0; i < t.devices.size(); ++i) {
      Napi::Object d = Napi::Object::New(env);
      d.Set("index", t.devices[i].index);
      d.Set("name", t.devices[i].name);
      d.Set("memoryUsedBytes", static_cast<double>(t.devices[i].memory_used));
      d.Set("memoryTotalBytes", static_cast<double>(t.devices[i].memory_total));
      d.Set("utilizationGpu", t.devices[i].utilization_gpu);
      devs.Set(static_cast<uint32_t>(i), d);
    }
    o.Set("devices", devs);
    o.Set("processMemoryBytes", static_cast<double>(t.process_memory));
    return o;
  } catch (const std::exception& e) {
    throw MakeError(env, "ERR_INTERNAL", e.what());
  }
}

Napi::Value SupportedOpsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& table = KernelTable();
  Napi::Array a = Napi::Array::New(env);
  uint32_t i = 0;
  a.Set(i++, "feed");
  a.Set(i++, "fetch");
  for (const auto& kv : table) a.Set(i++, kv.first);
  return a;
}

// inspectModel(modelDir, format?): the program's inputs, outputs, op counts and the op types
// the builtin backend lacks, parsed without a signature check or an engine (synchronous; the
// program file only, bounded at 1 GiB).
Napi::Value InspectModelJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "inspectModel(modelDir, format?) needs a directory string");
    std::string format = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "auto";
    ModelSummary s = InspectModelDir(info[0].As<Napi::String>().Utf8Value(), format, uint64_t{1} << 30);
    Napi::Object o = Napi::Object::New(env);
    o.Set("format", s.files.format);
    o.Set("programFile", s.files.program);
    o.Set("paramsFile", s.files.params);
    Napi::Array inputs = Napi::Array::New(env, s.inputs.size());
    for (size_t i = 0; i < s.inputs.size(); ++i) {
      Napi::Object t = Napi::Object::New(env);
      t.Set("name", s.inputs[i].name);
      t.Set("dtype", DTypeName(s.inputs[i].dtype));
      t.Set("shape", ShapeToJs(env, s.inputs[i].shape));
      inputs.Set(static_cast<uint32_t>(i), t);
    }
    o.Set("inputs", inputs);
    Napi::Array outputs = Napi::Array::New(env, s.outputs.size());
    for (size_t i = 0; i < s.outputs.size(); ++i) outputs.Set(static_cast<uint32_t>(i), s.outputs[i]);
    o.Set("outputs", outputs);
    Napi::Object counts = Napi::Object::New(env);
    for (const auto& kv : s.op_counts) counts.Set(kv.first, kv.second);
    o.Set("opCounts", counts);
    Napi::Array missing = Napi::Array::New(env, s.missing.size());
    for (size_t i = 0; i < s.missing.size(); ++i) missing.Set(static_cast<uint32_t>(i), s.missing[i]);
    o.Set("unsupported", missing);
    o.Set("parameters", Napi::Number::New(env, static_cast<double>(s.parameters)));
    return o;
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  Napi::Function ctor = Predictor::Define(env);
  data->predictor_ctor = Napi::Persistent(ctor);
  env.SetInstanceData<AddonData>(data);
  exports.Set("Predictor", ctor);
  exports.Set("gpuTelemetry", Napi::Function::New(env, GpuTelemetryJs, "gpuTelemetry"));
  exports.Set("unsentBytes", Napi::Function::New(env, UnsentBytesJs, "unsentBytes"));
  exports.Set("supportedOps", Napi::Function::New(env, SupportedOpsJs, "supportedOps"));
  exports.Set("inspectModel", Napi::Function::New(env, InspectModelJs, "inspectModel"));
  exports.Set("backendVersion", Napi::String::New(env, kBuiltinVersion));
  return exports;
}

}  // namespace

}  // namespace paddle_native

static Napi::Object InitPaddleNative(Napi::Env env, Napi::Object exports) { return paddle_native::Init(env, exports); }

NODE_API_MODULE(NODE_GYP_MODULE_NAME, InitPaddleNative)
