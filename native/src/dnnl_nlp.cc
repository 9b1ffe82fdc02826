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

#include "dnnl_engine.h"
#include "errors.h"

namespace paddle_native {

namespace {

using dnnl::memory;
using Dt = memory::data_type;

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
  int threads = 1;  // key: DnnlThreads() when made
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
    int threads = DnnlThreads();
    std::lock_guard<std::mutex> lock(mu);
    for (auto& p : plans)
      if (p->key == key && p->threads == threads) return p;
    auto plan = std::make_shared<Plan>();
    plan->key = key;
    plan->threads = threads;
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

// Primitive attributes with the scratchpad from the run's workspace (ScratchFor).
dnnl::primitive_attr UserScratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// Keeps the primitive of `pd` and its scratchpad size in the plan.
template <typename Prim, typename Pd>
void Keep(Plan* p, const Pd& pd) {
  p->scratch_md = pd.scratchpad_desc();
  p->scratch_bytes = p->scratch_md.get_size();
  p->prim = Prim(pd);
}

float* ScratchFor(OpContext& ctx, const Plan& plan) {
  return plan.scratch_bytes ? ctx.Scratch((plan.scratch_bytes + 3) / 4) : nullptr;
}

// X [..., M, K] (stored [..., K, M] when transposed) as oneDNN sees it: the last two dims
// swapped through strides, the batch dims padded with leading 1s to `rank`.
memory::desc Operand(memory::dims d, memory::dims s, bool trans, size_t rank) {
  if (trans) {
    std::swap(d[d.size() - 1], d[d.size() - 2]);
    std::swap(s[s.size() - 1], s[s.size() - 2]);
  }
  int64_t total = 1;
  for (size_t i = 0; i < d.size(); ++i) total = std::max(total, s[i] * d[i]);
  while (d.size() < rank) {
    d.insert(d.begin(), 1);
    s.insert(s.begin(), total);
  }
  return memory::desc(d, Dt::f32, s);
}

// Paddle's reshape2 rule (0 copies the input dim, one -1 is inferred); false when it does not apply.
bool ApplyReshape(const Shape& in, const std::vector<int64_t>& target, Shape* out) {
  out->clear();
  int64_t known = 1, n = 1, infer = -1;
  for (int64_t d : in) n *= d;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t d = target[i];
    if (d == 0) {
      if (i >= in.size()) return false;
      d = in[i];
    } else if (d == -1) {
      if (infer >= 0) return false;
      infer = static_cast<int64_t>(i);
      d = 1;
    } else if (d < 0) {
      return false;
    }
    out->push_back(d);
    known *= d;
  }
  if (infer >= 0) {
    if (known == 0 || n % known != 0) return false;
    (*out)[static_cast<size_t>(infer)] = n / known;
  }
  return known * (infer >= 0 ? (*out)[static_cast<size_t>(infer)] : 1) == n;
}

// A value read (or written) through a folded reshape2 + transpose2: the dims and strides of
// transpose(reshape(stored)) over the stored, row-major memory. Empty `reshape` / `perm`: none.
bool View(const Shape& stored, const std::vector<int64_t>& reshape, const std::vector<int64_t>& perm, memory::dims* dims, memory::dims* strides) {
  Shape t = stored;
  if (!reshape.empty() && !ApplyReshape(stored, reshape, &t)) return false;
  memory::dims td(t.begin(), t.end()), ts = Contiguous(td);
  if (perm.empty()) {
    *dims = td;
    *strides = ts;
    return true;
  }
  if (perm.size() != td.size()) return false;
  dims->assign(td.size(), 0);
  strides->assign(td.size(), 0);
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] < 0 || perm[i] >= static_cast<int64_t>(td.size())) return false;
    (*dims)[i] = td[static_cast<size_t>(perm[i])];
    (*strides)[i] = ts[static_cast<size_t>(perm[i])];
  }
  return true;
}

}  // namespace

std::shared_ptr<void> MakeNlpState() { return std::make_shared<NlpState>(); }

// matmul / matmul_v2 of two activations as the legacy `matmul` (attrs transpose_X,
// transpose_Y, alpha): Out = alpha * op(X) x op(Y), batch dims broadcast. With the attrs
// x_reshape / x_perm (y_...), X is read as transpose2(reshape2(X)) through strides; with
// out_perm / out_reshape, the product is written as reshape2(transpose2(product)) would lie.
// Such a folded view has no builtin fallback: a shape it cannot take is a ShapeError.
void DnnlBatchMatmulKernel(OpContext& ctx) {
  auto* st = static_cast<NlpState*>(ctx.State());
  Value x = ctx.In("X"), y = ctx.In("Y");
  auto xr = ctx.Ints("x_reshape"), xp = ctx.Ints("x_perm"), yr = ctx.Ints("y_reshape"), yp = ctx.Ints("y_perm");
  auto op = ctx.Ints("out_perm"), orr = ctx.Ints("out_reshape");
  bool views = !xr.empty() || !xp.empty() || !yr.empty() || !yp.empty() || !op.empty() || !orr.empty();
  if (!Usable(x, 2) || !Usable(y, 2)) {
    if (views) ctx.Fail("folded reshape/transpose views need float32 operands with no empty dims, got X " + ShapeString(x.shape) + ", Y " + ShapeString(y.shape));
    return Builtin("matmul")(ctx);
  }
  bool tx = ctx.Bool("transpose_X", false), ty = ctx.Bool("transpose_Y", false);
  float alpha = static_cast<float>(ctx.Float("alpha", 1.0));
  Shape key = x.shape;
  key.push_back(-1);
  key.insert(key.end(), y.shape.begin(), y.shape.end());
  auto plan = st->Get(key, [&](Plan* p) {
    memory::dims xd, xs, yd, ys;
    if (!View(x.shape, xr, xp, &xd, &xs) || !View(y.shape, yr, yp, &yd, &ys) || xd.size() < 2 || yd.size() < 2) {
      p->builtin = true;
      return;
    }
    size_t rank = std::max(xd.size(), yd.size());
    memory::desc src = Operand(xd, xs, tx, rank), wei = Operand(yd, ys, ty, rank);
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
    memory::dims ostr = Contiguous(od);
    p->out.assign(od.begin(), od.end());
    if (!op.empty() || !orr.empty()) {
      // The product O lies in memory as Z = transpose(O, out_perm), row-major; the value is Z reshaped.
      memory::dims zd = od, zs;
      if (!op.empty()) {
        if (op.size() != rank) {
          p->builtin = true;
          return;
        }
        for (size_t i = 0; i < rank; ++i) {
          if (op[i] < 0 || op[i] >= static_cast<int64_t>(rank)) {
            p->builtin = true;
            return;
          }
          zd[i] = od[static_cast<size_t>(op[i])];
        }
        zs = Contiguous(zd);
        for (size_t i = 0; i < rank; ++i) ostr[static_cast<size_t>(op[i])] = zs[i];
      }
      Shape z(zd.begin(), zd.end());
      if (orr.empty()) p->out = z;
      else if (!ApplyReshape(z, orr, &p->out)) {
        p->builtin = true;
        return;
      }
    }
    p->src_md = src;
    p->wei_md = wei;
    p->dst_md = memory::desc(od, Dt::f32, ostr);
    dnnl::primitive_attr attr = UserScratchpad();
    if (alpha != 1.f) attr.set_output_scales(0, {alpha});
    Keep<dnnl::matmul>(p, dnnl::matmul::primitive_desc(dnnl::matmul::desc(p->src_md, p->wei_md, p->dst_md), attr, Eng()));
  });
  if (plan->builtin) {
    if (views) ctx.Fail("X " + ShapeString(x.shape) + " and Y " + ShapeString(y.shape) + " do not fit the folded reshape/transpose views");
    return Builtin("matmul")(ctx);
  }
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
    Keep<dnnl::softmax_forward>(p, dnnl::softmax_forward::primitive_desc(
        dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, p->src_md, static_cast<int>(axis)), UserScratchpad(), Eng()));
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
    p->wei_md = memory::desc({inner}, Dt::f32, memory::format_tag::a);
    Keep<dnnl::layer_normalization_forward>(
        p, dnnl::layer_normalization_forward::primitive_desc(
               dnnl::layer_normalization_forward::desc(dnnl::prop_kind::forward_inference, p->src_md,
                                                       static_cast<float>(ctx.Float("epsilon", 1e-5)), flags),
               UserScratchpad(), Eng()));
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
// `matmul` with transpose_X / transpose_Y / alpha. Folded into such a product (and removed):
//  - a `scale` (no bias, no ScaleTensor) whose only reader is its X: into alpha;
//  - a transpose2, and the reshape2 before it, whose only reader is an operand: read through
//    strides (attention's [B, S, H*D] -> [B, H, S, D] for Q, K and V);
//  - a transpose2, and a reshape2 after it, that only read the product: written through strides
//    (attention's [B, H, S, D] -> [B, S, H*D] before the output projection).
// A folded var has one writer and one reader and is not fetched; reshape2's shape and scale's
// ScaleTensor must be constants (attributes, or parameters such as FoldConstants makes of PIR's
// full_int_array / full) and nobody reads an XShape output.
void Executor::UseNlpKernels() {
  const size_t nvars = var_names_.size();
  VarUse use = VarUses();
  std::vector<int>& readers = use.readers;
  std::vector<int>& writers = use.writers;
  std::vector<int>& writer_op = use.writer_op;
  std::vector<int>& reader_op = use.reader_op;
  std::vector<bool> removed(ops_.size(), false);
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
  auto attr_ints = [](const OpDesc& op, const char* name) {
    auto it = op.attrs.find(name);
    return it == op.attrs.end() || it->second.kind != Attr::Kind::kInts ? std::vector<int64_t>{} : it->second.ints;
  };
  auto ints_attr = [](const std::vector<int64_t>& v) {
    Attr a;
    a.kind = Attr::Kind::kInts;
    a.ints = v;
    return a;
  };
  std::vector<int> param_of(nvars, -1);
  for (size_t k = 0; k < param_var_.size(); ++k) param_of[static_cast<size_t>(param_var_[k])] = static_cast<int>(k);
  // The values of a constant (parameter, e.g. folded by FoldConstants) slot; false if not one.
  auto const_values = [&](const CompiledOp& c, const char* slot, std::vector<double>* out) {
    out->clear();
    for (const auto& sl : c.in) {
      if (sl.first != slot) continue;
      for (int v : sl.second) {
        int k = param_of[static_cast<size_t>(v)];
        if (k < 0) return false;
        const HostTensor& t = params_[static_cast<size_t>(k)];
        size_t n = t.bytes.size() / std::max<size_t>(DTypeSize(t.dtype), 1);
        for (size_t e = 0; e < n; ++e) {
          const uint8_t* p = t.bytes.data() + e * DTypeSize(t.dtype);
          if (t.dtype == DType::kInt64) out->push_back(static_cast<double>(*reinterpret_cast<const int64_t*>(p)));
          else if (t.dtype == DType::kInt32) out->push_back(*reinterpret_cast<const int32_t*>(p));
          else if (t.dtype == DType::kFloat32) out->push_back(*reinterpret_cast<const float*>(p));
          else return false;
        }
      }
    }
    return true;
  };
  // reshape2's target: the attribute, or its Shape / ShapeTensor operands when those are constants.
  auto reshape_target = [&](const CompiledOp& c) {
    std::vector<double> a, b;
    if (!const_values(c, "Shape", &a) || !const_values(c, "ShapeTensor", &b)) return std::vector<int64_t>{};
    bool has_shape = slot_var(c.in, "Shape") >= 0, has_list = false;
    for (const auto& sl : c.in) has_list = has_list || (sl.first == "ShapeTensor" && !sl.second.empty());
    if (has_shape) return std::vector<int64_t>(a.begin(), a.end());  // empty (not foldable) when it holds nothing
    if (has_list) return std::vector<int64_t>(b.begin(), b.end());
    return attr_ints(*c.op, "shape");
  };
  auto single = [&](int v) { return use.SingleUse(v); };
  auto is_float = [&](int v) {
    const VarDesc* d = program_.FindVar(var_names_[static_cast<size_t>(v)]);
    return d && d->is_tensor && d->dtype == DType::kFloat32;
  };
  // X (and constant operands) in, one output (and an unread XShape) out.
  auto plain_op = [&](const CompiledOp& c) {
    for (const auto& slot : c.in)
      for (int v : slot.second)
        if (slot.first != "X" && param_of[static_cast<size_t>(v)] < 0) return false;
    for (const auto& slot : c.out)
      if (slot.first != "Out")
        for (int v : slot.second)
          if (v >= 0 && readers[static_cast<size_t>(v)] > 0) return false;
    return slot_var(c.in, "X") >= 0 && slot_var(c.out, "Out") >= 0;
  };
  // The op writing `v` (before op `before`), if it is live and of type `type`.
  auto producer = [&](int v, size_t before, const char* type) -> int {
    int w = writer_op[static_cast<size_t>(v)];
    if (w < 0 || static_cast<size_t>(w) >= before || removed[static_cast<size_t>(w)] || ops_[static_cast<size_t>(w)].op->type != type) return -1;
    return w;
  };
  // `v`'s value is still there at op `at`: written once (or a feed / parameter) before op `since`.
  auto stable = [&](int v, int since) {
    return v >= 0 && (writers[static_cast<size_t>(v)] == 0 || (writers[static_cast<size_t>(v)] == 1 && writer_op[static_cast<size_t>(v)] < since));
  };
  for (size_t i = 0; i < ops_.size(); ++i) {
    CompiledOp& c = ops_[i];
    const std::string& t = c.op->type;
    if (t == "softmax") {
      c.fn = DnnlSoftmaxKernel;
      c.state = MakeNlpState();
      continue;
    }
    if (t == "layer_norm") {
      c.fn = DnnlLayerNormKernel;
      c.state = MakeNlpState();
      continue;
    }
    if (t != "matmul_v2" && t != "matmul") continue;
    int x = slot_var(c.in, "X"), y = slot_var(c.in, "Y"), o = slot_var(c.out, "Out");
    if (x < 0 || y < 0 || o < 0 || c.in.size() != 2) continue;
    bool v2 = t == "matmul_v2";
    OpDesc desc = *c.op;
    desc.type = "batch_matmul";
    desc.attrs.clear();
    Attr tx, ty, alpha;
    tx.kind = ty.kind = Attr::Kind::kBool;
    tx.i = attr_num(*c.op, v2 ? "trans_x" : "transpose_X", 0) != 0;
    ty.i = attr_num(*c.op, v2 ? "trans_y" : "transpose_Y", 0) != 0;
    alpha.kind = Attr::Kind::kFloat;
    alpha.f = v2 ? 1.0 : attr_num(*c.op, "alpha", 1.0);
    // X = scale(s) of something: multiply by s in the product instead.
    int w = producer(x, i, "scale");
    if (w >= 0 && single(x)) {
      const CompiledOp& s = ops_[static_cast<size_t>(w)];
      int sx = slot_var(s.in, "X");
      std::vector<double> st;
      bool scale_ok = const_values(s, "ScaleTensor", &st) && st.size() <= 1;
      if (scale_ok && plain_op(s) && attr_num(*s.op, "bias", 0.0) == 0.0 && stable(sx, w) && is_float(sx)) {
        alpha.f *= st.empty() ? attr_num(*s.op, "scale", 1.0) : st[0];
        removed[static_cast<size_t>(w)] = true;
        x = sx;
      }
    }
    // Operands read through transpose2(reshape2(v)).
    for (auto [var, prefix] : {std::pair<int*, const char*>{&x, "x_"}, {&y, "y_"}}) {
      int tr = producer(*var, i, "transpose2");
      if (tr < 0 || !single(*var) || !plain_op(ops_[static_cast<size_t>(tr)])) continue;
      int tin = slot_var(ops_[static_cast<size_t>(tr)].in, "X");
      if (!stable(tin, tr) || !is_float(tin)) continue;
      desc.attrs[std::string(prefix) + "perm"] = ints_attr(attr_ints(*ops_[static_cast<size_t>(tr)].op, "axis"));
      removed[static_cast<size_t>(tr)] = true;
      *var = tin;
      int rs = producer(tin, static_cast<size_t>(tr), "reshape2");
      if (rs < 0 || !single(tin) || !plain_op(ops_[static_cast<size_t>(rs)])) continue;
      int rin = slot_var(ops_[static_cast<size_t>(rs)].in, "X");
      auto shape = reshape_target(ops_[static_cast<size_t>(rs)]);
      if (!stable(rin, rs) || shape.empty() || !is_float(rin)) continue;
      desc.attrs[std::string(prefix) + "reshape"] = ints_attr(shape);
      removed[static_cast<size_t>(rs)] = true;
      *var = rin;
    }
    // The product written as reshape2(transpose2(product)) lies.
    int tr = reader_op[static_cast<size_t>(o)];
    if (single(o) && tr > static_cast<int>(i) && !removed[static_cast<size_t>(tr)] && ops_[static_cast<size_t>(tr)].op->type == "transpose2" &&
        plain_op(ops_[static_cast<size_t>(tr)]) && slot_var(ops_[static_cast<size_t>(tr)].in, "X") == o &&
        writers[static_cast<size_t>(slot_var(ops_[static_cast<size_t>(tr)].out, "Out"))] == 1) {
      desc.attrs["out_perm"] = ints_attr(attr_ints(*ops_[static_cast<size_t>(tr)].op, "axis"));
      removed[static_cast<size_t>(tr)] = true;
      o = slot_var(ops_[static_cast<size_t>(tr)].out, "Out");
      writer_op[static_cast<size_t>(o)] = static_cast<int>(i);
      int rs = reader_op[static_cast<size_t>(o)];
      auto shape = rs >= 0 ? reshape_target(ops_[static_cast<size_t>(rs)]) : std::vector<int64_t>{};
      if (single(o) && rs > tr && !removed[static_cast<size_t>(rs)] && ops_[static_cast<size_t>(rs)].op->type == "reshape2" &&
          plain_op(ops_[static_cast<size_t>(rs)]) && slot_var(ops_[static_cast<size_t>(rs)].in, "X") == o && !shape.empty() &&
          writers[static_cast<size_t>(slot_var(ops_[static_cast<size_t>(rs)].out, "Out"))] == 1) {
        desc.attrs["out_reshape"] = ints_attr(shape);
        removed[static_cast<size_t>(rs)] = true;
        o = slot_var(ops_[static_cast<size_t>(rs)].out, "Out");
        writer_op[static_cast<size_t>(o)] = static_cast<int>(i);
      }
    }
    desc.attrs["transpose_X"] = tx;
    desc.attrs["transpose_Y"] = ty;
    desc.attrs["alpha"] = alpha;
    synthetic_ops_.push_back(std::move(desc));
    c = CompiledOp{&synthetic_ops_.back(), DnnlBatchMatmulKernel, {{"X", {x}}, {"Y", {y}}}, {{"Out", {o}}}, MakeNlpState()};
  }
  std::vector<CompiledOp> kept;
  for (size_t i = 0; i < ops_.size(); ++i)
    if (!removed[i]) kept.push_back(std::move(ops_[i]));
  ops_ = std::move(kept);
}

}  // namespace paddle_native
