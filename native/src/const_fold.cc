// Constant folding at load (Executor::FoldConstants), run on the compiled program before the
// other graph passes: an op whose inputs are all parameters or results of ops folded before it
// (fill_constant / assign_value have none) is run once, here, with its own kernel, and its
// outputs become parameters; the op leaves the program. What it removes in exported models:
// slices, transposes, reshapes, casts and scales of weights, fill_constant chains, `shape` of a
// weight, ranges whose bounds are constants. Since the kernels are the run's own, a folded value
// is bit for bit what the run would have computed. Not folded: ops that write a var another op
// also writes, or a fetched var; results larger than kMaxFoldBytes that are larger than their
// inputs (an expand of a small weight to a big tensor stays a run-time op, so folding never costs
// much memory); ops whose kernel throws here (the load's signature probe then reports it as
// before). Parameters only folded ops read are freed. This runs after the signature check, on
// the program parsed from the verified bytes.
#include <algorithm>
#include <cstring>

#include "errors.h"
#include "executor.h"

namespace paddle_native {

namespace {

constexpr uint64_t kMaxFoldBytes = uint64_t{1} << 20;

}  // namespace

void Executor::FoldConstants() {
  const size_t nvars = var_names_.size();
  std::vector<bool> is_const(nvars, false), fetched(nvars, false), fed(nvars, false);
  std::vector<int> writers(nvars, 0);
  for (int p : param_var_) is_const[static_cast<size_t>(p)] = true;
  for (int f : fetches_) fetched[static_cast<size_t>(f)] = true;
  for (const auto& f : feeds_) fed[static_cast<size_t>(f.first)] = true;
  for (const auto& c : ops_)
    for (const auto& slot : c.out)
      for (int v : slot.second)
        if (v >= 0) writers[static_cast<size_t>(v)]++;

  Workspace ws(this, nvars);
  ClearValues(&ws);
  std::vector<bool> folded(ops_.size(), false);
  for (size_t i = 0; i < ops_.size(); ++i) {
    const CompiledOp& c = ops_[i];
    bool ok = true;
    uint64_t in_bytes = 0;
    for (const auto& slot : c.in)
      for (int v : slot.second) {
        ok = ok && is_const[static_cast<size_t>(v)];
        if (ok) in_bytes += static_cast<uint64_t>(ws.At(v).Numel()) * DTypeSize(ws.At(v).dtype);
      }
    bool any_out = false;
    for (const auto& slot : c.out)
      for (int v : slot.second) {
        if (v < 0) continue;
        any_out = true;
        ok = ok && writers[static_cast<size_t>(v)] == 1 && !fetched[static_cast<size_t>(v)] && !fed[static_cast<size_t>(v)];
      }
    if (!ok || !any_out) continue;
    try {
      OpContext ctx(this, &ws, c.op, &c.in, &c.out, c.state.get());
      c.fn(ctx);
      ws.FlushPending();
    } catch (const PaddleError&) {
      continue;  // left to run; the signature probe reports the error at load
    }
    uint64_t out_bytes = 0;
    bool all_defined = true;
    for (const auto& slot : c.out)
      for (int v : slot.second) {
        if (v < 0) continue;
        const Value& val = ws.At(v);
        all_defined = all_defined && val.defined && !val.layout;
        out_bytes += static_cast<uint64_t>(val.Numel()) * DTypeSize(val.dtype);
      }
    if (!all_defined || (out_bytes > kMaxFoldBytes && out_bytes > in_bytes)) {
      for (const auto& slot : c.out)
        for (int v : slot.second)
          if (v >= 0) ws.At(v).defined = false;
      continue;
    }
    folded[i] = true;
    for (const auto& slot : c.out)
      for (int v : slot.second)
        if (v >= 0) is_const[static_cast<size_t>(v)] = true;
  }

  // Folded values some remaining op reads become parameters; the folded ops go.
  if (std::find(folded.begin(), folded.end(), true) == folded.end()) return;
  std::vector<bool> read(nvars, false), param(nvars, false);
  for (int p : param_var_) param[static_cast<size_t>(p)] = true;
  std::vector<CompiledOp> kept;
  for (size_t i = 0; i < ops_.size(); ++i) {
    if (folded[i]) continue;
    for (const auto& slot : ops_[i].in)
      for (int v : slot.second) read[static_cast<size_t>(v)] = true;
    kept.push_back(std::move(ops_[i]));
  }
  ops_ = std::move(kept);
  for (size_t v = 0; v < nvars; ++v) {
    if (!read[v] || param[v] || !is_const[v]) continue;
    const Value& val = ws.At(static_cast<int>(v));
    HostTensor t;
    t.dtype = val.dtype;
    t.shape = val.shape;
    const uint8_t* p = static_cast<const uint8_t*>(val.data);
    t.bytes.assign(p, p + static_cast<size_t>(val.Numel()) * DTypeSize(val.dtype));
    parameter_bytes_ += t.bytes.size();
    params_.push_back(std::move(t));
    param_var_.push_back(static_cast<int>(v));
  }
  // Parameters that only folded ops read are not needed at run time.
  for (size_t k = 0; k < params_.size(); ++k) {
    if (!read[static_cast<size_t>(param_var_[k])] && !fetched[static_cast<size_t>(param_var_[k])]) std::vector<uint8_t>().swap(params_[k].bytes);
  }
}

}  // namespace paddle_native
