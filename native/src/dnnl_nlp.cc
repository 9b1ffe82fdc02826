// oneDNN kernels for the ops of transformer encoders that are not products with a constant
// matrix (those are fused_matmul, dnnl_ops.cc): the attention's batched activation x activation
// products (transposes read through strides, a preceding `scale` folded into the product's
// output scale), softmax and layer_norm. Executor::UseNlpKernels (below) puts them in place of
// the builtin loops at load. Each kernel makes a oneDNN primitive once per input shape (a plan
// cache in its op state) and falls back to the builtin kernel for what oneDNN does not take
// (other dtypes, 0-D or 1-D operands, empty tensors), so the results and errors stay the
// builtin's there. Numerics: oneDNN accumulates in float32 where the builtin layer_norm uses
// double; both stay far inside the zoo's 1e-4 tolerance.
#include "dnnl_nlp.h"

#include <algorithm>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>

#include "errors.h"

namespace paddle_native {

namespace {

using dnnl::memory;
using Dt = memory::data_type;

dnnl::engine& Eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& Strm() {
  thread_local dnnl::stream s(Eng());
  return s;
}

KernelFn Builtin(const char* type) { return KernelTable().at(type); }

// Row-major strides of a plain tensor.
memory::dims Contiguous(const memory::dims& d) {
  memory::dims s(d.size(), 1);
  for (size_t i = d.size(); i-- > 1;) s[i - 1] = s[i] * std::max<int64_t>(d[i], 1);
  return s;
}

bool Usable(const Value& v, size_t min_rank) {
  if (v.dtype != DType::kFloat32 || v.shape.size() < min_rank || v.shape.size() > 6) return false;
  for (int64_t d : v.shape)
    if (d <= 0) return false;
  return true;
}

// A primitive for one set of input shapes; `builtin`: oneDNN does not take them.
struct Plan {
  Shape key;
  bool builtin = false;
  dnnl::primitive prim;
  memory::desc src_md, wei_md, dst_md, scratch_md;
  size_t scratch_bytes = 0;
  Shape out;
};

struct NlpState {
  std::mutex mu;
  std::vector<std::shared_ptr<Plan>> plans;
  template <typename Make>
  std::shared_ptr<Plan> Get(const Shape& key, Make make) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& p : plans)
      if (p->key == key) return p;
    auto plan = std::make_shared<Plan>();
    plan->key = key;
    try {
      make(plan.get());
    } catch (const dnnl::error&) {  // a case this oneDNN has no implementation for: the builtin kernel
      plan->builtin = true;
    }
    plans.push_back(plan);
    return plan;
  }
};

void Execute(OpContext& ctx, const Plan& plan, std::unordered_map<int, memory> args, float* scratch) {
  if (plan.scratch_bytes) args.emplace(DNNL_ARG_SCRATCHPAD, memory(plan.scratch_md, Eng(), scratch));
  try {
    plan.prim.execute(Strm(), args);
  } catch (const dnnl::error& e) {
    ctx.Fail(std::string("oneDNN: ") + e.what());
  }
}

float* ScratchFor(OpContext& ctx, const Plan& plan) {
  return plan.scratch_bytes ? ctx.Scratch((plan.scratch_bytes + 3) / 4) : nullptr;
}

// X [..., M, K] (stored [..., K, M] when transposed) as oneDNN sees it: the last two dims
// swapped through strides, the batch dims padded with leading 1s to `rank`.
memory::desc Operand(const Shape& stored, bool trans, size_t rank) {
  memory::dims d(stored.begin(), stored.end());
  memory::dims s = Contiguous(d);
  if (trans) {
    std::swap(d[d.size() - 1], d[d.size() - 2]);
    std::swap(s[s.size() - 1], s[s.size() - 2]);
  }
  int64_t total = s.empty() ? 1 : s[0] * d[0];
  while (d.size() < rank) {
    d.insert(d.begin(), 1);
    s.insert(s.begin(), total);
  }
  return memory::desc(d, Dt::f32, s);
}

}  // namespace

std::shared_ptr<void> MakeNlpState() { return std::make_shared<NlpState>(); }

// matmul / matmul_v2 of two activations as the legacy `matmul` (attrs transpose_X,
// transpose_Y, alpha): Out = alpha * op(X) x op(Y), batch dims broadcast.
void DnnlBatchMatmulKernel(OpContext& ctx) {
  auto* st = static_cast<NlpState*>(ctx.State());
  Value x = ctx.In("X"), y = ctx.In("Y");
  if (!Usable(x, 2) || !Usable(y, 2)) return Builtin("matmul")(ctx);
  bool tx = ctx.Bool("transpose_X", false), ty = ctx.Bool("transpose_Y", false);
  float alpha = static_cast<float>(ctx.Float("alpha", 1.0));
  Shape key = x.shape;
  key.push_back(-1);
  key.insert(key.end(), y.shape.begin(), y.shape.end());
  auto plan = st->Get(key, [&](Plan* p) {
    size_t rank = std::max(x.shape.size(), y.shape.size());
    memory::desc src = Operand(x.shape, tx, rank), wei = Operand(y.shape, ty, rank);
    memory::dims sd = src.dims(), wd = wei.dims();
    if (sd[rank - 1] != wd[rank - 2]) {
      p->builtin = true;  // the builtin kernel names the mismatch
      return;
    }
    memory::dims od(rank);
    for (size_t i = 0; i + 2 < rank; ++i) {
      if (sd[i] != wd[i] && sd[i] != 1 && wd[i] != 1) {
        p->builtin = true;
        return;
      }
      od[i] = std::max(sd[i], wd[i]);
    }
    od[rank - 2] = sd[rank - 2];
    od[rank - 1] = wd[rank - 1];
    p->out.assign(od.begin(), od.end());
    p->src_md = src;
    p->wei_md = wei;
    p->dst_md = memory::desc(od, Dt::f32, Contiguous(od));
    dnnl::primitive_attr attr;
    if (alpha != 1.f) attr.set_output_scales(0, {alpha});
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(p->src_md, p->wei_md, p->dst_md), attr, Eng());
    p->scratch_md = pd.scratchpad_desc();
    p->scratch_bytes = p->scratch_md.get_size();
    p->prim = dnnl::matmul(pd);
  });
  if (plan->builtin) return Builtin("matmul")(ctx);
  Value& o = ctx.Out("Out", DType::kFloat32, plan->out);
  float* scratch = ScratchFor(ctx, *plan);
  if (ctx.Dry()) return;
  Execute(ctx, *plan,
          {{DNNL_ARG_SRC, memory(plan->src_md, Eng(), x.data)},
           {DNNL_ARG_WEIGHTS, memory(plan->wei_md, Eng(), y.data)},
           {DNNL_ARG_DST, memory(plan->dst_md, Eng(), o.data)}},
          scratch);
}

void DnnlSoftmaxKernel(OpContext& ctx) {
  auto* st = static_cast<NlpState*>(ctx.State());
  Value x = ctx.In("X");
  if (!Usable(x, 1)) return Builtin("softmax")(ctx);
  int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = ctx.Int("axis", -1);
  if (axis < -rank || axis >= rank) return Builtin("softmax")(ctx);  // the builtin names the bad axis
  if (axis < 0) axis += rank;
  Shape key = x.shape;
  key.push_back(axis);
  auto plan = st->Get(key, [&](Plan* p) {
    memory::dims d(x.shape.begin(), x.shape.end());
    p->src_md = memory::desc(d, Dt::f32, Contiguous(d));
    p->out = x.shape;
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::softmax_forward::primitive_desc pd(
        dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, p->src_md, static_cast<int>(axis)), attr, Eng());
    p->scratch_md = pd.scratchpad_desc();
    p->scratch_bytes = p->scratch_md.get_size();
    p->prim = dnnl::softmax_forward(pd);
  });
  if (plan->builtin) return Builtin("softmax")(ctx);
  Value& o = ctx.Out("Out", DType::kFloat32, x.shape);
  float* scratch = ScratchFor(ctx, *plan);
  if (ctx.Dry()) return;
  Execute(ctx, *plan, {{DNNL_ARG_SRC, memory(plan->src_md, Eng(), x.data)}, {DNNL_ARG_DST, memory(plan->src_md, Eng(), o.data)}}, scratch);
}

// layer_norm over the dims from begin_norm_axis on, as a 2-D [outer, inner] normalization.
// Like the builtin kernel it writes Y only (Mean and Variance are not computed).
void DnnlLayerNormKernel(OpContext& ctx) {
  auto* st = static_cast<NlpState*>(ctx.State());
  Value x = ctx.In("X");
  if (!Usable(x, 1)) return Builtin("layer_norm")(ctx);
  int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = ctx.Int("begin_norm_axis", 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return Builtin("layer_norm")(ctx);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < rank; ++i) (i < axis ? outer : inner) *= x.shape[static_cast<size_t>(i)];
  const float* scale = nullptr;
  const float* shift = nullptr;
  for (auto [slot, ptr] : {std::pair<const char*, const float**>{"Scale", &scale}, {"Bias", &shift}}) {
    if (!ctx.HasInput(slot)) continue;
    const Value& v = ctx.In(slot);
    if (v.dtype != DType::kFloat32 || v.Numel() != inner) return Builtin("layer_norm")(ctx);
    *ptr = v.As<float>();
  }
  Shape key = {outer, inner, scale ? 1 : 0, shift ? 1 : 0};
  auto plan = st->Get(key, [&](Plan* p) {
    p->src_md = memory::desc({outer, inner}, Dt::f32, memory::format_tag::ab);
    auto flags = dnnl::normalization_flags::none;
    if (scale) flags = flags | dnnl::normalization_flags::use_scale;
    if (shift) flags = flags | dnnl::normalization_flags::use_shift;
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::layer_normalization_forward::primitive_desc pd(
        dnnl::layer_normalization_forward::desc(dnnl::prop_kind::forward_inference, p->src_md,
                                                static_cast<float>(ctx.Float("epsilon", 1e-5)), flags),
        attr, Eng());
    p->wei_md = memory::desc({inner}, Dt::f32, memory::format_tag::a);
    p->scratch_md = pd.scratchpad_desc();
    p->scratch_bytes = p->scratch_md.get_size();
    p->prim = dnnl::layer_normalization_forward(pd);
  });
  if (plan->builtin) return Builtin("layer_norm")(ctx);
  Value& o = ctx.Out("Y", DType::kFloat32, x.shape);
  float* scratch = ScratchFor(ctx, *plan);
  if (ctx.Dry()) return;
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(plan->src_md, Eng(), x.data)},
                                       {DNNL_ARG_DST, memory(plan->src_md, Eng(), o.data)}};
  if (scale) args.emplace(DNNL_ARG_SCALE, memory(plan->wei_md, Eng(), const_cast<float*>(scale)));
  if (shift) args.emplace(DNNL_ARG_SHIFT, memory(plan->wei_md, Eng(), const_cast<float*>(shift)));
  Execute(ctx, *plan, std::move(args), scratch);
}

bool IsNlpKernel(KernelFn fn) { return fn == DnnlBatchMatmulKernel || fn == DnnlSoftmaxKernel || fn == DnnlLayerNormKernel; }

// ---- the load-time pass -------------------------------------------------------------------------

// Runs after OptimizeGraph: softmax and layer_norm go to the kernels above, as does every
// matmul / matmul_v2 OptimizeGraph left (its Y is not a constant matrix), rewritten as the legacy
// `matmul` with transpose_X / transpose_Y / alpha; a `scale` (no bias, no ScaleTensor) whose only
// reader is such a product's X is folded into alpha and removed.
void Executor::UseNlpKernels() {
  const size_t nvars = var_names_.size();
  std::vector<int> readers(nvars, 0), writers(nvars, 0), writer_op(nvars, -1);
  for (size_t i = 0; i < ops_.size(); ++i) {
    for (const auto& slot : ops_[i].in)
      for (int v : slot.second) readers[static_cast<size_t>(v)]++;
    for (const auto& slot : ops_[i].out)
      for (int v : slot.second)
        if (v >= 0) { writers[static_cast<size_t>(v)]++; writer_op[static_cast<size_t>(v)] = static_cast<int>(i); }
  }
  for (int f : fetches_) readers[static_cast<size_t>(f)] += 2;
  auto slot_var = [](const std::vector<std::pair<std::string, std::vector<int>>>& slots, const char* name) {
    for (const auto& s : slots)
      if (s.first == name) return s.second.size() == 1 ? s.second[0] : -1;
    return -1;
  };
  auto attr_num = [](const OpDesc& op, const char* name, double def) {
    auto it = op.attrs.find(name);
    if (it == op.attrs.end()) return def;
    if (it->second.kind == Attr::Kind::kInt || it->second.kind == Attr::Kind::kBool) return static_cast<double>(it->second.i);
    if (it->second.kind == Attr::Kind::kFloat) return it->second.f;
    return def;
  };
  std::vector<bool> removed(ops_.size(), false);
  for (size_t i = 0; i < ops_.size(); ++i) {
    CompiledOp& c = ops_[i];
    const std::string& t = c.op->type;
    if (t == "softmax") {
      c.fn = DnnlSoftmaxKernel;
      c.state = MakeNlpState();
    } else if (t == "layer_norm") {
      c.fn = DnnlLayerNormKernel;
      c.state = MakeNlpState();
    } else if (t == "matmul_v2" || t == "matmul") {
      int x = slot_var(c.in, "X"), y = slot_var(c.in, "Y"), o = slot_var(c.out, "Out");
      if (x < 0 || y < 0 || o < 0 || c.in.size() != 2) continue;
      bool v2 = t == "matmul_v2";
      Attr tx, ty, alpha;
      tx.kind = ty.kind = Attr::Kind::kBool;
      tx.i = attr_num(*c.op, v2 ? "trans_x" : "transpose_X", 0) != 0;
      ty.i = attr_num(*c.op, v2 ? "trans_y" : "transpose_Y", 0) != 0;
      alpha.kind = Attr::Kind::kFloat;
      alpha.f = v2 ? 1.0 : attr_num(*c.op, "alpha", 1.0);
      // X = scale(s) of something: multiply by s in the product instead.
      int w = writer_op[static_cast<size_t>(x)];
      if (w >= 0 && static_cast<size_t>(w) < i && !removed[static_cast<size_t>(w)] && ops_[static_cast<size_t>(w)].op->type == "scale" &&
          readers[static_cast<size_t>(x)] == 1 && writers[static_cast<size_t>(x)] == 1) {
        const CompiledOp& s = ops_[static_cast<size_t>(w)];
        int sx = slot_var(s.in, "X");
        bool no_tensor = true;
        for (const auto& slot : s.in) no_tensor = no_tensor && (slot.first == "X" || slot.second.empty());
        bool plain = no_tensor && sx >= 0 && attr_num(*s.op, "bias", 0.0) == 0.0 &&
                     (writers[static_cast<size_t>(sx)] == 0 || (writers[static_cast<size_t>(sx)] == 1 && writer_op[static_cast<size_t>(sx)] < w));
        const VarDesc* d = program_.FindVar(var_names_[static_cast<size_t>(sx >= 0 ? sx : x)]);
        if (plain && d && d->is_tensor && d->dtype == DType::kFloat32) {
          alpha.f *= attr_num(*s.op, "scale", 1.0);
          removed[static_cast<size_t>(w)] = true;
          x = sx;
        }
      }
      OpDesc desc = *c.op;
      desc.type = "batch_matmul";
      desc.attrs.clear();
      desc.attrs["transpose_X"] = tx;
      desc.attrs["transpose_Y"] = ty;
      desc.attrs["alpha"] = alpha;
      synthetic_ops_.push_back(std::move(desc));
      c = CompiledOp{&synthetic_ops_.back(), DnnlBatchMatmulKernel, {{"X", {x}}, {"Y", {y}}}, {{"Out", {o}}}, MakeNlpState()};
    }
  }
  std::vector<CompiledOp> kept;
  for (size_t i = 0; i < ops_.size(); ++i)
    if (!removed[i]) kept.push_back(std::move(ops_[i]));
  ops_ = std::move(kept);
}

}  // namespace paddle_native
