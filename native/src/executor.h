// The builtin CPU executor: compiles a Program into a list of kernels, infers shapes at load
// (dynamic batch / sequence dims stay -1), and runs with per-run workspaces taken from a pool,
// so concurrent runs never share mutable state and buffers are reused across runs.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "errors.h"
#include "program.h"

namespace paddle_native {

// A view of one variable's current value during a run.
struct Value {
  DType dtype = DType::kFloat32;
  Shape shape;
  void* data = nullptr;
  bool defined = false;
  // nullptr: plain row-major. Else the oneDNN memory layout the data is in (a dnnl::memory::desc
  // that lives for the process; dnnl_ops.h); only oneDNN kernels see such values.
  const void* layout = nullptr;
  int64_t Numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  template <typename T> T* As() const { return static_cast<T*>(data); }
};

class Workspace;
class OpContext;
using KernelFn = void (*)(OpContext&);

// Kernel table: op type -> function. Kernels live in kernels.cc.
const std::map<std::string, KernelFn>& KernelTable();
// Kernels that honour OpContext::Dry() (make their outputs, then return in a shape-only pass).
// Others run for real when EstimateRunBytes needs their outputs.
bool SupportsShapeOnly(KernelFn fn);
std::string SupportedOpList();

struct TensorSpec {
  std::string name;
  DType dtype;
  Shape shape;  // -1 = dynamic
};

// Signature probing, shared by both engines: zero-filled inputs with every dynamic (-1) dim
// set to `dyn`; then MergeProbeShape marks the dims of `spec` that differ in `other` as -1
// (returns false when the two probes disagree on the rank).
std::vector<std::pair<std::string, HostTensor>> ZeroProbeInputs(const std::vector<TensorSpec>& inputs, int64_t dyn);
bool MergeProbeShape(TensorSpec& spec, const Shape& other);

struct RunTimes {
  double latency_ms = 0;
  std::map<std::string, double> op_ms;
};

// What a loaded model runs on: the builtin executor or Paddle Inference (paddle_backend.cc).
class Engine {
 public:
  virtual ~Engine() = default;
  virtual const std::vector<TensorSpec>& Inputs() const = 0;
  virtual const std::vector<TensorSpec>& Outputs() const = 0;
  virtual uint64_t ParameterBytes() const = 0;
  virtual uint64_t ArenaBytes() const = 0;
  virtual std::map<std::string, int> OpCounts() const = 0;
  // Ops a run executes after the load-time passes, by kernel name (empty: not known).
  virtual std::map<std::string, int> RunOpCounts() const { return {}; }
  virtual std::string Backend() const = 0;
  virtual std::string BackendVersion() const = 0;
  // Runs once; inputs are matched by name. Thread-safe.
  virtual std::vector<HostTensor> Run(const std::vector<std::pair<std::string, HostTensor>>& inputs, RunTimes* times) = 0;
  // An upper bound of the bytes one run with these input shapes needs beyond the loaded model,
  // computed without running the model. Throws the errors Run would throw for the shapes.
  virtual uint64_t EstimateRunBytes(const std::vector<std::pair<std::string, Shape>>& shapes) {
    (void)shapes;
    throw PaddleError(ErrorCode::kNotImplemented, "backend " + Backend() + " cannot estimate a run's memory");
  }
};

constexpr const char* kBuiltinVersion = "builtin-0.1.0";

class Executor : public Engine {
 public:
  // Takes ownership of the program and its parameters (same order as `param_names`). `threads`:
  // the math threads of every run, set before the load-time probes, which make the oneDNN
  // primitives of the batch-1 shape (made for 1 thread, they ran batch 1 on 1 thread of 2).
  Executor(Program program, std::vector<std::string> param_names, std::vector<HostTensor> params,
           uint64_t memory_limit_bytes, const std::string& model_file, int threads = 1);

  const std::vector<TensorSpec>& Inputs() const override { return inputs_; }
  const std::vector<TensorSpec>& Outputs() const override { return outputs_; }
  uint64_t ParameterBytes() const override { return parameter_bytes_; }
  uint64_t ArenaBytes() const override { return arena_bytes_.load(); }
  std::map<std::string, int> OpCounts() const override;
  std::map<std::string, int> RunOpCounts() const override;
  std::string Backend() const override { return "builtin"; }
  std::string BackendVersion() const override { return kBuiltinVersion; }
  std::vector<HostTensor> Run(const std::vector<std::pair<std::string, HostTensor>>& inputs, RunTimes* times) override;
  uint64_t EstimateRunBytes(const std::vector<std::pair<std::string, Shape>>& shapes) override;

  // Memory accounting used by workspaces.
  void Reserve(uint64_t bytes);
  void Release(uint64_t bytes) { arena_bytes_ -= bytes; }

 private:
  friend class OpContext;
  struct CompiledOp {
    const OpDesc* op;
    KernelFn fn;
    std::vector<std::pair<std::string, std::vector<int>>> in;   // slot -> var indices (-1 = absent)
    std::vector<std::pair<std::string, std::vector<int>>> out;
    std::shared_ptr<void> state = nullptr;  // the kernel's own (OpContext::State), e.g. fused weights
  };
  // Who reads and writes each var in ops_ (fetched vars count two extra readers, so no pass
  // fuses them away); index = var, -1 = none. Counted once per pass by VarUses().
  struct VarUse {
    std::vector<int> readers, writers, reader_op, writer_op;
    bool SingleUse(int v) const {
      return v >= 0 && readers[static_cast<size_t>(v)] == 1 && writers[static_cast<size_t>(v)] == 1;
    }
  };
  VarUse VarUses() const;
  // Load-time graph passes (graph_passes.cc): folding and fusion onto oneDNN kernels.
  void OptimizeGraph();
  // Attention products, softmax and layer_norm onto oneDNN (dnnl_nlp.cc), after OptimizeGraph.
  void UseNlpKernels();
  // Constant folding (const_fold.cc), before OptimizeGraph.
  void FoldConstants();
  // Before a kernel that reads only plain tensors: converts var `idx` out of a oneDNN layout.
  void ToPlain(Workspace* ws, int idx) const;
  void RunOp(Workspace* ws, size_t i, RunTimes* times) const;
  int VarIndex(const std::string& name) const;
  std::unique_ptr<Workspace> Acquire();
  void Give(std::unique_ptr<Workspace> ws);
  std::vector<HostTensor> RunIn(Workspace* ws, const std::vector<std::pair<std::string, HostTensor>>& inputs, RunTimes* times);
  void InferSignature(const std::string& model_file);
  // Checks names, dtypes and shapes of a run's inputs; returns, per model input, the index of
  // the given entry.
  std::vector<size_t> CheckInputs(const std::vector<std::pair<std::string, DType>>& types,
                                  const std::vector<const Shape*>& shapes) const;
  void ClearValues(Workspace* ws) const;
  // After a run: shrink a workspace that holds far more than recent runs needed.
  void Trim(Workspace* ws);
  // Estimation: which vars must hold real values in a shape-only pass (see EstimateRunBytes).
  void CloseRealSet(std::vector<bool>* real_var, std::vector<bool>* real_op) const;

  Program program_;
  std::vector<std::string> var_names_;
  std::map<std::string, int> var_index_;
  std::vector<HostTensor> params_;
  std::vector<int> param_var_;  // var index per param
  std::vector<CompiledOp> ops_;
  std::deque<OpDesc> synthetic_ops_;  // descs of fused ops (stable addresses)
  int threads_ = 1;  // math threads of each run (oneDNN's OpenMP threads, set on the thread that runs)
  std::vector<std::vector<int>> dead_after_;  // per op: vars whose last reader it is
  std::vector<std::pair<int, int>> feeds_;   // (feed var idx, col)
  std::vector<int> fetches_;                 // var idx per fetch column
  std::vector<TensorSpec> inputs_, outputs_;
  uint64_t parameter_bytes_ = 0;
  uint64_t memory_limit_;
  std::atomic<uint64_t> arena_bytes_{0};
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Workspace>> pool_;
  std::vector<uint64_t> recent_needs_;  // ring of the last runs' needs (pool_mutex_)
  size_t recent_next_ = 0;
  std::mutex estimate_mutex_;
  std::vector<bool> real_vars_, real_ops_;  // learned by EstimateRunBytes (estimate_mutex_)
};

// Thrown inside a shape-only pass when a kernel needs the value (not only the shape) of an
// input the pass did not compute; the estimator marks the var and starts over.
struct NeedValueSignal {
  int var;
};

// Per-run state: one value per variable, backed by slabs that persist across runs. A variable
// holds a slab from the op that writes it until its last reader has run (liveness computed at
// load), then the slab returns to the free list for later outputs. Every run assigns slabs as a
// fresh workspace would (best fit on this run's own sizes, slab k = the k-th slab the run opened),
// so the bytes a run needs (Need()) depend on the input shapes alone; a slab's memory is the
// largest size it had in recent runs (mmap'd when large, so trimming returns it to the system).
// A measuring workspace (EstimateRunBytes) runs the same assignment on sizes only: it backs
// with memory just the vars marked real.
class Workspace {
 public:
  Workspace(Executor* owner, size_t vars, const std::vector<bool>* real_vars = nullptr)
      : owner_(owner), values_(vars), slab_of_(vars, -1), real_(real_vars) {}
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  Value& At(int idx) { return values_[static_cast<size_t>(idx)]; }
  // Makes var `idx` a fresh tensor of the given type and shape in a slab of this workspace.
  // `bytes` (when larger than the shape needs) and `layout`: a value in a oneDNN layout.
  Value& Allocate(int idx, DType dtype, const Shape& shape, const std::string& what, size_t bytes = 0,
                  const void* layout = nullptr);
  // Var `idx` is dead: its slab may be reused.
  void Free(int idx);
  // Var `out` takes over the slab of var `in` (whose last reader is the running op), becoming a
  // tensor of the given type, shape and layout that starts with `in`'s bytes; `in` stays readable
  // until the op ends. False (nothing changed) when `in` holds no slab of at least `bytes`, unless
  // `grow`: then the slab grows to `bytes`, keeping its contents (memory moves only when the slab
  // has never been that large, i.e. in a workspace's first run of these shapes), and `in`'s data
  // moves with it.
  bool Adopt(int out, int in, DType dtype, const Shape& shape, size_t bytes, const void* layout, bool grow = false);
  // Slabs detached from overwritten vars during an op become free once the op has finished.
  void FlushPending();
  // Scratch memory for kernels (im2col etc.), reused across runs. nullptr in a shape-only op.
  float* Scratch(size_t floats, const std::string& what);
  // Starts a run: every slab free, no slab opened yet.
  void BeginRun();
  // Bytes this run needed: the opened slabs' sizes plus the scratch high-water mark.
  uint64_t Need() const;
  uint64_t Reserved() const { return reserved_; }
  void ReleaseAll();
  bool Measuring() const { return real_ != nullptr; }
  // In a measuring workspace: whether the op now running computes (else only shapes).
  bool dry_op_ = false;

 private:
  friend class Executor;
  struct Slab {
    uint8_t* ptr = nullptr;
    size_t cap = 0;      // bytes of memory behind ptr
    size_t logical = 0;  // size this run needs
  };
  void Back(Slab* slab, size_t bytes, const std::string& what);
  void Regrow(Slab* slab, size_t bytes, const std::string& what);  // Back, keeping the live bytes
  void Unback(Slab* slab);
  Executor* owner_;
  std::vector<Value> values_;
  std::vector<Slab> slabs_;      // index = order in which this run opened them
  size_t opened_ = 0;            // slabs opened by this run
  std::vector<int> slab_of_;     // var -> slab, -1 = none
  std::vector<int> free_slabs_;
  std::vector<int> pending_free_;
  Slab scratch_;
  uint64_t reserved_ = 0;
  const std::vector<bool>* real_;                 // measuring: vars backed by memory
  std::map<int, std::vector<uint8_t>> side_;      // measuring: memory of the real vars
  std::vector<uint8_t> side_scratch_;
};

class OpContext {
 public:
  OpContext(const Executor* ex, Workspace* ws, const OpDesc* op, const std::vector<std::pair<std::string, std::vector<int>>>* in,
            const std::vector<std::pair<std::string, std::vector<int>>>* out, void* state = nullptr,
            const std::vector<int>* dying = nullptr)
      : ex_(ex), ws_(ws), op_(op), in_(in), out_(out), state_(state), dying_(dying) {}

  const OpDesc& Op() const { return *op_; }
  size_t InputCount(const char* slot) const;
  bool HasInput(const char* slot, size_t i = 0) const;
  const Value& In(const char* slot, size_t i = 0) const;
  size_t OutputCount(const char* slot) const;
  bool HasOutput(const char* slot, size_t i = 0) const;
  Value& Out(const char* slot, size_t i, DType dtype, const Shape& shape);
  Value& Out(const char* slot, DType dtype, const Shape& shape) { return Out(slot, 0, dtype, shape); }
  // An output in a oneDNN layout taking `bytes` (dnnl_ops.cc).
  Value& OutLayout(const char* slot, DType dtype, const Shape& shape, const void* layout, size_t bytes);
  // The output written in place over input `in_slot`, which then holds the input's bytes: only
  // when this op is that input's last reader and reads it through no other slot (else nullptr,
  // and the kernel makes a fresh output). For ops that accumulate into their output (a residual
  // sum), this saves the copy and a slab. `grow`: the output may be larger than the input's slab
  // (a concat appending to its first input; see Workspace::Adopt).
  Value* OutOver(const char* slot, const char* in_slot, DType dtype, const Shape& shape, const void* layout, size_t bytes,
                 bool grow = false);
  void* State() const { return state_; }
  float* Scratch(size_t floats) { return ws_->Scratch(floats, op_->type); }
  // True in a shape-only pass (EstimateRunBytes): the kernel has made its outputs (Out) and
  // asked for its scratch, and must return before touching any data.
  bool Dry() const { return ws_->dry_op_; }
  // Like In, for an input whose values (not only shape) the kernel reads before its Dry() check.
  const Value& InValue(const char* slot, size_t i = 0) const;

  bool HasAttr(const char* name) const { return op_->attrs.count(name) != 0; }
  int64_t Int(const char* name, int64_t def) const;
  double Float(const char* name, double def) const;
  bool Bool(const char* name, bool def) const;
  std::string Str(const char* name, const std::string& def) const;
  std::vector<int64_t> Ints(const char* name) const;
  std::vector<double> Floats(const char* name) const;

  [[noreturn]] void Fail(const std::string& what) const;  // ShapeError naming the op

 private:
  int Index(const std::vector<std::pair<std::string, std::vector<int>>>* table, const char* slot, size_t i) const;
  const Executor* ex_;
  Workspace* ws_;
  const OpDesc* op_;
  const std::vector<std::pair<std::string, std::vector<int>>>* in_;
  const std::vector<std::pair<std::string, std::vector<int>>>* out_;
  void* state_;
  const std::vector<int>* dying_;  // vars whose last reader is this op
};

}  // namespace paddle_native
