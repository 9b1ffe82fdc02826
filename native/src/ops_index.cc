// Indexing, selection and padding ops common in PaddleOCR / PaddleDetection / PaddleSeg /
// PaddleNLP exports: gather, gather_nd, index_select, scatter, where, top_k_v2, tile, roll, clip,
// one_hot_v2, logical_and / or / xor / not, pad3d, pad. Semantics of Paddle's phi CPU kernels
// (legacy attribute and slot names; pir.cc maps the pd_op forms onto them). Every kernel makes
// its outputs, then returns when ctx.Dry() (values that decide a shape are read with InValue).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "errors.h"
#include "ops_registry.h"
#include "ops_util.h"

namespace paddle_native {

namespace {

using ops::Axis;
using ops::Strides;

const uint8_t* Bytes(const Value& v) { return static_cast<const uint8_t*>(v.data); }

// Outer / inner element counts around `axis`.
void Around(const Shape& s, int64_t axis, int64_t* outer, int64_t* inner) {
  *outer = *inner = 1;
  for (int64_t k = 0; k < axis; ++k) *outer *= s[static_cast<size_t>(k)];
  for (size_t k = static_cast<size_t>(axis) + 1; k < s.size(); ++k) *inner *= s[k];
}

// An index value checked against [-dim, dim) (negative counts from the end) or [0, dim).
int64_t CheckedIndex(OpContext& ctx, int64_t v, int64_t dim, bool negative_ok) {
  if (v >= dim || v < (negative_ok ? -dim : 0)) {
    ctx.Fail("index " + std::to_string(v) + " out of range for a dim of size " + std::to_string(dim));
  }
  return v < 0 ? v + dim : v;
}

// Copies rows of `inner` elements along `axis` of x picked by `index` (gather, index_select).
void SelectAlong(OpContext& ctx, const Value& x, const Value& index, int64_t axis, Value& o) {
  const size_t es = DTypeSize(x.dtype);
  int64_t outer, inner;
  Around(x.shape, axis, &outer, &inner);
  const int64_t dim = x.shape[static_cast<size_t>(axis)];
  auto idx = ops::Ints(ctx, index);
  for (auto& v : idx) v = CheckedIndex(ctx, v, dim, false);
  const size_t row = static_cast<size_t>(inner) * es;
  uint8_t* dst = static_cast<uint8_t*>(o.data);
  for (int64_t p = 0; p < outer; ++p)
    for (int64_t i : idx) {
      std::memcpy(dst, Bytes(x) + static_cast<size_t>(p * dim + i) * row, row);
      dst += row;
    }
}

void GatherK(OpContext& ctx) {
  const Value& x = ctx.In("X");
  const Value& index = ctx.In("Index");
  int64_t axis = ctx.Int("axis", 0);
  if (ctx.HasInput("Axis")) axis = ops::FirstInt(ctx, ctx.InValue("Axis"), "Axis");
  axis = Axis(ctx, axis, static_cast<int64_t>(x.shape.size()));
  if (index.shape.size() > 2 || (index.shape.size() == 2 && index.shape[1] != 1)) {
    ctx.Fail("Index must be 0-D, 1-D or [N, 1], got " + ShapeString(index.shape));
  }
  Shape out;
  for (size_t k = 0; k < x.shape.size(); ++k) {
    if (static_cast<int64_t>(k) != axis) out.push_back(x.shape[k]);
    else if (!index.shape.empty()) out.push_back(index.Numel());
  }
  Value& o = ctx.Out("Out", x.dtype, out);
  if (ctx.Dry()) return;
  SelectAlong(ctx, x, index, axis, o);
}

void IndexSelectK(OpContext& ctx) {
  const Value& x = ctx.In("X");
  const Value& index = ctx.In("Index");
  const int64_t axis = Axis(ctx, ctx.Int("dim", 0), static_cast<int64_t>(x.shape.size()));
  if (index.shape.size() > 1) ctx.Fail("Index must be 1-D, got " + ShapeString(index.shape));
  Shape out = x.shape;
  out[static_cast<size_t>(axis)] = index.Numel();
  Value& o = ctx.Out("Out", x.dtype, out);
  if (ctx.Dry()) return;
  SelectAlong(ctx, x, index, axis, o);
}

void GatherNdK(OpContext& ctx) {
  const Value& x = ctx.In("X");
  const Value& index = ctx.In("Index");
  if (index.shape.empty()) ctx.Fail("Index must have at least one dim");
  const int64_t K = index.shape.back();
  if (K > static_cast<int64_t>(x.shape.size())) ctx.Fail("Index's last dim " + std::to_string(K) + " exceeds X's rank");
  Shape out(index.shape.begin(), index.shape.end() - 1);
  out.insert(out.end(), x.shape.begin() + K, x.shape.end());
  Value& o = ctx.Out("Out", x.dtype, out);
  if (ctx.Dry()) return;
  auto idx = ops::Ints(ctx, index);
  auto st = Strides(x.shape);
  int64_t slice = 1;
  for (size_t k = static_cast<size_t>(K); k < x.shape.size(); ++k) slice *= x.shape[k];
  const size_t es = DTypeSize(x.dtype), row = static_cast<size_t>(slice) * es;
  const int64_t n = K == 0 ? o.Numel() / std::max<int64_t>(slice, 1) : static_cast<int64_t>(idx.size()) / K;
  uint8_t* dst = static_cast<uint8_t*>(o.data);
  for (int64_t i = 0; i < n; ++i, dst += row) {
    int64_t off = 0;
    for (int64_t j = 0; j < K; ++j) off += CheckedIndex(ctx, idx[static_cast<size_t>(i * K + j)], x.shape[static_cast<size_t>(j)], true) * st[static_cast<size_t>(j)];
    std::memcpy(dst, Bytes(x) + static_cast<size_t>(off) * es, row);
  }
}

// scatter: rows of X (along dim 0) replaced by Updates' rows at Ids; overwrite: the last
// write wins; otherwise the rows named are zeroed, then every update is added.
void ScatterK(OpContext& ctx) {
  const Value& x = ctx.In("X");
  const Value& ids = ctx.In("Ids");
  const Value& up = ctx.In("Updates");
  if (x.shape.empty() || up.dtype != x.dtype || up.shape.empty() || up.shape[0] != ids.Numel() || ids.shape.size() > 2) {
    ctx.Fail("X " + ShapeString(x.shape) + ", Ids " + ShapeString(ids.shape) + " and Updates " + ShapeString(up.shape) + " do not fit");
  }
  const int64_t row = x.Numel() / std::max<int64_t>(x.shape[0], 1);
  if (up.Numel() != ids.Numel() * row) ctx.Fail("Updates rows must have X's row size");
  Value& o = ctx.Out("Out", x.dtype, x.shape);
  if (ctx.Dry()) return;
  const size_t es = DTypeSize(x.dtype), bytes = static_cast<size_t>(row) * es;
  auto idx = ops::Ints(ctx, ids);
  for (auto& v : idx) v = CheckedIndex(ctx, v, x.shape[0], false);
  if (o.data != x.data) std::memcpy(o.data, x.data, static_cast<size_t>(x.Numel()) * es);
  uint8_t* dst = static_cast<uint8_t*>(o.data);
  if (ctx.Bool("overwrite", true)) {
    for (size_t i = 0; i < idx.size(); ++i) std::memcpy(dst + static_cast<size_t>(idx[i]) * bytes, Bytes(up) + i * bytes, bytes);
    return;
  }
  for (int64_t i : idx) std::memset(dst + static_cast<size_t>(i) * bytes, 0, bytes);
  for (size_t i = 0; i < idx.size(); ++i)
    for (int64_t j = 0; j < row; ++j) {
      const int64_t at = idx[i] * row + j;
      ops::StoreAt(o, at, ops::ScalarAt(o, at) + ops::ScalarAt(up, static_cast<int64_t>(i) * row + j));
    }
}

// Broadcast of several inputs to one shape (numpy rules, right-aligned).
Shape BroadcastShape(OpContext& ctx, const std::vector<const Shape*>& shapes) {
  size_t r = 0;
  for (const Shape* s : shapes) r = std::max(r, s->size());
  Shape out(r, 1);
  for (const Shape* s : shapes)
    for (size_t k = 0; k < s->size(); ++k) {
      int64_t& d = out[r - s->size() + k];
      int64_t v = (*s)[k];
      if (v != d && v != 1 && d != 1) ctx.Fail("shapes " + ShapeString(*shapes[0]) + " and " + ShapeString(*s) + " do not broadcast");
      if (v != 1) d = v;
    }
  return out;
}

// Offset into an input of shape `s` for each output element (row-major over `out`).
std::vector<int64_t> BroadcastOffsets(const Shape& s, const Shape& out) {
  const size_t r = out.size();
  Shape full(r - s.size(), 1);
  full.insert(full.end(), s.begin(), s.end());
  auto st = Strides(full);
  int64_t n = 1;
  for (int64_t d : out) n *= d;
  std::vector<int64_t> offs(static_cast<size_t>(n)), idx(r, 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (size_t k = 0; k < r; ++k) off += full[k] == 1 ? 0 : idx[k] * st[k];
    offs[static_cast<size_t>(i)] = off;
    for (size_t k = r; k-- > 0;) {
      if (++idx[k] < out[k]) break;
      idx[k] = 0;
    }
  }
  return offs;
}

void WhereK(OpContext& ctx) {
  const Value& c = ctx.In("Condition");
  const Value& x = ctx.In("X");
  const Value& y = ctx.In("Y");
  if (x.dtype != y.dtype) ctx.Fail(std::string("X is ") + DTypeName(x.dtype) + " but Y is " + DTypeName(y.dtype));
  Shape out = BroadcastShape(ctx, {&c.shape, &x.shape, &y.shape});
  Value& o = ctx.Out("Out", x.dtype, out);
  if (ctx.Dry()) return;
  auto oc = BroadcastOffsets(c.shape, out), ox = BroadcastOffsets(x.shape, out), oy = BroadcastOffsets(y.shape, out);
  const size_t es = DTypeSize(x.dtype);
  uint8_t* dst = static_cast<uint8_t*>(o.data);
  for (size_t i = 0; i < oc.size(); ++i) {
    const bool take_x = ops::ScalarAt(c, oc[i]) != 0;
    std::memcpy(dst + i * es, take_x ? Bytes(x) + static_cast<size_t>(ox[i]) * es : Bytes(y) + static_cast<size_t>(oy[i]) * es, es);
  }
}

// masked_select: the elements of X where Mask is true (the two broadcast to one shape), in
// row-major order, as a 1-D tensor. Its length depends on the mask's values, so a shape-only
// pass runs it for real (ops_registry.cc).
void MaskedSelectK(OpContext& ctx) {
  const Value& x = ctx.In("X");
  const Value& m = ctx.In("Mask");
  if (m.dtype != DType::kBool) ctx.Fail(std::string("Mask must be bool, got ") + DTypeName(m.dtype));
  Shape full = BroadcastShape(ctx, {&x.shape, &m.shape});
  auto ox = BroadcastOffsets(x.shape, full), om = BroadcastOffsets(m.shape, full);
  const uint8_t* mask = Bytes(m);
  int64_t count = 0;
  for (int64_t o : om) count += mask[o] != 0;
  Value& out = ctx.Out("Y", x.dtype, {count});
  if (ctx.Dry()) return;
  const size_t es = DTypeSize(x.dtype);
  uint8_t* dst = static_cast<uint8_t*>(out.data);
  for (size_t i = 0; i < om.size(); ++i) {
    if (mask[om[i]] == 0) continue;
    std::memcpy(dst, Bytes(x) + static_cast<size_t>(ox[i]) * es, es);
    dst += es;
  }
}

void Logical(OpContext& ctx, int op) {  // 0 and, 1 or, 2 xor, 3 not
  const Value& x = ctx.In("X");
  const bool unary = op == 3;
  const Value& y = unary ? x : ctx.In("Y");
  Shape out = unary ? x.shape : BroadcastShape(ctx, {&x.shape, &y.shape});
  Value& o = ctx.Out("Out", DType::kBool, out);
  if (ctx.Dry()) return;
  auto ox = BroadcastOffsets(x.shape, out), oy = BroadcastOffsets(y.shape, out);
  uint8_t* dst = o.As<uint8_t>();
  for (size_t i = 0; i < ox.size(); ++i) {
    const bool a = ops::ScalarAt(x, ox[i]) != 0, b = ops::ScalarAt(y, oy[i]) != 0;
    dst[i] = op == 0 ? (a && b) : op == 1 ? (a || b) : op == 2 ? (a != b) : !a;
  }
}
void LogicalAndK(OpContext& c) { Logical(c, 0); }
void LogicalOrK(OpContext& c) { Logical(c, 1); }
void LogicalXorK(OpContext& c) { Logical(c, 2); }
void LogicalNotK(OpContext& c) { Logical(c, 3); }

// top_k_v2: the k largest (smallest) along `axis` in Paddle's CPU order: the same standard
// algorithms on (value, index) rows with the same comparator (NaN above every number for
// largest, below for smallest; ties in the order those algorithms leave them): partial_sort
// when k * 64 < the row length, else nth_element at k - 1 and, when sorted, a sort of the
// first k - 1.
void TopKK(OpContext& ctx) {
  const Value& x = ctx.In("X");
  const int64_t r = static_cast<int64_t>(x.shape.size());
  int64_t k = ctx.Int("k", 1);
  if (ctx.HasInput("K")) k = ops::FirstInt(ctx, ctx.InValue("K"), "K");
  const int64_t axis = r == 0 ? 0 : Axis(ctx, ctx.Int("axis", -1), r);
  const bool largest = ctx.Bool("largest", true), sorted = ctx.Bool("sorted", true);
  const int64_t len = r == 0 ? 1 : x.shape[static_cast<size_t>(axis)];
  if (k < 1 || k > len) ctx.Fail("k " + std::to_string(k) + " outside [1, " + std::to_string(len) + "]");
  Shape out = x.shape;
  if (r > 0) out[static_cast<size_t>(axis)] = k;
  Value& vo = ctx.Out("Out", x.dtype, out);
  Value& io = ctx.Out("Indices", DType::kInt64, out);
  if (ctx.Dry()) return;
  int64_t outer = 1, inner = 1;
  if (r > 0) Around(x.shape, axis, &outer, &inner);
  using Entry = std::pair<double, int64_t>;
  std::vector<Entry> row(static_cast<size_t>(len));
  auto before = [largest](const Entry& a, const Entry& b) {
    if (largest) return (std::isnan(a.first) && !std::isnan(b.first)) || a.first > b.first;
    return (!std::isnan(a.first) && std::isnan(b.first)) || a.first < b.first;
  };
  for (int64_t p = 0; p < outer; ++p)
    for (int64_t q = 0; q < inner; ++q) {
      for (int64_t s = 0; s < len; ++s) row[static_cast<size_t>(s)] = {ops::ScalarAt(x, (p * len + s) * inner + q), s};
      if (k * 64 < len) {
        std::partial_sort(row.begin(), row.begin() + k, row.end(), before);
      } else {
        std::nth_element(row.begin(), row.begin() + (k - 1), row.end(), before);
        if (sorted) std::sort(row.begin(), row.begin() + (k - 1), before);
      }
      for (int64_t s = 0; s < k; ++s) {
        const int64_t at = (p * k + s) * inner + q;
        ops::StoreAt(vo, at, row[static_cast<size_t>(s)].first);
        io.As<int64_t>()[at] = row[static_cast<size_t>(s)].second;
      }
    }
}

// Copies x into `o` element by element, the source index of each output index given by `src`
// (per dim: output coordinate -> input coordinate, -1 = fill with `fill`).
template <typename MapFn>
void MapCopy(const Value& x, Value& o, MapFn src, double fill) {
  const size_t r = o.shape.size(), es = DTypeSize(x.dtype);
  auto xst = Strides(x.shape);
  std::vector<int64_t> idx(r, 0);
  uint8_t* dst = static_cast<uint8_t*>(o.data);
  for (int64_t i = 0, n = o.Numel(); i < n; ++i) {
    int64_t off = 0;
    bool inside = true;
    for (size_t k = 0; k < r && inside; ++k) {
      int64_t c = src(k, idx[k]);
      inside = c >= 0;
      off += c * xst[k];
    }
    if (inside) std::memcpy(dst + static_cast<size_t>(i) * es, Bytes(x) + static_cast<size_t>(off) * es, es);
    else ops::StoreAt(o, i, fill);
    for (size_t k = r; k-- > 0;) {
      if (++idx[k] < o.shape[k]) break;
      idx[k] = 0;
    }
  }
}

void TileK(OpContext& ctx) {
  const Value& x = ctx.In("X");
  auto reps = ops::IntList(ctx, "repeat_times", "RepeatTimes", "repeat_times_tensor");
  if (reps.size() > static_cast<size_t>(kMaxRank)) ctx.Fail("repeat_times has more than 8 values");
  const size_t r = std::max(reps.size(), x.shape.size());
  reps.insert(reps.begin(), r - reps.size(), 1);
  Shape xs(r - x.shape.size(), 1);
  xs.insert(xs.end(), x.shape.begin(), x.shape.end());
  Shape out(r);
  for (size_t k = 0; k < r; ++k) {
    if (reps[k] <= 0) ctx.Fail("repeat_times must be positive, got " + ShapeString(reps));
    out[k] = xs[k] * reps[k];
  }
  Value& o = ctx.Out("Out", x.dtype, out);
  if (ctx.Dry()) return;
  Value view = x;
  view.shape = xs;
  MapCopy(view, o, [&](size_t k, int64_t c) { return c % xs[k]; }, 0);
}

void RollK(OpContext& ctx) {
  const Value& x = ctx.In("X");
  Value& o = ctx.Out("Out", x.dtype, x.shape);
  if (ctx.Dry()) return;
  auto shifts = ctx.HasInput("ShiftsTensor") ? ops::Ints(ctx, ctx.In("ShiftsTensor")) : ctx.Ints("shifts");
  auto axes = ctx.Ints("axis");
  Value view = x;
  Shape shape = x.shape;
  if (axes.empty()) {  // roll the flattened tensor
    if (shifts.size() != 1) ctx.Fail("without axis, shifts must hold one value");
    shape = {x.Numel()};
    axes = {0};
  }
  if (shifts.size() != axes.size()) ctx.Fail("shifts and axis differ in length");
  std::vector<int64_t> shift(shape.size(), 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    const size_t a = static_cast<size_t>(Axis(ctx, axes[i], static_cast<int64_t>(shape.size())));
    if (shape[a] > 0) shift[a] = ((shift[a] + shifts[i]) % shape[a] + shape[a]) % shape[a];
  }
  view.shape = shape;
  Value flat = o;
  flat.shape = shape;
  MapCopy(view, flat, [&](size_t k, int64_t c) { return (c - shift[k] + shape[k]) % shape[k]; }, 0);
}

void ClipK(OpContext& ctx) {
  const Value& x = ctx.In("X");
  Value& o = ctx.Out("Out", x.dtype, x.shape);
  if (ctx.Dry()) return;
  // Paddle casts the bounds to the element type first (a float attribute to float32).
  double lo = ctx.Float("min", 0.0), hi = ctx.Float("max", 0.0);
  if (ctx.HasInput("Min")) lo = ops::ScalarAt(ctx.In("Min"), 0);
  if (ctx.HasInput("Max")) hi = ops::ScalarAt(ctx.In("Max"), 0);
  if (x.dtype == DType::kFloat32) {
    const float flo = static_cast<float>(lo), fhi = static_cast<float>(hi);
    const float* px = x.As<float>();
    float* po = o.As<float>();
    for (int64_t i = 0, n = x.Numel(); i < n; ++i) po[i] = px[i] < flo ? flo : (px[i] > fhi ? fhi : px[i]);
    return;
  }
  for (int64_t i = 0, n = x.Numel(); i < n; ++i) {
    const double v = ops::ScalarAt(x, i);
    ops::StoreAt(o, i, v < lo ? lo : (v > hi ? hi : v));
  }
}

void OneHotK(OpContext& ctx) {
  const Value& x = ctx.In("X");
  int64_t depth = ctx.Int("depth", -1);
  if (ctx.HasInput("depth_tensor")) depth = ops::FirstInt(ctx, ctx.InValue("depth_tensor"), "depth_tensor");
  if (depth <= 0 || depth > (int64_t{1} << 24)) ctx.Fail("depth " + std::to_string(depth) + " must be in [1, 2^24]");
  const DType t = ops::AttrType(ctx, "dtype", DType::kFloat32);
  Shape out = x.shape;
  out.push_back(depth);
  Value& o = ctx.Out("Out", t, out);
  if (ctx.Dry()) return;
  const bool allow = ctx.Bool("allow_out_of_range", false);
  auto ids = ops::Ints(ctx, x);
  std::memset(o.data, 0, static_cast<size_t>(o.Numel()) * DTypeSize(t));
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= depth) {
      if (allow) continue;
      ctx.Fail("X value " + std::to_string(ids[i]) + " outside [0, depth " + std::to_string(depth) + ")");
    }
    ops::StoreAt(o, static_cast<int64_t>(i) * depth + ids[i], 1.0);
  }
}

// Input coordinate for output coordinate `c` of a dim padded by `before` (size `n`), or -1.
int64_t PadSource(const std::string& mode, int64_t c, int64_t before, int64_t n) {
  int64_t s = c - before;
  if (mode == "constant") return s >= 0 && s < n ? s : -1;
  if (mode == "replicate") return std::clamp<int64_t>(s, 0, n - 1);
  if (mode == "circular") return ((s % n) + n) % n;
  s = std::abs(s);  // reflect
  return std::min(s, 2 * n - s - 2);
}

// pad3d on NCDHW / NDHWC: paddings [left, right, top, bottom, front, back] (W, H, D).
void Pad3dK(OpContext& ctx) {
  const Value& x = ctx.In("X");
  if (x.shape.size() != 5) ctx.Fail("X must be 5-D, got " + ShapeString(x.shape));
  auto pads = ops::IntList(ctx, "paddings", "Paddings", nullptr);
  if (pads.size() != 6) ctx.Fail("paddings must hold 6 values, got " + std::to_string(pads.size()));
  const std::string mode = ctx.Str("mode", "constant"), fmt = ctx.Str("data_format", "NCDHW");
  if (mode != "constant" && mode != "reflect" && mode != "replicate" && mode != "circular") ctx.Fail("unknown mode \"" + mode + "\"");
  if (fmt != "NCDHW" && fmt != "NDHWC") ctx.Fail("unknown data_format \"" + fmt + "\"");
  const size_t d0 = fmt == "NCDHW" ? 2 : 1;  // D, H, W at d0, d0 + 1, d0 + 2
  std::vector<int64_t> before(5, 0), after(5, 0);
  for (size_t k = 0; k < 3; ++k) {  // k = 0: W
    before[d0 + 2 - k] = pads[2 * k];
    after[d0 + 2 - k] = pads[2 * k + 1];
  }
  Shape out = x.shape;
  for (size_t k = 0; k < 5; ++k) {
    const int64_t n = x.shape[k];
    if (before[k] < 0 || after[k] < 0) ctx.Fail("negative paddings are not supported");
    if (mode == "reflect" && (before[k] >= n || after[k] >= n)) ctx.Fail("reflect padding must be smaller than the dim it pads");
    if ((mode == "replicate" || mode == "circular") && n == 0 && before[k] + after[k] > 0) ctx.Fail("cannot pad an empty dim");
    out[k] = n + before[k] + after[k];
  }
  Value& o = ctx.Out("Out", x.dtype, out);
  if (ctx.Dry()) return;
  MapCopy(x, o, [&](size_t k, int64_t c) { return PadSource(mode, c, before[k], x.shape[k]); }, ctx.Float("value", 0.0));
}

// pad: constant padding of every dim, paddings [before0, after0, before1, ...].
void PadK(OpContext& ctx) {
  const Value& x = ctx.In("X");
  auto pads = ctx.Ints("paddings");
  if (pads.size() != 2 * x.shape.size()) ctx.Fail("paddings must hold 2 x rank values");
  Shape out = x.shape;
  for (size_t k = 0; k < out.size(); ++k) {
    if (pads[2 * k] < 0 || pads[2 * k + 1] < 0) ctx.Fail("negative paddings are not supported");
    out[k] += pads[2 * k] + pads[2 * k + 1];
  }
  Value& o = ctx.Out("Out", x.dtype, out);
  if (ctx.Dry()) return;
  double value = ctx.Float("pad_value", 0.0);
  if (ctx.HasInput("PadValue")) value = ops::ScalarAt(ctx.In("PadValue"), 0);  // PIR: a scalar operand
  MapCopy(x, o, [&](size_t k, int64_t c) { return PadSource("constant", c, pads[2 * k], x.shape[k]); }, value);
}

}  // namespace

void AddIndexKernels(KernelMap* table) {
  (*table)["gather"] = GatherK;
  (*table)["gather_nd"] = GatherNdK;
  (*table)["index_select"] = IndexSelectK;
  (*table)["where"] = WhereK;
  (*table)["masked_select"] = MaskedSelectK;
  (*table)["logical_and"] = LogicalAndK;
  (*table)["logical_or"] = LogicalOrK;
  (*table)["logical_xor"] = LogicalXorK;
  (*table)["logical_not"] = LogicalNotK;
  (*table)["top_k_v2"] = TopKK;
  (*table)["tile"] = TileK;
  (*table)["roll"] = RollK;
  (*table)["clip"] = ClipK;
  (*table)["one_hot_v2"] = OneHotK;
  (*table)["pad3d"] = Pad3dK;
  (*table)["pad"] = PadK;
  (*table)["scatter"] = ScatterK;
}

}  // namespace paddle_native
