#include "executor.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "dnnl_ops.h"
#include "errors.h"

namespace paddle_native {

namespace {
using Clock = std::chrono::steady_clock;

// Ops that carry no computation in an inference program.
bool IsFeed(const std::string& t) { return t == "feed"; }
bool IsFetch(const std::string& t) { return t == "fetch" || t == "fetch_v2"; }
}  // namespace

// ---------------------------------------------------------------------------------------------
// Workspace

namespace {
// Slabs from this size up get their own mapping, so releasing one returns it to the system
// at once (malloc would keep it in its heap); smaller ones come from malloc.
constexpr size_t kMmapFrom = size_t{1} << 18;

uint8_t* MapBytes(size_t bytes) {
  if (bytes >= kMmapFrom) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p);
  }
  return static_cast<uint8_t*>(std::malloc(bytes));
}

void UnmapBytes(uint8_t* p, size_t bytes) {
  if (!p) return;
  if (bytes >= kMmapFrom) munmap(p, bytes);
  else std::free(p);
}

size_t RoundUp(size_t bytes) { return (bytes + 63) & ~size_t{63}; }
}  // namespace

Workspace::~Workspace() { ReleaseAll(); }

void Workspace::Unback(Slab* slab) {
  if (!slab->ptr) return;
  UnmapBytes(slab->ptr, slab->cap);
  owner_->Release(slab->cap);
  reserved_ -= slab->cap;
  slab->ptr = nullptr;
  slab->cap = 0;
}

void Workspace::ReleaseAll() {
  for (auto& s : slabs_) Unback(&s);
  Unback(&scratch_);
  slabs_.clear();
  free_slabs_.clear();
  pending_free_.clear();
  std::fill(slab_of_.begin(), slab_of_.end(), -1);
  opened_ = 0;
  side_.clear();
}

void Workspace::Back(Slab* slab, size_t bytes, const std::string& what) {
  // A slab grows only while it holds nothing live, so its old contents can go first.
  if (slab->cap >= bytes) return;
  Unback(slab);
  owner_->Reserve(bytes);  // throws MemoryLimitError naming the limit
  uint8_t* p = MapBytes(bytes);
  if (!p) {
    owner_->Release(bytes);
    throw PaddleError(ErrorCode::kMemoryLimit, what + ": out of host memory allocating " + std::to_string(bytes) + " bytes");
  }
  slab->ptr = p;
  slab->cap = bytes;
  reserved_ += bytes;
}

void Workspace::Regrow(Slab* slab, size_t bytes, const std::string& what) {
  if (slab->cap >= bytes) return;
  Slab grown;
  Back(&grown, bytes, what);  // throws with `slab` untouched
  if (slab->ptr) std::memcpy(grown.ptr, slab->ptr, std::min(slab->logical, slab->cap));
  Unback(slab);
  slab->ptr = grown.ptr;
  slab->cap = grown.cap;
}

void Workspace::BeginRun() {
  for (auto& s : slabs_) s.logical = 0;
  scratch_.logical = 0;
  opened_ = 0;
  free_slabs_.clear();
  pending_free_.clear();
  std::fill(slab_of_.begin(), slab_of_.end(), -1);
  side_.clear();
}

uint64_t Workspace::Need() const {
  uint64_t n = scratch_.logical;
  for (size_t k = 0; k < opened_; ++k) n += slabs_[k].logical;
  return n;
}

Value& Workspace::Allocate(int idx, DType dtype, const Shape& shape, const std::string& what, size_t min_bytes,
                           const void* layout) {
  int64_t numel = CheckedNumel(shape, what);
  size_t bytes = RoundUp(std::max<size_t>({static_cast<size_t>(numel) * DTypeSize(dtype), min_bytes, 8}));
  int& slab = slab_of_[static_cast<size_t>(idx)];
  if (slab >= 0 && values_[static_cast<size_t>(idx)].defined) {
    // Overwriting a live value (an in-place op may still be reading it): take a fresh slab and
    // release the old one after the op.
    pending_free_.push_back(slab);
    slab = -1;
  }
  if (slab < 0) {
    // Best fit among free slabs (by this run's sizes); else grow the largest free one; else
    // open the next slab.
    int best = -1, largest = -1;
    for (size_t k = 0; k < free_slabs_.size(); ++k) {
      size_t sz = slabs_[static_cast<size_t>(free_slabs_[k])].logical;
      if (sz >= bytes && (best < 0 || sz < slabs_[static_cast<size_t>(free_slabs_[static_cast<size_t>(best)])].logical)) best = static_cast<int>(k);
      if (largest < 0 || sz > slabs_[static_cast<size_t>(free_slabs_[static_cast<size_t>(largest)])].logical) largest = static_cast<int>(k);
    }
    int pick = best >= 0 ? best : largest;
    if (pick >= 0) {
      slab = free_slabs_[static_cast<size_t>(pick)];
      free_slabs_.erase(free_slabs_.begin() + pick);
    } else {
      slab = static_cast<int>(opened_++);
      if (slabs_.size() < opened_) slabs_.emplace_back();
    }
  }
  Slab& s = slabs_[static_cast<size_t>(slab)];
  s.logical = std::max(s.logical, bytes);
  Value& v = values_[static_cast<size_t>(idx)];
  v.dtype = dtype;
  v.shape = shape;
  v.defined = true;
  v.layout = layout;
  if (real_) {  // measuring: only real vars get memory, of their own
    if ((*real_)[static_cast<size_t>(idx)]) {
      auto& buf = side_[idx];
      buf.assign(bytes, 0);
      v.data = buf.data();
    } else {
      v.data = nullptr;
    }
    return v;
  }
  Back(&s, s.logical, what);
  v.data = s.ptr;
  return v;
}

void Workspace::Free(int idx) {
  int& slab = slab_of_[static_cast<size_t>(idx)];
  if (slab >= 0) {
    free_slabs_.push_back(slab);
    slab = -1;
  }
  values_[static_cast<size_t>(idx)].defined = false;
}

bool Workspace::Adopt(int out, int in, DType dtype, const Shape& shape, size_t bytes, const void* layout, bool grow) {
  int from = slab_of_[static_cast<size_t>(in)];
  if (from < 0 || out == in) return false;
  Slab& s = slabs_[static_cast<size_t>(from)];
  if (s.logical < RoundUp(bytes)) {
    if (!grow) return false;
    if (!real_) {
      Regrow(&s, RoundUp(bytes), "output over " + std::to_string(in));
      values_[static_cast<size_t>(in)].data = s.ptr;
    }
    s.logical = RoundUp(bytes);
  }
  int& slab = slab_of_[static_cast<size_t>(out)];
  if (slab >= 0 && values_[static_cast<size_t>(out)].defined) pending_free_.push_back(slab);
  slab = from;
  slab_of_[static_cast<size_t>(in)] = -1;
  Value& v = values_[static_cast<size_t>(out)];
  v.dtype = dtype;
  v.shape = shape;
  v.defined = true;
  v.layout = layout;
  v.data = values_[static_cast<size_t>(in)].data;
  if (real_) {  // measuring: a real output gets the input's memory, or zeros of its own
    if ((*real_)[static_cast<size_t>(out)]) {
      auto it = side_.find(in);
      if (it != side_.end()) {
        side_[out] = std::move(it->second);  // the input keeps its pointer until the op ends (unless grown)
        side_[out].resize(std::max(side_[out].size(), RoundUp(bytes)), 0);
      } else {
        side_[out].assign(RoundUp(bytes), 0);
      }
      v.data = side_[out].data();
    } else {
      v.data = nullptr;
    }
  }
  return true;
}

void Workspace::FlushPending() {
  free_slabs_.insert(free_slabs_.end(), pending_free_.begin(), pending_free_.end());
  pending_free_.clear();
}

float* Workspace::Scratch(size_t floats, const std::string& what) {
  size_t bytes = RoundUp(std::max<size_t>(floats * sizeof(float), 8));
  scratch_.logical = std::max(scratch_.logical, bytes);
  if (real_) {
    if (dry_op_) return nullptr;
    if (side_scratch_.size() < bytes) side_scratch_.resize(bytes);
    return reinterpret_cast<float*>(side_scratch_.data());
  }
  Back(&scratch_, bytes, what);
  return reinterpret_cast<float*>(scratch_.ptr);
}

// ---------------------------------------------------------------------------------------------
// OpContext

int OpContext::Index(const std::vector<std::pair<std::string, std::vector<int>>>* table, const char* slot, size_t i) const {
  for (const auto& s : *table) {
    if (s.first == slot) return i < s.second.size() ? s.second[i] : -1;
  }
  return -1;
}

size_t OpContext::InputCount(const char* slot) const {
  for (const auto& s : *in_) {
    if (s.first == slot) return s.second.size();
  }
  return 0;
}

size_t OpContext::OutputCount(const char* slot) const {
  for (const auto& s : *out_) {
    if (s.first == slot) return s.second.size();
  }
  return 0;
}

bool OpContext::HasInput(const char* slot, size_t i) const {
  int idx = Index(in_, slot, i);
  return idx >= 0 && ws_->At(idx).defined;
}

bool OpContext::HasOutput(const char* slot, size_t i) const { return Index(out_, slot, i) >= 0; }

const Value& OpContext::In(const char* slot, size_t i) const {
  int idx = Index(in_, slot, i);
  if (idx < 0) Fail(std::string("missing input ") + slot + "[" + std::to_string(i) + "]");
  const Value& v = ws_->At(idx);
  if (!v.defined) Fail(std::string("input ") + slot + " (" + ex_->var_names_[static_cast<size_t>(idx)] + ") has no value");
  return v;
}

Value& OpContext::Out(const char* slot, size_t i, DType dtype, const Shape& shape) {
  int idx = Index(out_, slot, i);
  if (idx < 0) Fail(std::string("missing output ") + slot + "[" + std::to_string(i) + "]");
  return ws_->Allocate(idx, dtype, shape, op_->type + " output " + ex_->var_names_[static_cast<size_t>(idx)]);
}

Value* OpContext::OutOver(const char* slot, const char* in_slot, DType dtype, const Shape& shape, const void* layout, size_t bytes,
                          bool grow) {
  int out = Index(out_, slot, 0), in = Index(in_, in_slot, 0);
  if (out < 0 || in < 0 || !dying_ || std::find(dying_->begin(), dying_->end(), in) == dying_->end()) return nullptr;
  for (const auto& s : *in_) {
    for (size_t k = 0; k < s.second.size(); ++k)
      if (s.second[k] == in && !(s.first == in_slot && k == 0)) return nullptr;  // read again by this op
  }
  if (!ws_->Adopt(out, in, dtype, shape, bytes, layout, grow)) return nullptr;
  return &ws_->At(out);
}

Value& OpContext::OutLayout(const char* slot, DType dtype, const Shape& shape, const void* layout, size_t bytes) {
  int idx = Index(out_, slot, 0);
  if (idx < 0) Fail(std::string("missing output ") + slot);
  return ws_->Allocate(idx, dtype, shape, op_->type + " output " + ex_->var_names_[static_cast<size_t>(idx)], bytes, layout);
}

int64_t OpContext::Int(const char* name, int64_t def) const {
  auto it = op_->attrs.find(name);
  if (it == op_->attrs.end()) return def;
  if (it->second.kind == Attr::Kind::kFloat) return SaturatingInt64(it->second.f);
  return it->second.i;
}

double OpContext::Float(const char* name, double def) const {
  auto it = op_->attrs.find(name);
  if (it == op_->attrs.end()) return def;
  if (it->second.kind == Attr::Kind::kInt || it->second.kind == Attr::Kind::kBool) return static_cast<double>(it->second.i);
  return it->second.f;
}

bool OpContext::Bool(const char* name, bool def) const {
  auto it = op_->attrs.find(name);
  if (it == op_->attrs.end()) return def;
  return it->second.i != 0;
}

std::string OpContext::Str(const char* name, const std::string& def) const {
  auto it = op_->attrs.find(name);
  return it == op_->attrs.end() ? def : it->second.s;
}

std::vector<int64_t> OpContext::Ints(const char* name) const {
  auto it = op_->attrs.find(name);
  if (it == op_->attrs.end()) return {};
  if (it->second.kind == Attr::Kind::kInt) return {it->second.i};
  if (it->second.kind == Attr::Kind::kFloats) {
    std::vector<int64_t> out;
    for (double d : it->second.floats) out.push_back(SaturatingInt64(d));
    return out;
  }
  return it->second.ints;
}

std::vector<double> OpContext::Floats(const char* name) const {
  auto it = op_->attrs.find(name);
  if (it == op_->attrs.end()) return {};
  if (it->second.kind == Attr::Kind::kInts) return std::vector<double>(it->second.ints.begin(), it->second.ints.end());
  return it->second.floats;
}

const Value& OpContext::InValue(const char* slot, size_t i) const {
  const Value& v = In(slot, i);
  if (!v.data && v.Numel() > 0) throw NeedValueSignal{Index(in_, slot, i)};
  return v;
}

void OpContext::Fail(const std::string& what) const { throw ShapeErr("op " + op_->type + ": " + what); }

// ---------------------------------------------------------------------------------------------
// Executor

Executor::Executor(Program program, std::vector<std::string> param_names, std::vector<HostTensor> params,
                   uint64_t memory_limit_bytes, const std::string& model_file, int threads)
    : program_(std::move(program)), params_(std::move(params)), memory_limit_(memory_limit_bytes) {
  threads_ = std::max(threads, 1);
  for (const auto& v : program_.vars) {
    if (var_index_.emplace(v.name, static_cast<int>(var_names_.size())).second) var_names_.push_back(v.name);
  }
  auto index_of = [&](const std::string& name, const OpDesc& op) {
    auto it = var_index_.find(name);
    if (it != var_index_.end()) return it->second;
    // Some exporters omit VarDescs for temporaries; give them a slot.
    (void)op;
    int idx = static_cast<int>(var_names_.size());
    var_index_.emplace(name, idx);
    var_names_.push_back(name);
    return idx;
  };
  std::vector<bool> defined(var_names_.size(), false);
  auto mark = [&](int idx) {
    if (static_cast<size_t>(idx) >= defined.size()) defined.resize(static_cast<size_t>(idx) + 1, false);
    defined[static_cast<size_t>(idx)] = true;
  };
  for (size_t i = 0; i < param_names.size(); ++i) {
    auto it = var_index_.find(param_names[i]);
    if (it == var_index_.end()) throw FormatError(model_file, 0, "parameter \"" + param_names[i] + "\" is not a program variable");
    param_var_.push_back(it->second);
    parameter_bytes_ += params_[i].bytes.size();
    mark(it->second);
  }
  if (memory_limit_ && parameter_bytes_ > memory_limit_) {
    throw PaddleError(ErrorCode::kMemoryLimit, "parameters need " + std::to_string(parameter_bytes_) +
                                                   " bytes, above maxMemoryMB (" + std::to_string(memory_limit_ >> 20) + " MiB)");
  }
  const auto& table = KernelTable();
  std::map<int, int> fetch_cols;
  std::map<int, int> feed_cols;
  for (const auto& op : program_.ops) {
    if (IsFeed(op.type)) {
      const auto* out = op.Output("Out");
      if (!out || out->size() != 1) throw FormatError(model_file, op.offset, "feed op without one Out");
      auto col = op.attrs.count("col") ? op.attrs.at("col").i : static_cast<int64_t>(feed_cols.size());
      int idx = index_of((*out)[0], op);
      if (!feed_cols.emplace(static_cast<int>(col), idx).second) throw FormatError(model_file, op.offset, "two feeds with col " + std::to_string(col));
      mark(idx);
      continue;
    }
    if (IsFetch(op.type)) {
      const auto* in = op.Input("X");
      if (!in || in->size() != 1) throw FormatError(model_file, op.offset, "fetch op without one X");
      auto col = op.attrs.count("col") ? op.attrs.at("col").i : static_cast<int64_t>(fetch_cols.size());
      int idx = index_of((*in)[0], op);
      if (static_cast<size_t>(idx) >= defined.size() || !defined[static_cast<size_t>(idx)]) {
        throw FormatError(model_file, op.offset, "fetch of \"" + (*in)[0] + "\" which no earlier op produces");
      }
      if (!fetch_cols.emplace(static_cast<int>(col), idx).second) throw FormatError(model_file, op.offset, "two fetches with col " + std::to_string(col));
      continue;
    }
    auto k = table.find(op.type);
    if (k == table.end()) {
      throw PaddleError(ErrorCode::kUnsupportedOp, "unsupported op \"" + op.type + "\" in " + model_file +
                                                       " (builtin backend supports: " + SupportedOpList() + ")");
    }
    CompiledOp c{&op, k->second, {}, {}};
    for (const auto& slot : op.inputs) {
      std::vector<int> idxs;
      for (const auto& name : slot.second) {
        int idx = index_of(name, op);
        if (static_cast<size_t>(idx) >= defined.size() || !defined[static_cast<size_t>(idx)]) {
          throw FormatError(model_file, op.offset, "op " + op.type + " reads \"" + name + "\" which is neither a parameter, an input nor produced by an earlier op");
        }
        idxs.push_back(idx);
      }
      c.in.emplace_back(slot.first, std::move(idxs));
    }
    for (const auto& slot : op.outputs) {
      std::vector<int> idxs;
      for (const auto& name : slot.second) {
        int idx = index_of(name, op);
        idxs.push_back(idx);
        // Outputs written in place onto parameters (batch_norm's MeanOut) are never computed.
        bool is_param = std::find(param_var_.begin(), param_var_.end(), idx) != param_var_.end();
        if (is_param) idxs.back() = -1;
        else mark(idx);
      }
      c.out.emplace_back(slot.first, std::move(idxs));
    }
    ops_.push_back(std::move(c));
  }
  if (feed_cols.empty()) throw FormatError(model_file, 0, "program has no feed ops (inputs)");
  if (fetch_cols.empty()) throw FormatError(model_file, 0, "program has no fetch ops (outputs)");
  for (const auto& f : feed_cols) feeds_.emplace_back(f.second, f.first);
  for (const auto& f : fetch_cols) fetches_.push_back(f.second);
  for (const auto& f : feeds_) {
    const VarDesc* v = program_.FindVar(var_names_[static_cast<size_t>(f.first)]);
    if (!v || !v->is_tensor) throw FormatError(model_file, 0, "feed target \"" + var_names_[static_cast<size_t>(f.first)] + "\" has no tensor VarDesc");
    if (v->dtype != DType::kFloat32 && v->dtype != DType::kInt64 && v->dtype != DType::kInt32) {
      throw FormatError(model_file, 0, "input \"" + v->name + "\" has type " + DTypeName(v->dtype) + " (supported: float32, int64, int32)");
    }
    if (v->dims.empty() || v->dims.size() > static_cast<size_t>(kMaxRank)) {
      throw FormatError(model_file, 0, "input \"" + v->name + "\" has unsupported rank " + std::to_string(v->dims.size()));
    }
    for (int64_t d : v->dims) {
      if (d < -1 || d > kMaxTensorElements) throw FormatError(model_file, 0, "input \"" + v->name + "\" has absurd dims " + ShapeString(v->dims));
    }
    inputs_.push_back(TensorSpec{v->name, v->dtype, v->dims});
  }
  FoldConstants();
  OptimizeGraph();
  UseNlpKernels();
  // Liveness: a var dies after its last reader; outputs nobody reads die after their writer.
  // Parameters and fetched vars never die.
  std::vector<int> last_use(var_names_.size(), -1);
  std::vector<bool> pinned(var_names_.size(), false);
  for (int p : param_var_) pinned[static_cast<size_t>(p)] = true;
  for (int f : fetches_) pinned[static_cast<size_t>(f)] = true;
  for (size_t i = 0; i < ops_.size(); ++i) {
    for (const auto& slot : ops_[i].in)
      for (int idx : slot.second) last_use[static_cast<size_t>(idx)] = static_cast<int>(i);
    for (const auto& slot : ops_[i].out)
      for (int idx : slot.second)
        if (idx >= 0) last_use[static_cast<size_t>(idx)] = std::max(last_use[static_cast<size_t>(idx)], static_cast<int>(i));
  }
  dead_after_.assign(ops_.size(), {});
  for (size_t v = 0; v < var_names_.size(); ++v) {
    if (!pinned[v] && last_use[v] >= 0) dead_after_[static_cast<size_t>(last_use[v])].push_back(static_cast<int>(v));
  }
  InferSignature(model_file);
}

int Executor::VarIndex(const std::string& name) const {
  auto it = var_index_.find(name);
  return it == var_index_.end() ? -1 : it->second;
}

std::map<std::string, int> Executor::OpCounts() const {
  std::map<std::string, int> counts;
  for (const auto& op : program_.ops) {
    if (op.source_type == "-") continue;
    counts[op.source_type.empty() ? op.type : op.source_type]++;
  }
  return counts;
}

std::map<std::string, int> Executor::RunOpCounts() const {
  std::map<std::string, int> counts;
  for (const auto& c : ops_) counts[c.op->type]++;
  return counts;
}

void Executor::Reserve(uint64_t bytes) {
  uint64_t now = arena_bytes_.fetch_add(bytes) + bytes;
  if (memory_limit_ && now + parameter_bytes_ > memory_limit_) {
    arena_bytes_ -= bytes;
    throw PaddleError(ErrorCode::kMemoryLimit, "working memory would reach " + std::to_string(now + parameter_bytes_) +
                                                   " bytes (parameters " + std::to_string(parameter_bytes_) +
                                                   " + arena), above maxMemoryMB (" + std::to_string(memory_limit_ >> 20) + " MiB)");
  }
}

// Static shape inference: run the program on zero-filled inputs with every dynamic dim set to
// 1, then to 2; output dims that differ between the two are dynamic (-1). This also proves at
// load that every op accepts the shapes it will see, and sizes the first workspace.
std::vector<std::pair<std::string, HostTensor>> ZeroProbeInputs(const std::vector<TensorSpec>& inputs, int64_t dyn) {
  std::vector<std::pair<std::string, HostTensor>> in;
  for (const auto& spec : inputs) {
    HostTensor t;
    t.dtype = spec.dtype;
    for (int64_t d : spec.shape) t.shape.push_back(d < 0 ? dyn : d);
    t.bytes.assign(static_cast<size_t>(CheckedNumel(t.shape, "input " + spec.name)) * DTypeSize(t.dtype), 0);
    in.emplace_back(spec.name, std::move(t));
  }
  return in;
}

bool MergeProbeShape(TensorSpec& spec, const Shape& other) {
  if (spec.shape.size() != other.size()) return false;
  for (size_t d = 0; d < other.size(); ++d) {
    if (spec.shape[d] != other[d]) spec.shape[d] = -1;
  }
  return true;
}

void Executor::InferSignature(const std::string& model_file) {
  std::vector<std::vector<HostTensor>> probes;
  for (int64_t dyn : {1, 2}) {
    RunTimes times;
    probes.push_back(Run(ZeroProbeInputs(inputs_, dyn), &times));
  }
  for (size_t i = 0; i < fetches_.size(); ++i) {
    const auto& a = probes[0][i];
    const auto& b = probes[1][i];
    TensorSpec spec{var_names_[static_cast<size_t>(fetches_[i])], a.dtype, a.shape};
    if (!MergeProbeShape(spec, b.shape)) {
      throw FormatError(model_file, 0, "output \"" + spec.name + "\" changes rank with the batch size");
    }
    outputs_.push_back(spec);
  }
  // The probes' slabs are not a run's steady size: start the first real run from nothing.
  std::lock_guard<std::mutex> lock(pool_mutex_);
  for (auto& ws : pool_) ws->ReleaseAll();
  recent_needs_.clear();
  recent_next_ = 0;
}

std::unique_ptr<Workspace> Executor::Acquire() {
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (!pool_.empty()) {
      auto ws = std::move(pool_.back());
      pool_.pop_back();
      return ws;
    }
  }
  return std::make_unique<Workspace>(this, var_names_.size());
}

void Executor::Give(std::unique_ptr<Workspace> ws) {
  std::lock_guard<std::mutex> lock(pool_mutex_);
  Trim(ws.get());
  pool_.push_back(std::move(ws));
}

// A workspace keeps its slabs between runs, so steady runs allocate nothing. After a run that
// needed far more than the recent ones (one oversize batch), or when the slabs hold far more
// than any recent run needed, its memory goes back to the system; the next run maps only what
// it needs. Called with pool_mutex_ held.
void Executor::Trim(Workspace* ws) {
  constexpr size_t kWindow = 8;
  constexpr uint64_t kSlack = uint64_t{1} << 20;
  uint64_t need = ws->Need();
  uint64_t steady = 0;
  for (uint64_t n : recent_needs_) steady = std::max(steady, n);
  bool oversize = !recent_needs_.empty() && need > steady + steady / 2 + kSlack;
  bool stale = ws->Reserved() > std::max(need, steady) + std::max(need, steady) / 2 + kSlack;
  if (oversize || stale) ws->ReleaseAll();
  if (recent_needs_.size() < kWindow) {
    recent_needs_.push_back(need);
  } else {
    recent_needs_[recent_next_] = need;
    recent_next_ = (recent_next_ + 1) % kWindow;
  }
}

std::vector<HostTensor> Executor::Run(const std::vector<std::pair<std::string, HostTensor>>& inputs, RunTimes* times) {
  auto ws = Acquire();
  std::vector<HostTensor> out;
  try {
    out = RunIn(ws.get(), inputs, times);
  } catch (...) {
    Give(std::move(ws));
    throw;
  }
  Give(std::move(ws));
  return out;
}

std::vector<size_t> Executor::CheckInputs(const std::vector<std::pair<std::string, DType>>& types,
                                          const std::vector<const Shape*>& shapes) const {
  for (const auto& given : types) {
    bool known = false;
    for (const auto& spec : inputs_) known = known || spec.name == given.first;
    if (!known) {
      std::string names;
      for (const auto& spec : inputs_) names += (names.empty() ? "" : ", ") + spec.name;
      throw PaddleError(ErrorCode::kArgument, "unknown input \"" + given.first + "\" (model inputs: " + names + ")");
    }
  }
  std::vector<size_t> which;
  for (const auto& spec : inputs_) {
    size_t k = types.size();
    for (size_t j = 0; j < types.size(); ++j) {
      if (types[j].first == spec.name) k = j;
    }
    if (k == types.size()) throw PaddleError(ErrorCode::kArgument, "missing input \"" + spec.name + "\"");
    if (types[k].second != spec.dtype) {
      throw PaddleError(ErrorCode::kArgument, "input \"" + spec.name + "\" must be " + DTypeName(spec.dtype) + ", got " + DTypeName(types[k].second));
    }
    const Shape& shape = *shapes[k];
    if (shape.size() != spec.shape.size()) {
      throw ShapeErr("input \"" + spec.name + "\" must have rank " + std::to_string(spec.shape.size()) + " " +
                     ShapeString(spec.shape) + ", got " + ShapeString(shape));
    }
    for (size_t d = 0; d < spec.shape.size(); ++d) {
      if ((spec.shape[d] >= 0 && shape[d] != spec.shape[d]) || shape[d] <= 0) {
        throw ShapeErr("input \"" + spec.name + "\" has shape " + ShapeString(shape) + ", expected " + ShapeString(spec.shape) +
                       " (-1 = any size >= 1)");
      }
    }
    CheckedNumel(shape, "input " + spec.name);
    which.push_back(k);
  }
  return which;
}

void Executor::ClearValues(Workspace* ws) const {
  // Clear every non-parameter value from the previous run, then bind the parameters.
  for (size_t i = 0; i < var_names_.size(); ++i) ws->At(static_cast<int>(i)).defined = false;
  for (size_t i = 0; i < params_.size(); ++i) {
    Value& v = ws->At(param_var_[i]);
    v.dtype = params_[i].dtype;
    v.shape = params_[i].shape;
    v.data = const_cast<uint8_t*>(params_[i].bytes.data());
    v.defined = true;
  }
  ws->BeginRun();
}

std::vector<HostTensor> Executor::RunIn(Workspace* ws, const std::vector<std::pair<std::string, HostTensor>>& inputs, RunTimes* times) {
  auto start = Clock::now();
  std::vector<std::pair<std::string, DType>> types;
  std::vector<const Shape*> shapes;
  for (const auto& given : inputs) {
    types.emplace_back(given.first, given.second.dtype);
    shapes.push_back(&given.second.shape);
  }
  std::vector<size_t> which = CheckInputs(types, shapes);
  for (size_t k = 0; k < inputs_.size(); ++k) {
    const HostTensor* t = &inputs[which[k]].second;
    size_t expect = static_cast<size_t>(CheckedNumel(t->shape, "input " + inputs_[k].name)) * DTypeSize(t->dtype);
    if (t->bytes.size() != expect) {
      throw ShapeErr("input \"" + inputs_[k].name + "\" has " + std::to_string(t->bytes.size()) + " bytes of data, shape " +
                     ShapeString(t->shape) + " needs " + std::to_string(expect));
    }
  }
  ClearValues(ws);
  for (size_t k = 0; k < inputs_.size(); ++k) {
    const HostTensor* t = &inputs[which[k]].second;
    Value& v = ws->Allocate(feeds_[k].first, t->dtype, t->shape, "input " + inputs_[k].name);
    if (!t->bytes.empty()) std::memcpy(v.data, t->bytes.data(), t->bytes.size());
  }
  SetDnnlThreads(threads_);
  for (size_t i = 0; i < ops_.size(); ++i) RunOp(ws, i, times);
  for (int idx : fetches_) ToPlain(ws, idx);
  ws->FlushPending();
  std::vector<HostTensor> out;
  for (int idx : fetches_) {
    const Value& v = ws->At(idx);
    if (!v.defined) throw ShapeErr("output \"" + var_names_[static_cast<size_t>(idx)] + "\" was not computed");
    HostTensor t;
    t.dtype = v.dtype;
    t.shape = v.shape;
    const uint8_t* p = static_cast<const uint8_t*>(v.data);
    t.bytes.assign(p, p + static_cast<size_t>(v.Numel()) * DTypeSize(v.dtype));
    out.push_back(std::move(t));
  }
  if (times) times->latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return out;
}

void Executor::ToPlain(Workspace* ws, int idx) const {
  Value v = ws->At(idx);
  if (!v.defined || !v.layout) return;
  Value& plain = ws->Allocate(idx, v.dtype, v.shape, "reorder of " + var_names_[static_cast<size_t>(idx)]);
  if (v.data && plain.data) ReorderToPlain(v.layout, v.data, v.shape, plain.data);
}

void Executor::RunOp(Workspace* ws, size_t i, RunTimes* times) const {
  const auto& c = ops_[i];
  auto op_start = Clock::now();
  if (!TakesDnnlLayouts(c.fn)) {
    for (const auto& slot : c.in)
      for (int idx : slot.second) ToPlain(ws, idx);
  }
  OpContext ctx(this, ws, c.op, &c.in, &c.out, c.state.get(), &dead_after_[i]);
  c.fn(ctx);
  ws->FlushPending();
  for (int dead : dead_after_[i]) ws->Free(dead);
  if (times) times->op_ms[c.op->type] += std::chrono::duration<double, std::milli>(Clock::now() - op_start).count();
}

// The vars a shape-only pass must compute: those marked, every input of an op that computes,
// and so every input of the ops that write them. An op computes when its kernel has no
// shape-only mode or when it writes a var that must be computed.
void Executor::CloseRealSet(std::vector<bool>* real_var, std::vector<bool>* real_op) const {
  bool changed = true;
  while (changed) {
    changed = false;
    for (size_t i = ops_.size(); i-- > 0;) {
      const auto& c = ops_[i];
      bool real = (*real_op)[i] || !SupportsShapeOnly(c.fn);
      for (const auto& slot : c.out)
        for (int idx : slot.second) real = real || (idx >= 0 && (*real_var)[static_cast<size_t>(idx)]);
      if (!real) continue;
      if (!(*real_op)[i]) changed = true;
      (*real_op)[i] = true;
      for (const auto& slot : c.out)
        for (int idx : slot.second)
          if (idx >= 0 && !(*real_var)[static_cast<size_t>(idx)]) { (*real_var)[static_cast<size_t>(idx)] = true; changed = true; }
      for (const auto& slot : c.in)
        for (int idx : slot.second)
          if (idx >= 0 && !(*real_var)[static_cast<size_t>(idx)]) { (*real_var)[static_cast<size_t>(idx)] = true; changed = true; }
    }
  }
}

// EstimateRunBytes: a shape-only pass over the compiled program at the given input shapes.
// Every kernel with a shape-only mode makes its outputs and asks for its scratch exactly as in a
// run, then returns without computing; the workspace runs the same slab assignment on sizes
// alone. A run's slab assignment depends only on the shapes (Workspace), so the pass's Need()
// is what a run with these shapes needs; the figure adds the input copy the addon makes and the
// copies of the outputs. Values the shape logic reads (a reshape's shape tensor, a range's
// bounds) are computed for real in the pass from zero-filled inputs: a kernel that reads one
// throws NeedValueSignal, the var joins the real set (kept for later calls) and the pass starts
// over. Data-dependent output shapes (none among the builtin ops) would be sized for zeros.
uint64_t Executor::EstimateRunBytes(const std::vector<std::pair<std::string, Shape>>& shapes) {
  std::vector<std::pair<std::string, DType>> types;
  std::vector<const Shape*> shape_ptrs;
  for (const auto& given : shapes) {
    auto spec = std::find_if(inputs_.begin(), inputs_.end(), [&](const TensorSpec& t) { return t.name == given.first; });
    types.emplace_back(given.first, spec == inputs_.end() ? DType::kFloat32 : spec->dtype);
    shape_ptrs.push_back(&given.second);
  }
  std::vector<size_t> which = CheckInputs(types, shape_ptrs);
  std::lock_guard<std::mutex> lock(estimate_mutex_);
  if (real_vars_.empty()) {
    real_vars_.assign(var_names_.size(), false);
    real_ops_.assign(ops_.size(), false);
    CloseRealSet(&real_vars_, &real_ops_);
  }
  for (size_t attempt = 0; attempt <= var_names_.size(); ++attempt) {
    Workspace ws(this, var_names_.size(), &real_vars_);
    ClearValues(&ws);
    uint64_t io = 0;
    for (size_t k = 0; k < inputs_.size(); ++k) {
      const Shape& shape = shapes[which[k]].second;
      ws.Allocate(feeds_[k].first, inputs_[k].dtype, shape, "input " + inputs_[k].name);  // zeros when real
      io += static_cast<uint64_t>(CheckedNumel(shape, "input")) * DTypeSize(inputs_[k].dtype);
    }
    try {
      SetDnnlThreads(threads_);
      for (size_t i = 0; i < ops_.size(); ++i) {
        ws.dry_op_ = !real_ops_[i];
        RunOp(&ws, i, nullptr);
      }
      ws.dry_op_ = false;
      for (int idx : fetches_) ToPlain(&ws, idx);
    } catch (const NeedValueSignal& need) {
      if (need.var < 0 || real_vars_[static_cast<size_t>(need.var)]) {
        throw PaddleError(ErrorCode::kNotImplemented, "memory estimate: a kernel read a value it was not given");
      }
      real_vars_[static_cast<size_t>(need.var)] = true;
      CloseRealSet(&real_vars_, &real_ops_);
      continue;
    }
    for (int idx : fetches_) {
      const Value& v = ws.At(idx);
      if (v.defined) io += static_cast<uint64_t>(v.Numel()) * DTypeSize(v.dtype);
    }
    return ws.Need() + io;
  }
  throw PaddleError(ErrorCode::kNotImplemented, "memory estimate did not settle");
}

}  // namespace paddle_native
