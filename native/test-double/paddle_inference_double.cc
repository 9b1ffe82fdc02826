// TEST DOUBLE of the Paddle Inference C API (capi_exp subset), built on our own builtin
// executor. It exists only so the "paddle" backend's dlopen, symbol binding, version check and
// tensor marshalling can be tested where no real Paddle Inference library is available. It is
// NOT Paddle; the real library is untested here. PD_GetVersion reports $PADDLE_DOUBLE_VERSION
// (default "3.0.0") so tests can exercise the version check.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../src/errors.h"
#include "../src/executor.h"
#include "../src/program.h"

using namespace paddle_native;

typedef int8_t PD_Bool;
struct PD_OneDimArrayCstr {
  size_t size;
  char** data;
};
struct PD_OneDimArrayInt32 {
  size_t size;
  int32_t* data;
};

struct PD_Config {
  std::vector<uint8_t> model, params;
  int threads = 1;
  bool gpu = false;
};

struct PD_Predictor {
  std::shared_ptr<Executor> executor;
  std::vector<std::pair<std::string, HostTensor>> inputs;  // set through input handles
  std::vector<HostTensor> outputs;
};

struct PD_Tensor {
  PD_Predictor* owner;
  std::string name;
  bool input;
};

#define DOUBLE_EXPORT extern "C" __attribute__((visibility("default")))

DOUBLE_EXPORT const char* PD_GetVersion() {
  const char* v = std::getenv("PADDLE_DOUBLE_VERSION");
  static thread_local std::string text;
  text = std::string("version: ") + (v ? v : "3.0.0") + "\ncommit: test-double";
  return text.c_str();
}

DOUBLE_EXPORT PD_Config* PD_ConfigCreate() { return new PD_Config(); }
DOUBLE_EXPORT void PD_ConfigDestroy(PD_Config* c) { delete c; }
DOUBLE_EXPORT void PD_ConfigSetModelBuffer(PD_Config* c, const char* prog, size_t prog_size, const char* params, size_t params_size) {
  c->model.assign(prog, prog + prog_size);
  c->params.assign(params, params + params_size);
}
DOUBLE_EXPORT void PD_ConfigSetCpuMathLibraryNumThreads(PD_Config* c, int32_t n) { c->threads = n; }
DOUBLE_EXPORT void PD_ConfigEnableUseGpu(PD_Config* c, uint64_t, int32_t, int32_t) { c->gpu = true; }
DOUBLE_EXPORT void PD_ConfigDisableGpu(PD_Config* c) { c->gpu = false; }

DOUBLE_EXPORT PD_Predictor* PD_PredictorCreate(PD_Config* c) {
  std::unique_ptr<PD_Config> config(c);  // the C API takes ownership of the config
  if (config->gpu) return nullptr;       // the double has no GPU
  try {
    Program program;
    std::vector<std::string> names;
    bool pir = !config->model.empty() && config->model[0] == '{';
    if (pir) {
      program = ParsePirJson(config->model.data(), config->model.size(), "model.json", &names);
    } else {
      program = ParsePdmodel(config->model.data(), config->model.size(), "model.pdmodel");
      for (const auto& v : program.vars)
        if (v.persistable && v.is_tensor && v.name != "feed" && v.name != "fetch") names.push_back(v.name);
      std::sort(names.begin(), names.end());
    }
    std::vector<const VarDesc*> expected;
    for (const auto& n : names) expected.push_back(program.FindVar(n));
    auto params = ParsePdiparams(config->params.data(), config->params.size(), "model.pdiparams", expected);
    auto p = new PD_Predictor();
    p->executor = std::make_shared<Executor>(std::move(program), names, std::move(params), 0, "model");
    return p;
  } catch (const std::exception&) {
    return nullptr;
  }
}

DOUBLE_EXPORT PD_Predictor* PD_PredictorClone(PD_Predictor* p) {
  auto c = new PD_Predictor();
  c->executor = p->executor;
  return c;
}
DOUBLE_EXPORT void PD_PredictorDestroy(PD_Predictor* p) { delete p; }

static PD_OneDimArrayCstr* Names(const std::vector<TensorSpec>& specs) {
  auto a = new PD_OneDimArrayCstr{specs.size(), new char*[specs.size()]};
  for (size_t i = 0; i < specs.size(); ++i) a->data[i] = strdup(specs[i].name.c_str());
  return a;
}
DOUBLE_EXPORT PD_OneDimArrayCstr* PD_PredictorGetInputNames(PD_Predictor* p) { return Names(p->executor->Inputs()); }
DOUBLE_EXPORT PD_OneDimArrayCstr* PD_PredictorGetOutputNames(PD_Predictor* p) { return Names(p->executor->Outputs()); }
DOUBLE_EXPORT void PD_OneDimArrayCstrDestroy(PD_OneDimArrayCstr* a) {
  for (size_t i = 0; i < a->size; ++i) free(a->data[i]);
  delete[] a->data;
  delete a;
}
DOUBLE_EXPORT void PD_OneDimArrayInt32Destroy(PD_OneDimArrayInt32* a) {
  delete[] a->data;
  delete a;
}

DOUBLE_EXPORT PD_Tensor* PD_PredictorGetInputHandle(PD_Predictor* p, const char* name) { return new PD_Tensor{p, name, true}; }
DOUBLE_EXPORT PD_Tensor* PD_PredictorGetOutputHandle(PD_Predictor* p, const char* name) { return new PD_Tensor{p, name, false}; }
DOUBLE_EXPORT void PD_TensorDestroy(PD_Tensor* t) { delete t; }

static HostTensor* InputOf(PD_Tensor* t) {
  for (auto& in : t->owner->inputs)
    if (in.first == t->name) return &in.second;
  t->owner->inputs.emplace_back(t->name, HostTensor{});
  return &t->owner->inputs.back().second;
}
static const HostTensor* OutputOf(PD_Tensor* t) {
  const auto& specs = t->owner->executor->Outputs();
  for (size_t i = 0; i < specs.size() && i < t->owner->outputs.size(); ++i)
    if (specs[i].name == t->name) return &t->owner->outputs[i];
  return nullptr;
}

DOUBLE_EXPORT void PD_TensorReshape(PD_Tensor* t, size_t n, int32_t* shape) {
  HostTensor* h = InputOf(t);
  h->shape.assign(shape, shape + n);
}

template <typename T>
static void CopyIn(PD_Tensor* t, const T* data, DType dtype) {
  HostTensor* h = InputOf(t);
  h->dtype = dtype;
  int64_t n = 1;
  for (int64_t d : h->shape) n *= d;
  h->bytes.assign(reinterpret_cast<const uint8_t*>(data), reinterpret_cast<const uint8_t*>(data) + n * sizeof(T));
}
DOUBLE_EXPORT void PD_TensorCopyFromCpuFloat(PD_Tensor* t, const float* d) { CopyIn(t, d, DType::kFloat32); }
DOUBLE_EXPORT void PD_TensorCopyFromCpuInt64(PD_Tensor* t, const int64_t* d) { CopyIn(t, d, DType::kInt64); }
DOUBLE_EXPORT void PD_TensorCopyFromCpuInt32(PD_Tensor* t, const int32_t* d) { CopyIn(t, d, DType::kInt32); }

template <typename T>
static void CopyOut(PD_Tensor* t, T* data) {
  const HostTensor* h = OutputOf(t);
  if (h) std::memcpy(data, h->bytes.data(), h->bytes.size());
}
DOUBLE_EXPORT void PD_TensorCopyToCpuFloat(PD_Tensor* t, float* d) { CopyOut(t, d); }
DOUBLE_EXPORT void PD_TensorCopyToCpuInt64(PD_Tensor* t, int64_t* d) { CopyOut(t, d); }
DOUBLE_EXPORT void PD_TensorCopyToCpuInt32(PD_Tensor* t, int32_t* d) { CopyOut(t, d); }

DOUBLE_EXPORT PD_OneDimArrayInt32* PD_TensorGetShape(PD_Tensor* t) {
  const HostTensor* h = t->input ? InputOf(t) : OutputOf(t);
  size_t n = h ? h->shape.size() : 0;
  auto a = new PD_OneDimArrayInt32{n, new int32_t[n ? n : 1]};
  for (size_t i = 0; i < n; ++i) a->data[i] = static_cast<int32_t>(h->shape[i]);
  return a;
}

DOUBLE_EXPORT int PD_TensorGetDataType(PD_Tensor* t) {
  const HostTensor* h = t->input ? InputOf(t) : OutputOf(t);
  if (!h) return -1;
  switch (h->dtype) {
    case DType::kFloat32: return 0;
    case DType::kInt32: return 1;
    case DType::kInt64: return 2;
    default: return -1;
  }
}

DOUBLE_EXPORT PD_Bool PD_PredictorRun(PD_Predictor* p) {
  try {
    p->outputs = p->executor->Run(p->inputs, nullptr);
    return 1;
  } catch (const std::exception&) {
    return 0;
  }
}

