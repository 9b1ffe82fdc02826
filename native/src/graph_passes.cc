// Load-time graph passes of the builtin executor (Executor::OptimizeGraph), run after the
// program is compiled and before liveness is computed:
//  1. conv2d / depthwise_conv2d chains: a following bias add and batch_norm are folded into the
//     filter and bias; a following residual add becomes oneDNN's sum post-op and a following
//     activation an eltwise post-op; the chain runs as one oneDNN convolution (FusedConvKernel);
//  2. batch_norm on 4-D NCHW (with a following relu fused), pool2d and channel concat run on
//     oneDNN, on the conv outputs' blocked layout (no conversion back to NCHW between them);
//     an average pool2d after a 1x1 convolution chain with no activation runs before it (the
//     two commute; the convolution then reads a smaller map);
//  3. parameters no remaining op reads (the filters and batch_norm statistics folded above)
//     are freed.
// A var feeds a fusion only when one op writes it, exactly one op reads it and it is not
// fetched, so no value anyone can observe changes.
#include <algorithm>
#include <cmath>
#include <set>

#include "dnnl_ops.h"
#include "errors.h"
#include "executor.h"

namespace paddle_native {

namespace {

bool IsConv(const std::string& t) { return t == "conv2d" || t == "depthwise_conv2d"; }

const Attr* FindAttr(const OpDesc& op, const char* name) {
  auto it = op.attrs.find(name);
  return it == op.attrs.end() ? nullptr : &it->second;
}

std::string StrAttr(const OpDesc& op, const char* name, const std::string& def) {
  const Attr* a = FindAttr(op, name);
  return a ? a->s : def;
}

int64_t IntAttr(const OpDesc& op, const char* name, int64_t def) {
  const Attr* a = FindAttr(op, name);
  if (!a) return def;
  if (a->kind == Attr::Kind::kFloat) return static_cast<int64_t>(a->f);
  return a->i;
}

double FloatAttr(const OpDesc& op, const char* name, double def) {
  const Attr* a = FindAttr(op, name);
  if (!a) return def;
  if (a->kind == Attr::Kind::kInt || a->kind == Attr::Kind::kBool) return static_cast<double>(a->i);
  return a->f;
}

std::vector<int64_t> IntsAttr(const OpDesc& op, const char* name) {
  const Attr* a = FindAttr(op, name);
  if (!a) return {};
  if (a->kind == Attr::Kind::kInt) return {a->i};
  return a->ints;
}

// A convolution chain that is pointwise and affine: 1x1 filter, stride 1, no padding (the
// caller checks that no activation or residual follows). Such a chain maps each pixel's
// channels on their own, so it commutes with an average over pixels.
bool PointwiseConv(const FusedConvSpec& s) {
  if (s.kh != 1 || s.kw != 1) return false;
  for (int64_t v : s.strides)
    if (v != 1) return false;
  if (s.padding_algorithm == "SAME") return true;  // a 1x1 stride-1 window needs no padding
  for (int64_t v : s.paddings)
    if (v != 0) return false;
  return true;
}

// An average pool2d whose every window is a plain mean of pixels that exist (NCHW, no padding,
// floor mode, not global or adaptive): it commutes with a pointwise affine map, since each
// output is sum_k w_k * x_k with weights summing to 1, so pool(W x + b) = W pool(x) + b.
// Pooling first makes the convolution read a map stride^2 times smaller (DenseNet's
// transitions: 1x1 conv then 2x2 average pool). Results differ from the exported order only
// in float rounding.
bool PoolCommutes(const OpDesc& op) {
  if (op.type != "pool2d" || !DnnlPoolSupported(op) || StrAttr(op, "pooling_type", "max") != "avg") return false;
  if (IntAttr(op, "global_pooling", 0) != 0 || IntAttr(op, "adaptive", 0) != 0 || IntAttr(op, "ceil_mode", 0) != 0) return false;
  std::string algo = StrAttr(op, "padding_algorithm", "EXPLICIT");
  if (algo == "SAME") return false;
  if (algo != "VALID")
    for (int64_t v : IntsAttr(op, "paddings"))
      if (v != 0) return false;
  std::vector<int64_t> ks = IntsAttr(op, "ksize");
  return !ks.empty() && ks.size() <= 2;
}

}  // namespace

Executor::VarUse Executor::VarUses() const {
  const size_t nvars = var_names_.size();
  VarUse u{std::vector<int>(nvars, 0), std::vector<int>(nvars, 0), std::vector<int>(nvars, -1), std::vector<int>(nvars, -1)};
  for (size_t i = 0; i < ops_.size(); ++i) {
    for (const auto& slot : ops_[i].in)
      for (int v : slot.second) { u.readers[static_cast<size_t>(v)]++; u.reader_op[static_cast<size_t>(v)] = static_cast<int>(i); }
    for (const auto& slot : ops_[i].out)
      for (int v : slot.second)
        if (v >= 0) { u.writers[static_cast<size_t>(v)]++; u.writer_op[static_cast<size_t>(v)] = static_cast<int>(i); }
  }
  for (int f : fetches_) u.readers[static_cast<size_t>(f)] += 2;  // never fused away
  return u;
}

void Executor::OptimizeGraph() {
  const size_t nvars = var_names_.size();
  std::vector<int> param_of(nvars, -1);
  for (size_t k = 0; k < param_var_.size(); ++k) param_of[static_cast<size_t>(param_var_[k])] = static_cast<int>(k);
  VarUse use = VarUses();
  std::vector<int>& readers = use.readers;
  std::vector<int>& reader_op = use.reader_op;
  std::vector<int>& writer_op = use.writer_op;
  auto single_use = [&](int v) { return use.SingleUse(v); };
  auto in_var = [&](const CompiledOp& c, const char* slot) {
    for (const auto& s : c.in)
      if (s.first == slot) return s.second.size() == 1 ? s.second[0] : -1;
    return -1;
  };
  auto out_var = [&](const CompiledOp& c, const char* slot) {
    for (const auto& s : c.out)
      if (s.first == slot) return s.second.size() == 1 ? s.second[0] : -1;
    return -1;
  };
  auto param_floats = [&](int v, int64_t n) -> const float* {
    if (v < 0 || param_of[static_cast<size_t>(v)] < 0) return nullptr;
    const HostTensor& t = params_[static_cast<size_t>(param_of[static_cast<size_t>(v)])];
    if (t.dtype != DType::kFloat32 || static_cast<int64_t>(t.bytes.size()) != n * 4) return nullptr;
    return reinterpret_cast<const float*>(t.bytes.data());
  };
  auto dims_of = [&](int v) -> const Shape* {
    const VarDesc* d = program_.FindVar(var_names_[static_cast<size_t>(v)]);
    return d && d->is_tensor ? &d->dims : nullptr;
  };
  // Other outputs of an op (batch_norm's statistics) must be unused for it to be fused away.
  auto others_unused = [&](const CompiledOp& c, const char* keep) {
    for (const auto& s : c.out) {
      if (s.first == keep) continue;
      for (int v : s.second)
        if (v >= 0 && readers[static_cast<size_t>(v)] > 0) return false;
    }
    return true;
  };

  // PIR programs pass pool2d's window (KSize) and concat's axis (AxisTensor) as operands, constants
  // after folding: they become the attributes legacy programs carry, so those ops run on oneDNN too.
  for (CompiledOp& c : ops_) {
    const char* slot = c.op->type == "pool2d" ? "KSize" : c.op->type == "concat" ? "AxisTensor" : nullptr;
    int v = slot ? in_var(c, slot) : -1;
    if (v < 0 || param_of[static_cast<size_t>(v)] < 0) continue;
    const HostTensor& t = params_[static_cast<size_t>(param_of[static_cast<size_t>(v)])];
    Attr a;
    a.kind = Attr::Kind::kInts;
    for (size_t k = 0; t.dtype == DType::kInt64 && k + 8 <= t.bytes.size(); k += 8) a.ints.push_back(*reinterpret_cast<const int64_t*>(&t.bytes[k]));
    for (size_t k = 0; t.dtype == DType::kInt32 && k + 4 <= t.bytes.size(); k += 4) a.ints.push_back(*reinterpret_cast<const int32_t*>(&t.bytes[k]));
    if (a.ints.empty() || (c.op->type == "concat" && a.ints.size() != 1)) continue;
    OpDesc desc = *c.op;
    if (c.op->type == "concat") {
      a.kind = Attr::Kind::kInt;
      a.i = a.ints[0];
      a.ints.clear();
    }
    desc.attrs[c.op->type == "concat" ? "axis" : "ksize"] = a;
    auto is_slot = [&](const auto& e) { return e.first == slot; };
    desc.inputs.erase(std::remove_if(desc.inputs.begin(), desc.inputs.end(), is_slot), desc.inputs.end());
    synthetic_ops_.push_back(std::move(desc));
    c.op = &synthetic_ops_.back();
    c.in.erase(std::remove_if(c.in.begin(), c.in.end(), is_slot), c.in.end());
  }

  std::vector<bool> removed(ops_.size(), false);
  for (size_t i = 0; i < ops_.size(); ++i) {
    CompiledOp& c = ops_[i];
    const OpDesc& op = *c.op;
    if (IsConv(op.type)) {
      std::string fmt = StrAttr(op, "data_format", "NCHW");
      int x = in_var(c, "Input"), f = in_var(c, "Filter"), y = out_var(c, "Output");
      if ((fmt != "NCHW" && fmt != "AnyLayout") || x < 0 || f < 0 || y < 0 || param_of[static_cast<size_t>(f)] < 0) continue;
      if (c.in.size() != 2) continue;  // a Bias/ResidualData input of a fused legacy conv: leave it
      const HostTensor& filt = params_[static_cast<size_t>(param_of[static_cast<size_t>(f)])];
      if (filt.dtype != DType::kFloat32 || filt.shape.size() != 4) continue;
      FusedConvSpec spec;
      spec.oc = filt.shape[0];
      spec.icg = filt.shape[1];
      spec.kh = filt.shape[2];
      spec.kw = filt.shape[3];
      spec.groups = std::max<int64_t>(IntAttr(op, "groups", 1), 1);
      if (spec.oc % spec.groups != 0) continue;
      spec.strides = IntsAttr(op, "strides");
      spec.dilations = IntsAttr(op, "dilations");
      spec.paddings = IntsAttr(op, "paddings");
      spec.padding_algorithm = StrAttr(op, "padding_algorithm", "EXPLICIT");
      const float* w = reinterpret_cast<const float*>(filt.bytes.data());
      spec.weights.assign(w, w + filt.bytes.size() / 4);
      spec.bias.assign(static_cast<size_t>(spec.oc), 0.f);
      const int64_t per_oc = spec.icg * spec.kh * spec.kw;
      int cur = y, residual = -1;
      bool bn_done = false, bias_done = false;
      std::vector<size_t> fused;
      while (single_use(cur)) {
        size_t j = static_cast<size_t>(reader_op[static_cast<size_t>(cur)]);
        if (j <= i || removed[j]) break;
        CompiledOp& n = ops_[j];
        const std::string& t = n.op->type;
        if (t == "elementwise_add" && !bn_done && !bias_done && residual < 0 && spec.act.kind.empty()) {
          int a = in_var(n, "X"), b = in_var(n, "Y"), o = out_var(n, "Out");
          int other = a == cur ? b : a;
          const float* pb = param_floats(other, spec.oc);
          int64_t axis = IntAttr(*n.op, "axis", -1);
          const Shape* od = other >= 0 ? dims_of(other) : nullptr;
          bool channel_bias = pb && a == cur && od &&
                              ((od->size() == 1 && axis == 1) || (od->size() == 4 && (*od)[0] == 1 && (*od)[2] == 1 && (*od)[3] == 1));
          if (channel_bias && o >= 0) {
            for (int64_t k = 0; k < spec.oc; ++k) spec.bias[static_cast<size_t>(k)] += pb[k];
            bias_done = true;
            fused.push_back(j);
            cur = o;
            continue;
          }
        }
        if (t == "batch_norm" && !bn_done && residual < 0 && spec.act.kind.empty() && in_var(n, "X") == cur && others_unused(n, "Y")) {
          const float* sc = param_floats(in_var(n, "Scale"), spec.oc);
          const float* sh = param_floats(in_var(n, "Bias"), spec.oc);
          const float* mean = param_floats(in_var(n, "Mean"), spec.oc);
          const float* var = param_floats(in_var(n, "Variance"), spec.oc);
          int o = out_var(n, "Y");
          std::string layout = StrAttr(*n.op, "data_layout", "NCHW");
          if (sc && sh && mean && var && o >= 0 && (layout == "NCHW" || layout == "AnyLayout")) {
            float eps = static_cast<float>(FloatAttr(*n.op, "epsilon", 1e-5));
            for (int64_t k = 0; k < spec.oc; ++k) {
              float a = sc[k] / std::sqrt(var[k] + eps);
              for (int64_t e = 0; e < per_oc; ++e) spec.weights[static_cast<size_t>(k * per_oc + e)] *= a;
              spec.bias[static_cast<size_t>(k)] = (spec.bias[static_cast<size_t>(k)] - mean[k]) * a + sh[k];
            }
            bn_done = true;
            fused.push_back(j);
            cur = o;
            continue;
          }
        }
        if (t == "elementwise_add" && residual < 0 && spec.act.kind.empty()) {
          int a = in_var(n, "X"), b = in_var(n, "Y"), o = out_var(n, "Out");
          int other = a == cur ? b : a;
          const Shape* d1 = dims_of(cur);
          const Shape* d2 = other >= 0 ? dims_of(other) : nullptr;
          // The other operand must have the same shape (no broadcasting) and be ready before the conv runs.
          bool ready = other >= 0 && (param_of[static_cast<size_t>(other)] >= 0 || writer_op[static_cast<size_t>(other)] < static_cast<int>(i));
          bool same = d1 && d2 && d1->size() == 4 && *d1 == *d2 && IntAttr(*n.op, "axis", -1) == -1;
          bool is_feed = std::any_of(feeds_.begin(), feeds_.end(), [&](const std::pair<int, int>& fd) { return fd.first == other; });
          if (o >= 0 && other != cur && ready && same && (writer_op[static_cast<size_t>(other)] >= 0 || is_feed) && param_of[static_cast<size_t>(other)] < 0) {
            residual = other;
            fused.push_back(j);
            cur = o;
            continue;
          }
        }
        PostActivation act;
        if (spec.act.kind.empty() && ActivationPostOp(*n.op, &act)) {
          int o = out_var(n, "Out");
          if (o >= 0 && in_var(n, "X") == cur) {
            spec.act = act;
            fused.push_back(j);
            cur = o;
          }
        }
        break;
      }
      spec.residual = residual >= 0;
      // An average pool after a pointwise chain runs first (see PoolCommutes): the convolution
      // then reads the pooled map, and the chain's end var carries the pooled input instead.
      int pool = -1;
      if (!spec.residual && spec.act.kind.empty() && PointwiseConv(spec) && single_use(cur)) {
        int j = reader_op[static_cast<size_t>(cur)];
        if (j > static_cast<int>(i) && !removed[static_cast<size_t>(j)] && PoolCommutes(*ops_[static_cast<size_t>(j)].op) &&
            in_var(ops_[static_cast<size_t>(j)], "X") == cur && out_var(ops_[static_cast<size_t>(j)], "Out") >= 0)
          pool = j;
      }
      OpDesc desc = op;
      desc.type = "fused_conv2d";
      synthetic_ops_.push_back(std::move(desc));
      CompiledOp fc{&synthetic_ops_.back(), FusedConvKernel, {{"Input", {x}}}, {{"Output", {cur}}}, MakeFusedConvState(std::move(spec))};
      if (residual >= 0) fc.in.push_back({"Residual", {residual}});
      // The conv's own output var keeps its writer count; ops reading the chain's end see one writer.
      for (size_t j : fused) removed[j] = true;
      if (cur != y) writer_op[static_cast<size_t>(cur)] = static_cast<int>(i);
      if (pool >= 0) {
        CompiledOp& p = ops_[static_cast<size_t>(pool)];
        int pool_out = out_var(p, "Out");
        CompiledOp pooled{p.op, DnnlPoolKernel, {{"X", {x}}}, {{"Out", {cur}}}, MakeDnnlOpState()};
        fc.in = {{"Input", {cur}}};
        fc.out = {{"Output", {pool_out}}};
        p = std::move(fc);  // the convolution runs where the pool ran and writes its output
        c = std::move(pooled);
        writer_op[static_cast<size_t>(pool_out)] = pool;
        continue;
      }
      c = std::move(fc);
      continue;
    }
    if ((op.type == "matmul_v2" || op.type == "matmul" || op.type == "mul" || op.type == "fc") && !removed[i]) {
      bool is_fc = op.type == "fc", is_mul = op.type == "mul";
      int x = in_var(c, is_fc ? "Input" : "X"), wv = in_var(c, is_fc ? "W" : "Y"), y = out_var(c, "Out");
      if (x < 0 || wv < 0 || y < 0 || param_of[static_cast<size_t>(wv)] < 0) continue;
      const HostTensor& wt = params_[static_cast<size_t>(param_of[static_cast<size_t>(wv)])];
      if (wt.dtype != DType::kFloat32 || wt.shape.size() != 2) continue;
      bool tx = op.type == "matmul_v2" ? IntAttr(op, "trans_x", 0) != 0 : op.type == "matmul" ? IntAttr(op, "transpose_X", 0) != 0 : false;
      bool ty = op.type == "matmul_v2" ? IntAttr(op, "trans_y", 0) != 0 : op.type == "matmul" ? IntAttr(op, "transpose_Y", 0) != 0 : false;
      const Shape* xd = dims_of(x);
      if (tx || !xd || xd->size() < 2) continue;  // a 1-D X squeezes its row away: leave it to the builtin kernel
      if (is_mul && IntAttr(op, "y_num_col_dims", 1) != 1) continue;
      FusedMatmulSpec spec;
      spec.k = ty ? wt.shape[1] : wt.shape[0];
      spec.n = ty ? wt.shape[0] : wt.shape[1];
      spec.x_num_col_dims = is_mul ? IntAttr(op, "x_num_col_dims", 1) : is_fc ? IntAttr(op, "in_num_col_dims", 1) : -1;
      float alpha = op.type == "matmul" ? static_cast<float>(FloatAttr(op, "alpha", 1.0)) : 1.f;
      const float* w = reinterpret_cast<const float*>(wt.bytes.data());
      spec.weights.resize(static_cast<size_t>(spec.k * spec.n));
      for (int64_t r = 0; r < spec.k; ++r)
        for (int64_t col = 0; col < spec.n; ++col)
          spec.weights[static_cast<size_t>(r * spec.n + col)] = alpha * (ty ? w[col * spec.k + r] : w[r * spec.n + col]);
      if (is_fc) {
        int b = in_var(c, "Bias");
        if (b >= 0) {
          const float* pb = param_floats(b, spec.n);
          if (!pb) continue;
          spec.bias.assign(pb, pb + spec.n);
        }
        std::string act = StrAttr(op, "activation_type", "");
        if (act == "relu") spec.act.kind = "relu";
        else if (!act.empty()) continue;
      }
      int cur = y;
      std::vector<size_t> fused;
      while (single_use(cur) && spec.act.kind.empty()) {
        size_t j = static_cast<size_t>(reader_op[static_cast<size_t>(cur)]);
        if (j <= i || removed[j]) break;
        CompiledOp& n = ops_[j];
        if (n.op->type == "elementwise_add" && spec.bias.empty() && in_var(n, "X") == cur) {
          int other = in_var(n, "Y"), o = out_var(n, "Out");
          const float* pb = param_floats(other, spec.n);
          const Shape* od = other >= 0 ? dims_of(other) : nullptr;
          int64_t axis = IntAttr(*n.op, "axis", -1);
          bool last_dim = od && !od->empty() && od->back() == spec.n && (axis == -1 || (od->size() == 1 && axis == static_cast<int64_t>(xd->size()) - 1));
          if (pb && last_dim && o >= 0) {
            spec.bias.assign(pb, pb + spec.n);
            fused.push_back(j);
            cur = o;
            continue;
          }
        }
        PostActivation act;
        if (ActivationPostOp(*n.op, &act) && in_var(n, "X") == cur && out_var(n, "Out") >= 0) {
          spec.act = act;
          fused.push_back(j);
          cur = out_var(n, "Out");
        }
        break;
      }
      OpDesc desc = op;
      desc.type = "fused_matmul";
      synthetic_ops_.push_back(std::move(desc));
      CompiledOp fm{&synthetic_ops_.back(), FusedMatmulKernel, {{"X", {x}}}, {{"Out", {cur}}}, MakeFusedMatmulState(std::move(spec))};
      for (size_t j : fused) removed[j] = true;
      if (cur != y) writer_op[static_cast<size_t>(cur)] = static_cast<int>(i);
      c = std::move(fm);
      continue;
    }
    if (op.type == "batch_norm" && !removed[i]) {
      int x = in_var(c, "X"), y = out_var(c, "Y");
      const Shape* xd = x >= 0 ? dims_of(x) : nullptr;
      std::string layout = StrAttr(op, "data_layout", "NCHW");
      if (!xd || xd->size() != 4 || y < 0 || (layout != "NCHW" && layout != "AnyLayout")) continue;
      bool params = true;
      for (const char* s : {"Scale", "Bias", "Mean", "Variance"}) params = params && param_of[static_cast<size_t>(std::max(in_var(c, s), 0))] >= 0 && in_var(c, s) >= 0;
      if (!params || !others_unused(c, "Y")) continue;
      OpDesc desc = op;
      desc.type = "fused_batch_norm";
      int out = y;
      if (single_use(y)) {
        size_t j = static_cast<size_t>(reader_op[static_cast<size_t>(y)]);
        if (j > i && !removed[j] && ops_[j].op->type == "relu" && in_var(ops_[j], "X") == y && out_var(ops_[j], "Out") >= 0) {
          out = out_var(ops_[j], "Out");
          removed[j] = true;
          Attr a;
          a.kind = Attr::Kind::kBool;
          a.i = 1;
          desc.attrs["fused_relu"] = a;
          writer_op[static_cast<size_t>(out)] = static_cast<int>(i);
        }
      }
      synthetic_ops_.push_back(std::move(desc));
      std::vector<std::pair<std::string, std::vector<int>>> ins;
      for (const char* s : {"X", "Scale", "Bias", "Mean", "Variance"}) ins.push_back({s, {in_var(c, s)}});
      c = CompiledOp{&synthetic_ops_.back(), DnnlBatchNormKernel, std::move(ins), {{"Y", {out}}}, MakeDnnlOpState()};
      continue;
    }
    if (op.type == "pool2d" && DnnlPoolSupported(op)) {
      int x = in_var(c, "X");
      const Shape* xd = x >= 0 ? dims_of(x) : nullptr;
      if (!xd || xd->size() != 4) continue;
      c.fn = DnnlPoolKernel;
      c.state = MakeDnnlOpState();
      continue;
    }
    if (op.type == "concat") {
      bool ok = !FindAttr(op, "AxisTensor") && (IntAttr(op, "axis", 0) == 1 || IntAttr(op, "axis", 0) == -3);
      for (const auto& s : c.in) {
        if (s.first == "AxisTensor" && !s.second.empty()) ok = false;
        if (s.first != "X") continue;
        for (int v : s.second) {
          const Shape* d = dims_of(v);
          const VarDesc* vd = program_.FindVar(var_names_[static_cast<size_t>(v)]);
          ok = ok && d && d->size() == 4 && vd && vd->dtype == DType::kFloat32 && param_of[static_cast<size_t>(v)] < 0;
        }
      }
      if (!ok) continue;
      c.fn = DnnlConcatKernel;
      c.state = MakeDnnlOpState();
    }
  }
  std::vector<CompiledOp> kept;
  for (size_t i = 0; i < ops_.size(); ++i)
    if (!removed[i]) kept.push_back(std::move(ops_[i]));
  ops_ = std::move(kept);

  // Parameters no op reads any more (folded filters, batch_norm statistics) are freed.
  std::vector<bool> read(nvars, false);
  for (const auto& c : ops_)
    for (const auto& slot : c.in)
      for (int v : slot.second) read[static_cast<size_t>(v)] = true;
  for (int f : fetches_) read[static_cast<size_t>(f)] = true;
  for (size_t k = 0; k < params_.size(); ++k) {
    if (!read[static_cast<size_t>(param_var_[k])]) std::vector<uint8_t>().swap(params_[k].bytes);
  }
}

}  // namespace paddle_native
