// Tensor-manipulation ops the model zoo needs beyond kernels.cc: stack, expand_v2, meshgrid,
// strided_slice, fill_any_like, cumsum, arg_max / arg_min, reduce_max / reduce_min.
// Semantics follow Paddle's phi CPU kernels (attribute names of the legacy ops; pir.cc maps
// the pd_op forms onto them). Inputs stay valid while an op runs (an output overwriting a
// live variable gets a fresh slab), so kernels read them in place.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "errors.h"
#include "ops_registry.h"
#include "ops_util.h"

namespace paddle_native {

namespace {

using ops::Axis;
using ops::Strides;

void StackK(OpContext& ctx) {
  size_t n = ctx.InputCount("X");
  if (n == 0) ctx.Fail("needs at least one input");
  std::vector<Value> xs;
  for (size_t i = 0; i < n; ++i) xs.push_back(ctx.In("X", i));
  for (const auto& x : xs) {
    if (x.shape != xs[0].shape || x.dtype != xs[0].dtype) ctx.Fail("inputs differ: " + ShapeString(xs[0].shape) + " vs " + ShapeString(x.shape));
  }
  const int64_t rank = static_cast<int64_t>(xs[0].shape.size());
  const int64_t axis = Axis(ctx, ctx.Int("axis", 0), rank + 1);
  Shape out = xs[0].shape;
  out.insert(out.begin() + axis, static_cast<int64_t>(n));
  int64_t outer = 1;
  for (int64_t k = 0; k < axis; ++k) outer *= out[static_cast<size_t>(k)];
  const size_t es = DTypeSize(xs[0].dtype);
  const size_t inner = static_cast<size_t>(xs[0].Numel() / std::max<int64_t>(outer, 1)) * es;
  Value& y = ctx.Out(ctx.HasOutput("Y") ? "Y" : "Out", xs[0].dtype, out);
  if (ctx.Dry()) return;
  uint8_t* dst = static_cast<uint8_t*>(y.data);
  for (int64_t o = 0; o < outer; ++o)
    for (size_t i = 0; i < n; ++i, dst += inner) std::memcpy(dst, static_cast<const uint8_t*>(xs[i].data) + static_cast<size_t>(o) * inner, inner);
}

// Copies `x` broadcast to `out` (x right-aligned, its dims 1 or equal).
void BroadcastTo(OpContext& ctx, const Value& x, const Shape& out, const char* slot) {
  const size_t r = out.size();
  if (x.shape.size() > r) ctx.Fail("cannot expand " + ShapeString(x.shape) + " to fewer dims " + ShapeString(out));
  Shape xs(r - x.shape.size(), 1);
  xs.insert(xs.end(), x.shape.begin(), x.shape.end());
  for (size_t k = 0; k < r; ++k) {
    if (xs[k] != out[k] && xs[k] != 1) ctx.Fail("cannot expand " + ShapeString(x.shape) + " to " + ShapeString(out));
  }
  const uint8_t* src = static_cast<const uint8_t*>(x.data);
  const size_t es = DTypeSize(x.dtype);
  Value& o = ctx.Out(slot, x.dtype, out);
  if (ctx.Dry()) return;
  auto xst = Strides(xs);
  const int64_t n = o.Numel();
  std::vector<int64_t> idx(r, 0);
  uint8_t* dst = static_cast<uint8_t*>(o.data);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (size_t k = 0; k < r; ++k) off += xs[k] == 1 ? 0 : idx[k] * xst[k];
    std::memcpy(dst + static_cast<size_t>(i) * es, src + static_cast<size_t>(off) * es, es);
    for (size_t k = r; k-- > 0;) {
      if (++idx[k] < out[k]) break;
      idx[k] = 0;
    }
  }
}

void ExpandV2K(OpContext& ctx) {
  const Value x = ctx.In("X");
  auto shape = ops::IntList(ctx, "shape", "Shape", "expand_shapes_tensor");
  if (shape.size() < x.shape.size() || shape.size() > static_cast<size_t>(kMaxRank)) {
    ctx.Fail("shape " + ShapeString(shape) + " has fewer dims than X " + ShapeString(x.shape) + " or more than 8");
  }
  const size_t diff = shape.size() - x.shape.size();
  Shape out(shape.size());
  for (size_t k = 0; k < shape.size(); ++k) {
    if (shape[k] == -1) {
      if (k < diff) ctx.Fail("-1 in shape for a new leading dim");
      out[k] = x.shape[k - diff];
    } else if (shape[k] < 0) {
      ctx.Fail("negative size in shape " + ShapeString(shape));
    } else {
      out[k] = shape[k];
    }
  }
  BroadcastTo(ctx, x, out, "Out");
}

void ExpandAsV2K(OpContext& ctx) {
  const Value x = ctx.In("X");
  Shape target = ctx.HasInput("Y") ? ctx.In("Y").shape : Shape();
  if (!ctx.HasInput("Y")) {
    auto t = ctx.Ints("target_shape");
    target.assign(t.begin(), t.end());
  }
  BroadcastTo(ctx, x, target, "Out");
}

void MeshgridK(OpContext& ctx) {
  const size_t n = ctx.InputCount("X");
  if (n == 0 || n > static_cast<size_t>(kMaxRank)) ctx.Fail("needs 1 to 8 inputs");
  std::vector<Value> xs;
  Shape out;
  for (size_t i = 0; i < n; ++i) {
    xs.push_back(ctx.In("X", i));
    if (xs.back().shape.size() > 1) ctx.Fail("inputs must be 0-D or 1-D");
    out.push_back(xs.back().Numel());
  }
  auto st = Strides(out);
  int64_t total = 1;
  for (int64_t d : out) total *= d;
  for (size_t i = 0; i < n; ++i) {
    const size_t es = DTypeSize(xs[i].dtype);
    Value& o = ctx.Out("Out", i, xs[i].dtype, out);
    if (ctx.Dry()) continue;
    uint8_t* dst = static_cast<uint8_t*>(o.data);
    for (int64_t j = 0; j < total; ++j) {
      int64_t k = (j / st[i]) % out[i];
      std::memcpy(dst + static_cast<size_t>(j) * es, static_cast<const uint8_t*>(xs[i].data) + static_cast<size_t>(k) * es, es);
    }
  }
}

void StridedSliceK(OpContext& ctx) {
  const Value x = ctx.In("Input");
  const int64_t r = static_cast<int64_t>(x.shape.size());
  auto axes = ctx.Ints("axes");
  auto starts = ops::IntList(ctx, "starts", "StartsTensor", "StartsTensorList");
  auto ends = ops::IntList(ctx, "ends", "EndsTensor", "EndsTensorList");
  auto strides = ops::IntList(ctx, "strides", "StridesTensor", "StridesTensorList");
  if (starts.size() != axes.size() || ends.size() != axes.size() || strides.size() != axes.size()) {
    ctx.Fail("axes, starts, ends and strides differ in length");
  }
  std::vector<int64_t> begin(static_cast<size_t>(r), 0), step(static_cast<size_t>(r), 1);
  Shape out = x.shape;
  for (size_t i = 0; i < axes.size(); ++i) {
    const size_t a = static_cast<size_t>(Axis(ctx, axes[i], r));
    const int64_t dim = x.shape[a], st = strides[i];
    if (st == 0) ctx.Fail("stride 0");
    int64_t s = starts[i], e = ends[i];
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    int64_t count;
    if (st > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      count = e > s ? (e - s + st - 1) / st : 0;
    } else {
      s = std::clamp<int64_t>(s, -1, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      count = s > e ? (s - e + (-st) - 1) / (-st) : 0;
    }
    begin[a] = s;
    step[a] = st;
    out[a] = count;
  }
  const size_t es = DTypeSize(x.dtype);
  const uint8_t* src = static_cast<const uint8_t*>(x.data);
  auto xst = Strides(x.shape);
  Shape final_shape;
  auto dec = ctx.Ints("decrease_axis");
  for (int64_t k = 0; k < r; ++k) {
    bool drop = false;
    for (int64_t d : dec) drop |= Axis(ctx, d, r) == k;
    if (drop && out[static_cast<size_t>(k)] != 1) ctx.Fail("decrease_axis on a dim of size " + std::to_string(out[static_cast<size_t>(k)]));
    if (!drop) final_shape.push_back(out[static_cast<size_t>(k)]);
  }
  Value& o = ctx.Out("Out", x.dtype, final_shape);
  if (ctx.Dry()) return;
  const int64_t n = o.Numel();
  std::vector<int64_t> idx(static_cast<size_t>(r), 0);
  uint8_t* dst = static_cast<uint8_t*>(o.data);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (size_t k = 0; k < static_cast<size_t>(r); ++k) off += (begin[k] + idx[k] * step[k]) * xst[k];
    std::memcpy(dst + static_cast<size_t>(i) * es, src + static_cast<size_t>(off) * es, es);
    for (size_t k = static_cast<size_t>(r); k-- > 0;) {
      if (++idx[k] < out[k]) break;
      idx[k] = 0;
    }
  }
}

void FillAnyLikeK(OpContext& ctx) {
  const Value x = ctx.In("X");
  double value = ctx.Float("value", 0.0);
  DType t = ops::AttrType(ctx, "dtype", x.dtype);
  Value& o = ctx.Out("Out", t, x.shape);
  if (ctx.Dry()) return;
  if (ctx.HasInput("ValueTensor")) value = ops::ScalarAt(ctx.In("ValueTensor"), 0);
  for (int64_t i = 0, n = o.Numel(); i < n; ++i) ops::StoreAt(o, i, value);
}

void CumsumK(OpContext& ctx) {
  const Value x = ctx.In("X");
  const bool flatten = ctx.Bool("flatten", false), exclusive = ctx.Bool("exclusive", false), reverse = ctx.Bool("reverse", false);
  int64_t axis = ctx.Int("axis", -1);
  if (ctx.HasInput("AxisTensor")) axis = ops::FirstInt(ctx, ctx.InValue("AxisTensor"), "AxisTensor");
  Shape shape = flatten ? Shape{x.Numel()} : x.shape;
  if (shape.empty()) shape = {1};
  const int64_t a = Axis(ctx, axis, static_cast<int64_t>(shape.size()));
  int64_t outer = 1, inner = 1;
  for (int64_t k = 0; k < a; ++k) outer *= shape[static_cast<size_t>(k)];
  for (size_t k = static_cast<size_t>(a) + 1; k < shape.size(); ++k) inner *= shape[k];
  const int64_t len = shape[static_cast<size_t>(a)];
  // x stays valid while the op runs (an output overwriting a live var gets a fresh slab).
  Value& o = ctx.Out("Out", x.dtype, flatten ? Shape{x.Numel()} : x.shape);
  if (ctx.Dry()) return;
  const bool is_float = x.dtype == DType::kFloat32;
  for (int64_t p = 0; p < outer; ++p)
    for (int64_t q = 0; q < inner; ++q) {
      float accf = 0.f;
      double acc = 0;
      for (int64_t s = 0; s < len; ++s) {
        int64_t j = reverse ? len - 1 - s : s;
        int64_t i = (p * len + j) * inner + q;
        double v = ops::ScalarAt(x, i);
        if (exclusive) ops::StoreAt(o, i, is_float ? accf : acc);
        if (is_float) accf += static_cast<float>(v);
        else acc += v;
        if (!exclusive) ops::StoreAt(o, i, is_float ? accf : acc);
      }
    }
}

void ArgExtremum(OpContext& ctx, bool is_max) {
  const Value x = ctx.In("X");
  const bool flatten = ctx.Bool("flatten", false), keep = ctx.Bool("keepdims", false);
  int64_t axis = ctx.Int("axis", -1);
  if (ctx.HasInput("AxisTensor")) axis = ops::FirstInt(ctx, ctx.InValue("AxisTensor"), "AxisTensor");
  Shape shape = flatten ? Shape{x.Numel()} : x.shape;
  if (shape.empty()) shape = {1};
  const int64_t a = Axis(ctx, axis, static_cast<int64_t>(shape.size()));
  int64_t outer = 1, inner = 1;
  for (int64_t k = 0; k < a; ++k) outer *= shape[static_cast<size_t>(k)];
  for (size_t k = static_cast<size_t>(a) + 1; k < shape.size(); ++k) inner *= shape[k];
  const int64_t len = shape[static_cast<size_t>(a)];
  if (len == 0) ctx.Fail("reduces an empty axis");
  Shape out;
  if (flatten) {
    if (keep) out.assign(x.shape.size(), 1);
  } else {
    for (size_t k = 0; k < shape.size(); ++k) {
      if (static_cast<int64_t>(k) != a) out.push_back(shape[k]);
      else if (keep) out.push_back(1);
    }
  }
  DType t = ops::AttrType(ctx, "dtype", DType::kInt64);
  if (t != DType::kInt64 && t != DType::kInt32) ctx.Fail("dtype must be int32 or int64");
  Value& o = ctx.Out("Out", t, out);
  if (ctx.Dry()) return;
  for (int64_t p = 0; p < outer; ++p)
    for (int64_t q = 0; q < inner; ++q) {
      int64_t best = 0;
      double bv = ops::ScalarAt(x, p * len * inner + q);
      for (int64_t s = 1; s < len; ++s) {
        double v = ops::ScalarAt(x, (p * len + s) * inner + q);
        if (is_max ? v > bv : v < bv) { bv = v; best = s; }
      }
      ops::StoreAt(o, p * inner + q, static_cast<double>(best));
    }
}
void ArgMaxK(OpContext& c) { ArgExtremum(c, true); }
void ArgMinK(OpContext& c) { ArgExtremum(c, false); }

void ReduceExtremum(OpContext& ctx, bool is_max) {
  const Value x = ctx.In("X");
  const size_t r = x.shape.size();
  std::vector<int64_t> dims = ctx.HasInput("AxisTensor") ? ops::Ints(ctx, ctx.InValue("AxisTensor")) : ctx.Ints("dim");
  const bool all = ctx.Bool("reduce_all", false) || dims.empty();
  const bool keep = ctx.Bool("keep_dim", false);
  std::vector<bool> red(r, all);
  for (int64_t d : dims) red[static_cast<size_t>(Axis(ctx, d, static_cast<int64_t>(r)))] = true;
  Shape out, kept;
  for (size_t k = 0; k < r; ++k) {
    if (red[k]) {
      if (keep) out.push_back(1);
    } else {
      out.push_back(x.shape[k]);
    }
    kept.push_back(red[k] ? 1 : x.shape[k]);
  }
  if (x.Numel() == 0) ctx.Fail("reduces an empty tensor");
  // Accumulates in the output itself (no per-run buffer): the first element of each group
  // (all reduced indices 0) sets it, later ones replace it when larger (smaller) or NaN.
  Value& o = ctx.Out("Out", x.dtype, out);
  if (ctx.Dry()) return;
  auto st = Strides(kept);
  std::vector<int64_t> idx(r, 0);
  for (int64_t i = 0; i < x.Numel(); ++i) {
    int64_t off = 0;
    bool first = true;
    for (size_t k = 0; k < r; ++k) {
      if (red[k]) first = first && idx[k] == 0;
      else off += idx[k] * st[k];
    }
    const double v = ops::ScalarAt(x, i);
    if (first) {
      ops::StoreAt(o, off, v);
    } else {
      const double a = ops::ScalarAt(o, off);
      if (std::isnan(v) || (is_max ? v > a : v < a)) ops::StoreAt(o, off, v);
    }
    for (size_t k = r; k-- > 0;) {
      if (++idx[k] < x.shape[k]) break;
      idx[k] = 0;
    }
  }
}
void ReduceMaxK(OpContext& c) { ReduceExtremum(c, true); }
void ReduceMinK(OpContext& c) { ReduceExtremum(c, false); }

}  // namespace

void AddTensorKernels(KernelMap* table) {
  (*table)["stack"] = StackK;
  (*table)["expand_v2"] = ExpandV2K;
  (*table)["expand_as_v2"] = ExpandAsV2K;
  (*table)["meshgrid"] = MeshgridK;
  (*table)["strided_slice"] = StridedSliceK;
  (*table)["fill_any_like"] = FillAnyLikeK;
  (*table)["cumsum"] = CumsumK;
  (*table)["arg_max"] = ArgMaxK;
  (*table)["arg_min"] = ArgMinK;
  (*table)["reduce_max"] = ReduceMaxK;
  (*table)["reduce_min"] = ReduceMinK;
}

}  // namespace paddle_native
