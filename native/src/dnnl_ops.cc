// oneDNN-backed kernels (see dnnl_ops.h). Primitives are made once per input shape and layout
// and kept in the op's state (a plan cache keyed by shape); weights are reordered once per
// layout oneDNN asks for. Scratchpads are user-provided from the run's workspace, so the
// memory estimate and the arena account for them.
#include "dnnl_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>

#include "dnnl_engine.h"
#include "errors.h"
#include "window.h"

namespace paddle_native {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Dt = memory::data_type;

size_t Round64(size_t n) { return (n + 63) & ~size_t{63}; }

// Descs that values point at live here for the life of the process, one copy per distinct desc.
const memory::desc* Intern(const memory::desc& md) {
  static std::mutex mu;
  static std::vector<std::unique_ptr<memory::desc>> all;
  std::lock_guard<std::mutex> lock(mu);
  for (auto& p : all)
    if (*p == md) return p.get();
  all.push_back(std::make_unique<memory::desc>(md));
  return all.back().get();
}

memory::dims Dims(const Shape& s) { return memory::dims(s.begin(), s.end()); }

Tag PlainTag(size_t rank) {
  switch (rank) {
    case 1: return Tag::a;
    case 2: return Tag::ab;
    case 3: return Tag::abc;
    case 4: return Tag::abcd;
    case 5: return Tag::abcde;
    default: return Tag::abcdef;
  }
}

const memory::desc* PlainDesc(const Shape& s) { return Intern(memory::desc(Dims(s), Dt::f32, PlainTag(s.size()))); }

// The desc of a 4-D float32 value as it lies in memory.
const memory::desc* DescOf(const Value& v) {
  return v.layout ? static_cast<const memory::desc*>(v.layout) : PlainDesc(v.shape);
}

std::shared_ptr<uint8_t> AlignedBytes(size_t bytes) {
  void* p = std::aligned_alloc(64, Round64(std::max<size_t>(bytes, 64)));
  if (!p) throw PaddleError(ErrorCode::kMemoryLimit, "out of host memory for " + std::to_string(bytes) + " bytes of weights");
  return std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), std::free);
}

void DoReorder(const memory::desc* from, const void* src, const memory::desc* to, void* dst) {
  static std::mutex mu;
  static std::map<std::pair<const memory::desc*, const memory::desc*>, dnnl::reorder> cache;
  dnnl::reorder r;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find({from, to});
    if (it == cache.end()) it = cache.emplace(std::make_pair(from, to), dnnl::reorder(dnnl::reorder::primitive_desc(Eng(), *from, Eng(), *to))).first;
    r = it->second;
  }
  memory a(*from, Eng(), const_cast<void*>(src)), b(*to, Eng(), dst);
  r.execute(Strm(), a, b);
}

// Constant weights in the layout `want` a primitive asked for, shared between plans by layout.
// The first layout is made from the plain (folded) copy `plain` in layout `user`, which is then
// freed; later layouts come from the first, so only oneDNN's copies stay in memory.
using WeightCopies = std::vector<std::pair<memory::desc, std::shared_ptr<uint8_t>>>;
std::shared_ptr<uint8_t> WeightsIn(const memory::desc& want, const memory::desc& user, std::vector<float>* plain, WeightCopies* copies) {
  for (auto& w : *copies)
    if (w.first == want) return w.second;
  auto bytes = AlignedBytes(want.get_size());
  if (copies->empty()) DoReorder(Intern(user), plain->data(), Intern(want), bytes.get());
  else DoReorder(Intern((*copies)[0].first), (*copies)[0].second.get(), Intern(want), bytes.get());
  copies->emplace_back(want, bytes);
  std::vector<float>().swap(*plain);
  return bytes;
}

[[noreturn]] void DnnlFail(OpContext& ctx, const dnnl::error& e) { ctx.Fail(std::string("oneDNN: ") + e.what()); }

// Paddle's padding rules (window.h), with the window sizes checked first as kernels.cc does
// (SAME padding divides by the stride: a stride of 0 must fail before, not divide by zero).
void Resolve(OpContext& ctx, const std::string& algo, const std::vector<int64_t>& pads, int64_t in_h, int64_t in_w, Window* h, Window* w) {
  for (Window* win : {h, w}) CheckWindowParams(ctx, {win->k, win->stride, win->dilation});
  ResolvePadding(ctx, algo, pads, in_h, in_w, h, w);
}

void AppendActivation(dnnl::post_ops* po, const PostActivation& act) {
  using A = dnnl::algorithm;
  if (act.kind.empty()) return;
  if (act.kind == "relu") po->append_eltwise(1.f, A::eltwise_relu, 0.f, 0.f);
  else if (act.kind == "leaky_relu") po->append_eltwise(1.f, A::eltwise_relu, act.alpha, 0.f);
  else if (act.kind == "relu6") po->append_eltwise(1.f, A::eltwise_clip, 0.f, act.alpha);
  else if (act.kind == "hard_swish") po->append_eltwise(1.f, A::eltwise_hardswish, 0.f, 0.f);
  else if (act.kind == "sigmoid") po->append_eltwise(1.f, A::eltwise_logistic, 0.f, 0.f);
  else if (act.kind == "swish") po->append_eltwise(1.f, A::eltwise_swish, act.alpha, 0.f);
  else if (act.kind == "tanh") po->append_eltwise(1.f, A::eltwise_tanh, 0.f, 0.f);
  else if (act.kind == "gelu") po->append_eltwise(1.f, A::eltwise_gelu_erf, 0.f, 0.f);
  else if (act.kind == "gelu_tanh") po->append_eltwise(1.f, A::eltwise_gelu_tanh, 0.f, 0.f);
}

// ---- convolution ------------------------------------------------------------------------------

// The layout convolutions read and write: channel-blocked (nChw16c where oneDNN runs AVX-512,
// nChw8c on AVX2; chosen at run time, so the build stays baseline x86-64). oneDNN's own choice
// ("any") is NHWC for its brgconv kernels, which on this AVX-512 machine ran slower at batch 4
// (process CPU time per run, same process, interleaved: mobilenet_v2 b4 36.0 -> 29.8 ms,
// resnet50 b4 333 -> 310 ms, densenet121 b4 255 -> 232 ms; batch 1 equal or better), mostly in
// 1x1 and depthwise convolutions. PADDLE_NATIVE_DNNL_LAYOUT=any restores oneDNN's choice.
// Tensors with fewer than 8 channels (the image) stay as they are.
Tag ConvTag(int64_t channels) {
  static const Tag blocked = [] {
    const char* e = std::getenv("PADDLE_NATIVE_DNNL_LAYOUT");
    if (e && std::string(e) == "any") return Tag::any;
    auto isa = dnnl::get_effective_cpu_isa();
    if (isa >= dnnl::cpu_isa::avx512_core) return Tag::nChw16c;
    if (isa >= dnnl::cpu_isa::avx2) return Tag::nChw8c;
    return Tag::any;
  }();
  return channels < 8 ? Tag::any : blocked;
}

struct ConvPlan {
  int64_t n, c, h, w;
  int threads;  // DnnlThreads() when made
  const memory::desc* in_md;  // the layout the input came in
  const memory::desc* src_md;  // the layout the primitive reads
  const memory::desc* dst_md;
  memory::desc wei_md, bias_md, scratch_md;
  std::shared_ptr<uint8_t> weights;
  dnnl::convolution_forward prim;
  size_t src_bytes = 0;  // > 0: the input is reordered into scratch first
  size_t scratch_bytes = 0;
  Shape out;
};

struct FusedConvState {
  FusedConvSpec spec;
  std::mutex mu;
  std::vector<std::shared_ptr<ConvPlan>> plans;
  WeightCopies weights;  // by layout

  std::shared_ptr<ConvPlan> PlanFor(OpContext& ctx, const Value& x) {
    const memory::desc* in_md = DescOf(x);
    int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
    int threads = DnnlThreads();
    std::lock_guard<std::mutex> lock(mu);
    for (auto& p : plans)
      if (p->n == N && p->c == C && p->h == H && p->w == W && p->in_md == in_md && p->threads == threads) return p;
    const FusedConvSpec& s = spec;
    if (C != s.icg * s.groups) {
      ctx.Fail("Filter [" + std::to_string(s.oc) + ", " + std::to_string(s.icg) + ", " + std::to_string(s.kh) + ", " + std::to_string(s.kw) +
               "] with groups " + std::to_string(s.groups) + " does not match Input " + ShapeString(x.shape));
    }
    Window wh{s.kh, s.strides.size() > 0 ? s.strides[0] : 1, s.dilations.size() > 0 ? s.dilations[0] : 1, 0, 0, 0};
    Window ww{s.kw, s.strides.size() > 1 ? s.strides[1] : wh.stride, s.dilations.size() > 1 ? s.dilations[1] : wh.dilation, 0, 0, 0};
    Resolve(ctx, s.padding_algorithm, s.paddings, H, W, &wh, &ww);
    for (auto [win, in] : {std::pair<Window*, int64_t>{&wh, H}, {&ww, W}}) {
      int64_t span = win->dilation * (win->k - 1) + 1;
      if (in + win->pad0 + win->pad1 < span) ctx.Fail("kernel larger than the padded input " + ShapeString(x.shape));
      win->out = (in + win->pad0 + win->pad1 - span) / win->stride + 1;
    }
    auto plan = std::make_shared<ConvPlan>();
    plan->n = N; plan->c = C; plan->h = H; plan->w = W;
    plan->threads = threads;
    plan->in_md = in_md;
    plan->out = {N, s.oc, wh.out, ww.out};
    try {
      memory::dims wdims = s.groups > 1 ? memory::dims{s.groups, s.oc / s.groups, s.icg, s.kh, s.kw} : memory::dims{s.oc, s.icg, s.kh, s.kw};
      memory::desc wei_any(wdims, Dt::f32, Tag::any);
      plan->bias_md = memory::desc({s.oc}, Dt::f32, Tag::a);
      dnnl::post_ops po;
      if (s.residual) po.append_sum(1.f);
      AppendActivation(&po, s.act);
      dnnl::primitive_attr attr;
      attr.set_post_ops(po);
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      auto make_pd = [&](Tag src_tag, Tag dst_tag) {
        dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                           memory::desc({N, C, H, W}, Dt::f32, src_tag), wei_any, plan->bias_md,
                                           memory::desc(Dims(plan->out), Dt::f32, dst_tag), {wh.stride, ww.stride},
                                           {wh.dilation - 1, ww.dilation - 1}, {wh.pad0, ww.pad0}, {wh.pad1, ww.pad1});
        return dnnl::convolution_forward::primitive_desc(d, attr, Eng());
      };
      // Blocked layouts, unless only oneDNN's reference loop takes them for this shape (grouped
      // convolutions with few channels per group): then oneDNN's own choice.
      dnnl::convolution_forward::primitive_desc pd;
      try {
        pd = make_pd(ConvTag(C), ConvTag(s.oc));
      } catch (const dnnl::error&) {
      }
      if (!pd || std::string(pd.impl_info_str()).rfind("ref", 0) == 0) pd = make_pd(Tag::any, Tag::any);
      plan->src_md = Intern(pd.src_desc());
      plan->dst_md = Intern(pd.dst_desc());
      plan->wei_md = pd.weights_desc();
      plan->scratch_md = pd.scratchpad_desc();
      plan->scratch_bytes = plan->scratch_md.get_size();
      plan->src_bytes = plan->src_md == in_md ? 0 : plan->src_md->get_size();
      plan->prim = dnnl::convolution_forward(pd);
      plan->weights = WeightsIn(plan->wei_md, memory::desc(wdims, Dt::f32, s.groups > 1 ? Tag::goihw : Tag::oihw), &spec.weights, &weights);
    } catch (const dnnl::error& e) {
      DnnlFail(ctx, e);
    }
    plans.push_back(plan);
    return plan;
  }
};

// ---- matrix product with a constant right-hand side ------------------------------------------

struct MatmulPlan {
  int64_t m;
  int threads;  // DnnlThreads() when made
  dnnl::matmul prim;
  memory::desc src_md, wei_md, bias_md, dst_md, scratch_md;
  std::shared_ptr<uint8_t> weights;
  size_t scratch_bytes = 0;
};

struct FusedMatmulState {
  FusedMatmulSpec spec;
  std::mutex mu;
  std::vector<std::shared_ptr<MatmulPlan>> plans;
  WeightCopies weights;

  std::shared_ptr<MatmulPlan> PlanFor(OpContext& ctx, int64_t M) {
    int threads = DnnlThreads();
    std::lock_guard<std::mutex> lock(mu);
    for (auto& p : plans)
      if (p->m == M && p->threads == threads) return p;
    auto plan = std::make_shared<MatmulPlan>();
    plan->m = M;
    plan->threads = threads;
    try {
      plan->src_md = memory::desc({M, spec.k}, Dt::f32, Tag::ab);
      plan->dst_md = memory::desc({M, spec.n}, Dt::f32, Tag::ab);
      plan->bias_md = memory::desc({1, spec.n}, Dt::f32, Tag::ab);
      memory::desc wei_any({spec.k, spec.n}, Dt::f32, Tag::any);
      dnnl::matmul::desc d = spec.bias.empty() ? dnnl::matmul::desc(plan->src_md, wei_any, plan->dst_md)
                                               : dnnl::matmul::desc(plan->src_md, wei_any, plan->bias_md, plan->dst_md);
      dnnl::post_ops po;
      AppendActivation(&po, spec.act);
      dnnl::primitive_attr attr;
      attr.set_post_ops(po);
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      dnnl::matmul::primitive_desc pd(d, attr, Eng());
      plan->wei_md = pd.weights_desc();
      plan->scratch_md = pd.scratchpad_desc();
      plan->scratch_bytes = plan->scratch_md.get_size();
      plan->prim = dnnl::matmul(pd);
      plan->weights = WeightsIn(plan->wei_md, memory::desc({spec.k, spec.n}, Dt::f32, Tag::ab), &spec.weights, &weights);
    } catch (const dnnl::error& e) {
      DnnlFail(ctx, e);
    }
    plans.push_back(plan);
    return plan;
  }
};

// ---- pooling, batch_norm, concat ------------------------------------------------------------

struct Plan {
  std::vector<const memory::desc*> in;  // key: input layouts
  Shape key;                             // key: input dims (all inputs, concatenated)
  int threads = 1;                       // key: DnnlThreads() when made
  dnnl::primitive prim;
  const memory::desc* dst_md = nullptr;
  memory::desc scratch_md;
  size_t scratch_bytes = 0;
  Shape out;
  bool copies = false;  // concat as one memcpy per input and sample (channel-major layouts)
};

struct DnnlOpState {
  std::mutex mu;
  std::vector<std::shared_ptr<Plan>> plans;
  template <typename Make>
  std::shared_ptr<Plan> Get(OpContext& ctx, const std::vector<const memory::desc*>& in, const Shape& key, Make make) {
    int threads = DnnlThreads();
    std::lock_guard<std::mutex> lock(mu);
    for (auto& p : plans)
      if (p->in == in && p->key == key && p->threads == threads) return p;
    auto plan = std::make_shared<Plan>();
    plan->in = in;
    plan->key = key;
    plan->threads = threads;
    try {
      make(plan.get());
    } catch (const dnnl::error& e) {
      DnnlFail(ctx, e);
    }
    plans.push_back(plan);
    return plan;
  }
};

struct PoolParams {
  bool is_max, exclusive;
  Window h, w;
};

PoolParams PoolWindows(OpContext& ctx, const Value& x) {
  int64_t H = x.shape[2], W = x.shape[3];
  PoolParams p;
  std::string type = ctx.Str("pooling_type", "max");
  p.is_max = type == "max";
  p.exclusive = ctx.Bool("exclusive", true);
  auto ks = ctx.Ints("ksize");
  if (ks.size() == 1) ks.push_back(ks[0]);
  auto strides = ctx.Ints("strides");
  bool global = ctx.Bool("global_pooling", false);
  bool adaptive = ctx.Bool("adaptive", false);
  bool ceil_mode = ctx.Bool("ceil_mode", false);
  if (ks.size() != 2) ctx.Fail("ksize must have 2 values");
  if (global || (adaptive && ks[0] == 1 && ks[1] == 1)) {
    p.h = {H, 1, 1, 0, 0, 1};
    p.w = {W, 1, 1, 0, 0, 1};
    return p;
  }
  if (adaptive) {
    if (ks[0] < 1 || ks[1] < 1 || H % ks[0] != 0 || W % ks[1] != 0) ctx.Fail("adaptive pooling to a size that does not divide the input");
    p.h = {H / ks[0], H / ks[0], 1, 0, 0, ks[0]};
    p.w = {W / ks[1], W / ks[1], 1, 0, 0, ks[1]};
    p.exclusive = true;
    return p;
  }
  p.h = {ks[0], strides.size() > 0 ? strides[0] : 1, 1, 0, 0, 0};
  p.w = {ks[1], strides.size() > 1 ? strides[1] : p.h.stride, 1, 0, 0, 0};
  Resolve(ctx, ctx.Str("padding_algorithm", "EXPLICIT"), ctx.Ints("paddings"), H, W, &p.h, &p.w);
  for (auto [win, in] : {std::pair<Window*, int64_t>{&p.h, H}, {&p.w, W}}) {
    int64_t span = in + win->pad0 + win->pad1 - win->k;
    if (span < 0) ctx.Fail("pooling window larger than the padded input " + ShapeString(x.shape));
    win->out = (ceil_mode ? (span + win->stride - 1) : span) / win->stride + 1;
    // oneDNN derives the output size from the padding: pad the right side to what ceil mode reads.
    win->pad1 = std::max<int64_t>(win->pad1, (win->out - 1) * win->stride + win->k - in - win->pad0);
  }
  return p;
}

const Value& Float4D(OpContext& ctx, const char* slot) {
  const Value& v = ctx.In(slot);
  if (v.dtype != DType::kFloat32 || v.shape.size() != 4) ctx.Fail(std::string(slot) + " must be a 4-D float32 tensor, got " + ShapeString(v.shape));
  return v;
}

void ExecuteWithScratch(OpContext& ctx, const Plan& plan, std::unordered_map<int, memory> args, float* scratch) {
  if (plan.scratch_bytes) args.emplace(DNNL_ARG_SCRATCHPAD, memory(plan.scratch_md, Eng(), scratch));
  (void)ctx;
  plan.prim.execute(Strm(), args);
}

}  // namespace

// ---- public -------------------------------------------------------------------------------------

bool ActivationPostOp(const OpDesc& op, PostActivation* out) {
  auto num = [&](const char* name, double def) {
    auto it = op.attrs.find(name);
    if (it == op.attrs.end()) return def;
    if (it->second.kind == Attr::Kind::kInt || it->second.kind == Attr::Kind::kBool) return static_cast<double>(it->second.i);
    return it->second.f;
  };
  PostActivation a;
  const std::string& t = op.type;
  if (t == "relu") a.kind = "relu";
  else if (t == "relu6") { a.kind = "relu6"; a.alpha = static_cast<float>(num("threshold", 6.0)); }
  else if (t == "leaky_relu") { a.kind = "leaky_relu"; a.alpha = static_cast<float>(num("alpha", 0.02)); }
  else if (t == "hard_swish") {
    if (num("threshold", 6.0) != 6.0 || num("scale", 6.0) != 6.0 || num("offset", 3.0) != 3.0) return false;
    a.kind = "hard_swish";
  } else if (t == "sigmoid") a.kind = "sigmoid";
  else if (t == "swish" || t == "silu") {
    if (num("beta", 1.0) != 1.0) return false;
    a.kind = "swish";
    a.alpha = 1.f;
  } else if (t == "tanh") a.kind = "tanh";
  else if (t == "gelu") a.kind = num("approximate", 0) != 0 ? "gelu_tanh" : "gelu";
  else return false;
  *out = a;
  return true;
}

std::shared_ptr<void> MakeFusedConvState(FusedConvSpec spec) {
  auto st = std::make_shared<FusedConvState>();
  st->spec = std::move(spec);
  return st;
}

std::shared_ptr<void> MakeFusedMatmulState(FusedMatmulSpec spec) {
  auto st = std::make_shared<FusedMatmulState>();
  st->spec = std::move(spec);
  return st;
}

void FusedMatmulKernel(OpContext& ctx) {
  auto* st = static_cast<FusedMatmulState*>(ctx.State());
  Value x = ctx.In("X");
  if (x.dtype != DType::kFloat32 || x.shape.empty()) ctx.Fail("X must be a float32 tensor of rank >= 1, got " + ShapeString(x.shape));
  int64_t ncol = st->spec.x_num_col_dims < 0 ? static_cast<int64_t>(x.shape.size()) - 1 : st->spec.x_num_col_dims;
  if (ncol < 0 || ncol > static_cast<int64_t>(x.shape.size())) ctx.Fail("bad x_num_col_dims for X " + ShapeString(x.shape));
  int64_t M = 1, K = 1;
  for (int64_t i = 0; i < static_cast<int64_t>(x.shape.size()); ++i) (i < ncol ? M : K) *= x.shape[static_cast<size_t>(i)];
  if (K != st->spec.k) ctx.Fail("X " + ShapeString(x.shape) + " does not multiply a [" + std::to_string(st->spec.k) + ", " + std::to_string(st->spec.n) + "] matrix");
  Shape os(x.shape.begin(), x.shape.begin() + ncol);
  os.push_back(st->spec.n);
  if (M == 0) {
    ctx.Out("Out", DType::kFloat32, os);
    return;
  }
  auto plan = st->PlanFor(ctx, M);
  Value& o = ctx.Out("Out", DType::kFloat32, os);
  float* scratch = plan->scratch_bytes ? ctx.Scratch((plan->scratch_bytes + 3) / 4) : nullptr;
  if (ctx.Dry()) return;
  try {
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(plan->src_md, Eng(), x.data)},
                                         {DNNL_ARG_WEIGHTS, memory(plan->wei_md, Eng(), plan->weights.get())},
                                         {DNNL_ARG_DST, memory(plan->dst_md, Eng(), o.data)}};
    if (!st->spec.bias.empty()) args.emplace(DNNL_ARG_BIAS, memory(plan->bias_md, Eng(), st->spec.bias.data()));
    if (plan->scratch_bytes) args.emplace(DNNL_ARG_SCRATCHPAD, memory(plan->scratch_md, Eng(), scratch));
    plan->prim.execute(Strm(), args);
  } catch (const dnnl::error& e) {
    DnnlFail(ctx, e);
  }
}

std::shared_ptr<void> MakeDnnlOpState() { return std::make_shared<DnnlOpState>(); }

void FusedConvKernel(OpContext& ctx) {
  auto* st = static_cast<FusedConvState*>(ctx.State());
  Value x = Float4D(ctx, "Input");
  auto plan = st->PlanFor(ctx, x);
  Value residual;
  if (st->spec.residual) {
    residual = Float4D(ctx, "Residual");
    if (residual.shape != plan->out) ctx.Fail("residual " + ShapeString(residual.shape) + " does not match the output " + ShapeString(plan->out));
  }
  size_t scratch_total = Round64(plan->src_bytes) + plan->scratch_bytes;
  // The residual sum accumulates into the output: when the residual is in the output's layout and
  // this is its last reader, the output takes over its memory (no copy); else it is copied first.
  Value* over = nullptr;
  if (st->spec.residual && DescOf(residual) == plan->dst_md) {
    over = ctx.OutOver("Output", "Residual", DType::kFloat32, plan->out, plan->dst_md, plan->dst_md->get_size());
  }
  Value& o = over ? *over : ctx.OutLayout("Output", DType::kFloat32, plan->out, plan->dst_md, plan->dst_md->get_size());
  float* scratch = scratch_total ? ctx.Scratch((scratch_total + 3) / 4) : nullptr;
  if (ctx.Dry()) return;
  try {
    const void* src = x.data;
    if (plan->src_bytes) {
      DoReorder(plan->in_md, x.data, plan->src_md, scratch);
      src = scratch;
    }
    if (st->spec.residual && !over) {
      if (DescOf(residual) == plan->dst_md) std::memcpy(o.data, residual.data, plan->dst_md->get_size());
      else DoReorder(DescOf(residual), residual.data, plan->dst_md, o.data);
    }
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, memory(*plan->src_md, Eng(), const_cast<void*>(src))},
        {DNNL_ARG_WEIGHTS, memory(plan->wei_md, Eng(), plan->weights.get())},
        {DNNL_ARG_BIAS, memory(plan->bias_md, Eng(), st->spec.bias.data())},
        {DNNL_ARG_DST, memory(*plan->dst_md, Eng(), o.data)}};
    if (plan->scratch_bytes) {
      args.emplace(DNNL_ARG_SCRATCHPAD, memory(plan->scratch_md, Eng(), reinterpret_cast<uint8_t*>(scratch) + Round64(plan->src_bytes)));
    }
    plan->prim.execute(Strm(), args);
  } catch (const dnnl::error& e) {
    DnnlFail(ctx, e);
  }
}

bool DnnlPoolSupported(const OpDesc& op) {
  auto str = [&](const char* name, const std::string& def) {
    auto it = op.attrs.find(name);
    return it == op.attrs.end() ? def : it->second.s;
  };
  if (op.Input("KSize") && !op.Input("KSize")->empty()) return false;
  std::string fmt = str("data_format", "NCHW");
  if (fmt != "NCHW" && fmt != "AnyLayout") return false;
  std::string type = str("pooling_type", "max");
  auto adaptive = op.attrs.find("adaptive");
  if (adaptive != op.attrs.end() && adaptive->second.i != 0) {  // only to 1x1 (global); other sizes stay on the builtin kernel
    auto ks = op.attrs.find("ksize");
    if (ks == op.attrs.end() || ks->second.ints.empty()) return false;
    for (int64_t k : ks->second.ints)
      if (k != 1) return false;
  }
  return type == "max" || type == "avg";
}

void DnnlPoolKernel(OpContext& ctx) {
  auto* st = static_cast<DnnlOpState*>(ctx.State());
  Value x = Float4D(ctx, "X");
  PoolParams pp = PoolWindows(ctx, x);
  const memory::desc* in_md = DescOf(x);
  Shape key = x.shape;
  auto plan = st->Get(ctx, {in_md}, key, [&](Plan* p) {
    p->out = {x.shape[0], x.shape[1], pp.h.out, pp.w.out};
    using A = dnnl::algorithm;
    A alg = pp.is_max ? A::pooling_max : pp.exclusive ? A::pooling_avg_exclude_padding : A::pooling_avg_include_padding;
    dnnl::pooling_forward::desc d(dnnl::prop_kind::forward_inference, alg, *in_md, memory::desc(Dims(p->out), Dt::f32, Tag::any),
                                  {pp.h.stride, pp.w.stride}, {pp.h.k, pp.w.k}, {pp.h.pad0, pp.w.pad0}, {pp.h.pad1, pp.w.pad1});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::pooling_forward::primitive_desc pd(d, attr, Eng());
    p->dst_md = Intern(pd.dst_desc());
    p->scratch_md = pd.scratchpad_desc();
    p->scratch_bytes = p->scratch_md.get_size();
    p->prim = dnnl::pooling_forward(pd);
  });
  Value& o = ctx.OutLayout("Out", DType::kFloat32, plan->out, plan->dst_md, plan->dst_md->get_size());
  float* scratch = plan->scratch_bytes ? ctx.Scratch((plan->scratch_bytes + 3) / 4) : nullptr;
  if (ctx.Dry()) return;
  try {
    ExecuteWithScratch(ctx, *plan, {{DNNL_ARG_SRC, memory(*in_md, Eng(), x.data)}, {DNNL_ARG_DST, memory(*plan->dst_md, Eng(), o.data)}}, scratch);
  } catch (const dnnl::error& e) {
    DnnlFail(ctx, e);
  }
}

void DnnlBatchNormKernel(OpContext& ctx) {
  auto* st = static_cast<DnnlOpState*>(ctx.State());
  Value x = Float4D(ctx, "X");
  int64_t C = x.shape[1];
  const char* slots[] = {"Scale", "Bias", "Mean", "Variance"};
  const float* p[4];
  for (int i = 0; i < 4; ++i) {
    const Value& v = ctx.In(slots[i]);
    if (v.dtype != DType::kFloat32 || v.Numel() != C) ctx.Fail(std::string(slots[i]) + " must have " + std::to_string(C) + " float32 values");
    p[i] = v.As<float>();
  }
  bool relu = ctx.Bool("fused_relu", false);
  const memory::desc* in_md = DescOf(x);
  auto plan = st->Get(ctx, {in_md}, x.shape, [&](Plan* pl) {
    pl->out = x.shape;
    auto flags = dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    if (relu) flags = flags | dnnl::normalization_flags::fuse_norm_relu;
    dnnl::batch_normalization_forward::desc d(dnnl::prop_kind::forward_inference, *in_md, static_cast<float>(ctx.Float("epsilon", 1e-5)), flags);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::batch_normalization_forward::primitive_desc pd(d, attr, Eng());
    pl->dst_md = Intern(pd.dst_desc());
    pl->scratch_md = pd.scratchpad_desc();
    pl->scratch_bytes = pl->scratch_md.get_size();
    pl->prim = dnnl::batch_normalization_forward(pd);
  });
  Value& o = ctx.OutLayout("Y", DType::kFloat32, plan->out, plan->dst_md, plan->dst_md->get_size());
  float* scratch = plan->scratch_bytes ? ctx.Scratch((plan->scratch_bytes + 3) / 4) : nullptr;
  if (ctx.Dry()) return;
  try {
    memory::desc c_md({C}, Dt::f32, Tag::a);
    auto m = [&](int i) { return memory(c_md, Eng(), const_cast<float*>(p[i])); };
    ExecuteWithScratch(ctx, *plan,
                       {{DNNL_ARG_SRC, memory(*in_md, Eng(), x.data)}, {DNNL_ARG_DST, memory(*plan->dst_md, Eng(), o.data)},
                        {DNNL_ARG_SCALE, m(0)}, {DNNL_ARG_SHIFT, m(1)}, {DNNL_ARG_MEAN, m(2)}, {DNNL_ARG_VARIANCE, m(3)}},
                       scratch);
  } catch (const dnnl::error& e) {
    DnnlFail(ctx, e);
  }
}

void DnnlConcatKernel(OpContext& ctx) {
  auto* st = static_cast<DnnlOpState*>(ctx.State());
  size_t n = ctx.InputCount("X");
  if (n == 0) ctx.Fail("no inputs");
  std::vector<Value> xs;
  std::vector<const memory::desc*> mds;
  Shape key;
  for (size_t i = 0; i < n; ++i) {
    xs.push_back(ctx.In("X", i));
    const Value& v = xs.back();
    if (v.dtype != DType::kFloat32 || v.shape.size() != 4) ctx.Fail("inputs must be 4-D float32, got " + ShapeString(v.shape));
    for (size_t k = 0; k < 4; ++k)
      if (k != 1 && v.shape[k] != xs[0].shape[k]) ctx.Fail("inputs differ outside the concat axis: " + ShapeString(v.shape) + " vs " + ShapeString(xs[0].shape));
    mds.push_back(DescOf(v));
    key.insert(key.end(), v.shape.begin(), v.shape.end());
  }
  auto plan = st->Get(ctx, mds, key, [&](Plan* p) {
    p->out = xs[0].shape;
    p->out[1] = 0;
    std::vector<memory::desc> srcs;
    for (size_t i = 0; i < n; ++i) {
      p->out[1] += xs[i].shape[1];
      srcs.push_back(*mds[i]);
    }
    // Inputs all in one channel-major layout (NCHW, or nChw16c / nChw8c with whole blocks per
    // input): per sample, each input's channels are one contiguous run of the output, so the
    // concat is a memcpy per input and sample (oneDNN 2.6 has only its generic loop for blocked
    // concat, which made it a tenth of DenseNet's run time).
    for (Tag t : {Tag::nChw16c, Tag::nChw8c, Tag::abcd}) {
      int64_t block = t == Tag::nChw16c ? 16 : t == Tag::nChw8c ? 8 : 1;
      bool all = true;
      for (size_t i = 0; i < n && all; ++i) all = xs[i].shape[1] % block == 0 && *mds[i] == memory::desc(Dims(xs[i].shape), Dt::f32, t);
      if (!all) continue;
      p->copies = true;
      p->dst_md = Intern(memory::desc(Dims(p->out), Dt::f32, t));
      return;
    }
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::concat::primitive_desc pd = [&] {
      try {
        return dnnl::concat::primitive_desc(1, srcs, Eng(), attr);
      } catch (const dnnl::error&) {  // no layout oneDNN can pick for these inputs: plain NCHW
        return dnnl::concat::primitive_desc(*PlainDesc(p->out), 1, srcs, Eng(), attr);
      }
    }();
    p->dst_md = Intern(pd.dst_desc());
    p->scratch_md = pd.scratchpad_desc();
    p->scratch_bytes = p->scratch_md.get_size();
    p->prim = dnnl::concat(pd);
  });
  // A channel-major concat appends to its first input when this op is that input's last reader
  // (DenseNet: each layer's concat extends the previous one): the output takes over the input's
  // slab, grown to the output's size, so sample 0 of the first input is already in place.
  Value* over = plan->copies ? ctx.OutOver("Out", "X", DType::kFloat32, plan->out, plan->dst_md, plan->dst_md->get_size(), true) : nullptr;
  Value& o = over ? *over : ctx.OutLayout("Out", DType::kFloat32, plan->out, plan->dst_md, plan->dst_md->get_size());
  float* scratch = plan->scratch_bytes ? ctx.Scratch((plan->scratch_bytes + 3) / 4) : nullptr;
  if (ctx.Dry()) return;
  if (plan->copies) {
    const size_t plane = static_cast<size_t>(plan->out[2] * plan->out[3]), per_out = static_cast<size_t>(plan->out[1]) * plane;
    float* out = o.As<float>();
    if (over) {  // the first input's later samples move up to their place, the last one first
      const size_t len0 = static_cast<size_t>(xs[0].shape[1]) * plane;
      for (int64_t b = plan->out[0] - 1; b > 0; --b)
        std::memmove(out + static_cast<size_t>(b) * per_out, out + static_cast<size_t>(b) * len0, len0 * sizeof(float));
    }
    for (int64_t b = 0; b < plan->out[0]; ++b) {
      float* dst = out + static_cast<size_t>(b) * per_out;
      for (size_t i = 0; i < n; ++i) {
        const size_t len = static_cast<size_t>(xs[i].shape[1]) * plane;
        if (!(over && i == 0)) std::memcpy(dst, xs[i].As<float>() + static_cast<size_t>(b) * len, len * sizeof(float));
        dst += len;
      }
    }
    return;
  }
  try {
    std::unordered_map<int, memory> args{{DNNL_ARG_DST, memory(*plan->dst_md, Eng(), o.data)}};
    for (size_t i = 0; i < n; ++i) args.emplace(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), memory(*mds[i], Eng(), xs[i].data));
    ExecuteWithScratch(ctx, *plan, std::move(args), scratch);
  } catch (const dnnl::error& e) {
    DnnlFail(ctx, e);
  }
}

bool IsDnnlKernel(KernelFn fn) {
  return fn == FusedConvKernel || fn == FusedMatmulKernel || fn == DnnlPoolKernel || fn == DnnlBatchNormKernel || fn == DnnlConcatKernel;
}

bool TakesDnnlLayouts(KernelFn fn) { return IsDnnlKernel(fn) && fn != FusedMatmulKernel; }

size_t LayoutBytes(const void* layout) { return static_cast<const memory::desc*>(layout)->get_size(); }

void ReorderToPlain(const void* from, const void* src, const Shape& shape, void* dst) {
  DoReorder(static_cast<const memory::desc*>(from), src, PlainDesc(shape), dst);
}

void SetDnnlThreads(int threads) { omp_set_num_threads(std::max(threads, 1)); }

}  // namespace paddle_native
