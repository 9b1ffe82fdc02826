// Builtin CPU kernels, numerically matched to Paddle's CPU kernels (float32; int32/int64 where
// programs compute shapes). Matrix products go through OpenBLAS sgemm.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <initializer_list>
#include <numeric>
#include <set>

#include "dnnl_nlp.h"
#include "dnnl_ops.h"
#include "errors.h"
#include "executor.h"
#include "window.h"
#include "ops_registry.h"

namespace paddle_native {

namespace {

// ---------------------------------------------------------------------------------------------
// helpers

const float* F32(OpContext& ctx, const Value& v, const char* slot) {
  if (v.dtype != DType::kFloat32) ctx.Fail(std::string("input ") + slot + " must be float32, got " + DTypeName(v.dtype));
  return v.As<float>();
}

int64_t NormAxis(OpContext& ctx, int64_t axis, size_t rank, const char* what = "axis") {
  int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= std::max<int64_t>(r, 1)) {
    ctx.Fail(std::string(what) + " " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  }
  return axis < 0 ? axis + r : axis;
}

std::vector<int64_t> ReadInts(OpContext& ctx, const Value& v) {
  std::vector<int64_t> out(static_cast<size_t>(v.Numel()));
  if (out.empty()) return out;
  if (v.dtype == DType::kInt64) {
    std::memcpy(out.data(), v.data, out.size() * 8);
  } else if (v.dtype == DType::kInt32) {
    const int32_t* p = v.As<int32_t>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = p[i];
  } else if (v.dtype == DType::kFloat32) {
    const float* p = v.As<float>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = SaturatingInt64(p[i]);
  } else {
    ctx.Fail(std::string("expected an integer tensor, got ") + DTypeName(v.dtype));
  }
  return out;
}

// The value of a one-value operand (AxisTensor, ValueTensor, ...): an empty tensor is a clear
// error naming the slot, not an out-of-range read.
int64_t FirstInt(OpContext& ctx, const Value& v, const char* slot) {
  if (v.Numel() == 0) ctx.Fail(std::string(slot) + " is empty (expected one value)");
  return ReadInts(ctx, v)[0];
}

// Reads a list attribute that may instead come as one tensor (`tensor_slot`) or a list of
// 1-element tensors (`list_slot`).
std::vector<int64_t> IntsFrom(OpContext& ctx, const char* attr, const char* tensor_slot, const char* list_slot) {
  if (tensor_slot && ctx.HasInput(tensor_slot)) return ReadInts(ctx, ctx.InValue(tensor_slot));
  if (list_slot && ctx.InputCount(list_slot) > 0) {
    std::vector<int64_t> out;
    for (size_t i = 0; i < ctx.InputCount(list_slot); ++i) {
      auto one = ReadInts(ctx, ctx.InValue(list_slot, i));
      if (one.size() != 1) ctx.Fail(std::string(list_slot) + " elements must hold one value each");
      out.push_back(one[0]);
    }
    return out;
  }
  return ctx.Ints(attr);
}

size_t Bytes(const Value& v) { return static_cast<size_t>(v.Numel()) * DTypeSize(v.dtype); }

void CopyAs(OpContext& ctx, const Value& x, const Shape& shape, const char* out_slot = "Out") {
  int64_t n = CheckedNumel(shape, "op " + ctx.Op().type);
  if (n != x.Numel()) ctx.Fail("cannot view " + ShapeString(x.shape) + " as " + ShapeString(shape));
  Value saved = x;  // Out may alias X's var in in-place programs
  Value& out = ctx.Out(out_slot, saved.dtype, shape);
  if (ctx.Dry()) return;
  if (out.data != saved.data) std::memmove(out.data, saved.data, Bytes(out));
}

// Row-major sgemm: C[M,N] = alpha * op(A) * op(B) + beta * C.
void Gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0 ? 0.f : beta * C[i * ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(M),
              static_cast<int>(N), static_cast<int>(K), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta, C,
              static_cast<int>(ldc));
}

// ---------------------------------------------------------------------------------------------
// elementwise with Paddle's axis broadcasting

Shape AlignSmall(const Shape& big, Shape small, int64_t axis, OpContext& ctx) {
  size_t rb = big.size();
  if (axis == -1 || small.size() == rb) {
    Shape out(rb - small.size(), 1);
    out.insert(out.end(), small.begin(), small.end());
    return out;
  }
  if (axis < 0) axis += static_cast<int64_t>(rb);
  while (!small.empty() && static_cast<size_t>(axis) + small.size() > rb && small.back() == 1) small.pop_back();
  if (axis < 0 || static_cast<size_t>(axis) + small.size() > rb) {
    ctx.Fail("axis " + std::to_string(axis) + " cannot align " + ShapeString(small) + " with " + ShapeString(big));
  }
  Shape out(static_cast<size_t>(axis), 1);
  out.insert(out.end(), small.begin(), small.end());
  out.resize(rb, 1);
  return out;
}

struct Bcast {
  Shape out;
  std::vector<int64_t> dims, sx, sy;  // collapsed loop nest
};

Bcast PlanBroadcast(OpContext& ctx, Shape xs, Shape ys, int64_t axis) {
  if (xs.size() > ys.size()) ys = AlignSmall(xs, ys, axis, ctx);
  else if (ys.size() > xs.size()) xs = AlignSmall(ys, xs, axis, ctx);
  Bcast b;
  size_t r = xs.size();
  b.out.resize(r);
  for (size_t i = 0; i < r; ++i) {
    if (xs[i] == ys[i] || ys[i] == 1) b.out[i] = xs[i];
    else if (xs[i] == 1) b.out[i] = ys[i];
    else ctx.Fail("shapes " + ShapeString(xs) + " and " + ShapeString(ys) + " do not broadcast");
  }
  std::vector<int64_t> stx(r), sty(r);
  int64_t ax = 1, ay = 1;
  for (size_t k = r; k-- > 0;) {
    stx[k] = xs[k] == 1 ? 0 : ax;
    sty[k] = ys[k] == 1 ? 0 : ay;
    ax *= xs[k];
    ay *= ys[k];
  }
  for (size_t i = 0; i < r; ++i) {
    if (b.out[i] == 1) continue;
    if (!b.dims.empty()) {
      bool bx_prev = b.sx.back() == 0, by_prev = b.sy.back() == 0;
      bool bx = stx[i] == 0, by = sty[i] == 0;
      if (bx == bx_prev && by == by_prev) {
        b.dims.back() *= b.out[i];
        b.sx.back() = stx[i];
        b.sy.back() = sty[i];
        continue;
      }
    }
    b.dims.push_back(b.out[i]);
    b.sx.push_back(stx[i]);
    b.sy.push_back(sty[i]);
  }
  if (b.dims.empty()) {
    b.dims.push_back(1);
    b.sx.push_back(0);
    b.sy.push_back(0);
  }
  return b;
}

template <typename T, typename R, typename Fn>
void RunBroadcast(const Bcast& b, const T* x, const T* y, R* out, Fn f) {
  size_t n = b.dims.size();
  int64_t inner = b.dims[n - 1], ix = b.sx[n - 1], iy = b.sy[n - 1];
  int64_t outer = 1;
  for (size_t i = 0; i + 1 < n; ++i) outer *= b.dims[i];
  std::vector<int64_t> idx(n, 0);
  int64_t ox = 0, oy = 0;
  for (int64_t o = 0; o < outer; ++o) {
    const T* px = x + ox;
    const T* py = y + oy;
    R* po = out + o * inner;
    if (ix == 1 && iy == 1) for (int64_t i = 0; i < inner; ++i) po[i] = f(px[i], py[i]);
    else if (ix == 1 && iy == 0) { T v = *py; for (int64_t i = 0; i < inner; ++i) po[i] = f(px[i], v); }
    else if (ix == 0 && iy == 1) { T v = *px; for (int64_t i = 0; i < inner; ++i) po[i] = f(v, py[i]); }
    else for (int64_t i = 0; i < inner; ++i) po[i] = f(px[i * ix], py[i * iy]);
    // advance the outer counter
    for (size_t d = n - 1; d-- > 0;) {
      ++idx[d];
      ox += b.sx[d];
      oy += b.sy[d];
      if (idx[d] < b.dims[d]) break;
      ox -= b.sx[d] * b.dims[d];
      oy -= b.sy[d] * b.dims[d];
      idx[d] = 0;
    }
  }
}

enum class BinOp { kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kFloorDiv, kMod };

template <typename T>
void BinaryTyped(OpContext& ctx, const Value& x, const Value& y, BinOp op, const Bcast& b) {
  Value& o = ctx.Out("Out", x.dtype, b.out);
  if (ctx.Dry()) return;
  const T* px = x.As<T>();
  const T* py = y.As<T>();
  T* po = o.As<T>();
  switch (op) {
    case BinOp::kAdd: RunBroadcast(b, px, py, po, [](T a, T c) { return a + c; }); break;
    case BinOp::kSub: RunBroadcast(b, px, py, po, [](T a, T c) { return a - c; }); break;
    case BinOp::kMul: RunBroadcast(b, px, py, po, [](T a, T c) { return a * c; }); break;
    case BinOp::kDiv:
      if constexpr (std::is_integral<T>::value) {
        RunBroadcast(b, px, py, po, [&](T a, T c) {
          if (c == 0) ctx.Fail("integer division by zero");
          return static_cast<T>(a / c);
        });
      } else {
        RunBroadcast(b, px, py, po, [](T a, T c) { return a / c; });
      }
      break;
    case BinOp::kFloorDiv:
      RunBroadcast(b, px, py, po, [&](T a, T c) {
        if constexpr (std::is_integral<T>::value) {
          if (c == 0) ctx.Fail("integer division by zero");
          T q = a / c;
          if ((a % c != 0) && ((a < 0) != (c < 0))) --q;
          return q;
        } else {
          return static_cast<T>(std::floor(a / c));
        }
      });
      break;
    case BinOp::kMod:
      RunBroadcast(b, px, py, po, [&](T a, T c) {
        if constexpr (std::is_integral<T>::value) {
          if (c == 0) ctx.Fail("integer modulo by zero");
          T m = a % c;
          if (m != 0 && ((m < 0) != (c < 0))) m += c;
          return m;
        } else {
          T m = std::fmod(a, c);
          if (m != 0 && ((m < 0) != (c < 0))) m += c;
          return m;
        }
      });
      break;
    case BinOp::kPow: RunBroadcast(b, px, py, po, [](T a, T c) { return static_cast<T>(std::pow(a, c)); }); break;
    case BinOp::kMax: RunBroadcast(b, px, py, po, [](T a, T c) { return a > c ? a : c; }); break;
    case BinOp::kMin: RunBroadcast(b, px, py, po, [](T a, T c) { return a < c ? a : c; }); break;
  }
}

void Binary(OpContext& ctx, BinOp op) {
  const Value& x = ctx.In("X");
  const Value& y = ctx.In("Y");
  if (x.dtype != y.dtype) ctx.Fail(std::string("X is ") + DTypeName(x.dtype) + " but Y is " + DTypeName(y.dtype));
  Bcast b = PlanBroadcast(ctx, x.shape, y.shape, ctx.Int("axis", -1));
  Value xs = x, ys = y;  // Out may alias an input var
  switch (x.dtype) {
    case DType::kFloat32: BinaryTyped<float>(ctx, xs, ys, op, b); break;
    case DType::kInt64: BinaryTyped<int64_t>(ctx, xs, ys, op, b); break;
    case DType::kInt32: BinaryTyped<int32_t>(ctx, xs, ys, op, b); break;
    case DType::kFloat64: BinaryTyped<double>(ctx, xs, ys, op, b); break;
    default: ctx.Fail(std::string("unsupported dtype ") + DTypeName(x.dtype));
  }
}

void AddK(OpContext& c) { Binary(c, BinOp::kAdd); }
void SubK(OpContext& c) { Binary(c, BinOp::kSub); }
void MulK(OpContext& c) { Binary(c, BinOp::kMul); }
void DivK(OpContext& c) { Binary(c, BinOp::kDiv); }
void PowK(OpContext& c) { Binary(c, BinOp::kPow); }
void MaxK(OpContext& c) { Binary(c, BinOp::kMax); }
void MinK(OpContext& c) { Binary(c, BinOp::kMin); }
void FloorDivK(OpContext& c) { Binary(c, BinOp::kFloorDiv); }
void ModK(OpContext& c) { Binary(c, BinOp::kMod); }

enum class CmpOp { kEq, kNe, kLt, kLe, kGt, kGe };

template <typename T>
void CompareTyped(OpContext& ctx, const Value& x, const Value& y, CmpOp op, const Bcast& b) {
  Value& o = ctx.Out("Out", DType::kBool, b.out);
  if (ctx.Dry()) return;
  const T* px = x.As<T>();
  const T* py = y.As<T>();
  uint8_t* po = o.As<uint8_t>();
  switch (op) {
    case CmpOp::kEq: RunBroadcast(b, px, py, po, [](T a, T c) -> uint8_t { return a == c; }); break;
    case CmpOp::kNe: RunBroadcast(b, px, py, po, [](T a, T c) -> uint8_t { return a != c; }); break;
    case CmpOp::kLt: RunBroadcast(b, px, py, po, [](T a, T c) -> uint8_t { return a < c; }); break;
    case CmpOp::kLe: RunBroadcast(b, px, py, po, [](T a, T c) -> uint8_t { return a <= c; }); break;
    case CmpOp::kGt: RunBroadcast(b, px, py, po, [](T a, T c) -> uint8_t { return a > c; }); break;
    case CmpOp::kGe: RunBroadcast(b, px, py, po, [](T a, T c) -> uint8_t { return a >= c; }); break;
  }
}

void Compare(OpContext& ctx, CmpOp op) {
  Value x = ctx.In("X"), y = ctx.In("Y");
  if (x.dtype != y.dtype) ctx.Fail(std::string("X is ") + DTypeName(x.dtype) + " but Y is " + DTypeName(y.dtype));
  Bcast b = PlanBroadcast(ctx, x.shape, y.shape, ctx.Int("axis", -1));
  switch (x.dtype) {
    case DType::kFloat32: CompareTyped<float>(ctx, x, y, op, b); break;
    case DType::kInt64: CompareTyped<int64_t>(ctx, x, y, op, b); break;
    case DType::kInt32: CompareTyped<int32_t>(ctx, x, y, op, b); break;
    case DType::kBool: CompareTyped<uint8_t>(ctx, x, y, op, b); break;
    default: ctx.Fail(std::string("unsupported dtype ") + DTypeName(x.dtype));
  }
}
void EqK(OpContext& c) { Compare(c, CmpOp::kEq); }
void NeK(OpContext& c) { Compare(c, CmpOp::kNe); }
void LtK(OpContext& c) { Compare(c, CmpOp::kLt); }
void LeK(OpContext& c) { Compare(c, CmpOp::kLe); }
void GtK(OpContext& c) { Compare(c, CmpOp::kGt); }
void GeK(OpContext& c) { Compare(c, CmpOp::kGe); }

// ---------------------------------------------------------------------------------------------
// activations

template <typename Fn>
void Unary(OpContext& ctx, Fn f) {
  Value x = ctx.In("X");
  const float* px = F32(ctx, x, "X");
  Value& o = ctx.Out("Out", DType::kFloat32, x.shape);
  if (ctx.Dry()) return;
  float* po = o.As<float>();
  int64_t n = x.Numel();
  for (int64_t i = 0; i < n; ++i) po[i] = f(px[i]);
}

void ReluK(OpContext& c) { Unary(c, [](float v) { return v > 0.f ? v : 0.f; }); }
void Relu6K(OpContext& c) {
  float t = static_cast<float>(c.Float("threshold", 6.0));
  Unary(c, [t](float v) { return std::min(std::max(v, 0.f), t); });
}
void SigmoidK(OpContext& c) { Unary(c, [](float v) { return 1.f / (1.f + std::exp(-v)); }); }
void TanhK(OpContext& c) { Unary(c, [](float v) { return std::tanh(v); }); }
void ExpK(OpContext& c) { Unary(c, [](float v) { return std::exp(v); }); }
void SqrtK(OpContext& c) { Unary(c, [](float v) { return std::sqrt(v); }); }
void RsqrtK(OpContext& c) { Unary(c, [](float v) { return 1.f / std::sqrt(v); }); }
void AbsK(OpContext& c) { Unary(c, [](float v) { return std::fabs(v); }); }
void SquareK(OpContext& c) { Unary(c, [](float v) { return v * v; }); }
void ErfK(OpContext& c) { Unary(c, [](float v) { return std::erf(v); }); }
void SiluK(OpContext& c) { Unary(c, [](float v) { return v / (1.f + std::exp(-v)); }); }
void LeakyReluK(OpContext& c) {
  float a = static_cast<float>(c.Float("alpha", 0.02));
  Unary(c, [a](float v) { return v > 0.f ? v : a * v; });
}
void GeluK(OpContext& c) {
  if (c.Bool("approximate", false)) {
    const float k = std::sqrt(2.f / static_cast<float>(M_PI));
    Unary(c, [k](float v) { return 0.5f * v * (1.f + std::tanh(k * (v + 0.044715f * v * v * v))); });
  } else {
    Unary(c, [](float v) { return 0.5f * v * (1.f + std::erf(v * static_cast<float>(M_SQRT1_2))); });
  }
}
void HardSwishK(OpContext& c) {
  float threshold = static_cast<float>(c.Float("threshold", 6.0));
  float scale = static_cast<float>(c.Float("scale", 6.0));
  float offset = static_cast<float>(c.Float("offset", 3.0));
  Unary(c, [=](float v) { return v * std::min(std::max(v + offset, 0.f), threshold) / scale; });
}
void HardSigmoidK(OpContext& c) {
  float slope = static_cast<float>(c.Float("slope", 0.2));
  float offset = static_cast<float>(c.Float("offset", 0.5));
  Unary(c, [=](float v) { return std::min(std::max(v * slope + offset, 0.f), 1.f); });
}

void ScaleK(OpContext& ctx) {
  Value x = ctx.In("X");
  double scale = ctx.Float("scale", 1.0);
  if (ctx.HasInput("ScaleTensor")) {
    const Value& s = ctx.InValue("ScaleTensor");
    if (s.Numel() != 1) ctx.Fail("ScaleTensor must hold one value");
    scale = s.dtype == DType::kFloat32 ? s.As<float>()[0] : static_cast<double>(ReadInts(ctx, s)[0]);
  }
  double bias = ctx.Float("bias", 0.0);
  bool after = ctx.Bool("bias_after_scale", true);
  Value& o = ctx.Out("Out", x.dtype, x.shape);
  if (ctx.Dry()) return;
  int64_t n = x.Numel();
  if (x.dtype == DType::kFloat32) {
    const float* px = x.As<float>();
    float* po = o.As<float>();
    float s = static_cast<float>(scale), b = static_cast<float>(bias);
    if (after) for (int64_t i = 0; i < n; ++i) po[i] = s * px[i] + b;
    else for (int64_t i = 0; i < n; ++i) po[i] = s * (px[i] + b);
  } else if (x.dtype == DType::kInt64 || x.dtype == DType::kInt32) {
    auto vals = ReadInts(ctx, x);
    for (int64_t i = 0; i < n; ++i) {
      double v = after ? scale * static_cast<double>(vals[static_cast<size_t>(i)]) + bias
                       : scale * (static_cast<double>(vals[static_cast<size_t>(i)]) + bias);
      if (x.dtype == DType::kInt64) o.As<int64_t>()[i] = SaturatingInt64(v);
      else o.As<int32_t>()[i] = SaturatingInt32(v);
    }
  } else {
    ctx.Fail(std::string("unsupported dtype ") + DTypeName(x.dtype));
  }
}

void DropoutK(OpContext& ctx) {
  Value x = ctx.In("X");
  std::string impl = ctx.Str("dropout_implementation", "downgrade_in_infer");
  const float* px = F32(ctx, x, "X");
  Value& o = ctx.Out("Out", DType::kFloat32, x.shape);
  if (ctx.Dry()) return;
  int64_t n = x.Numel();
  if (impl == "upscale_in_train") {
    if (o.data != x.data) std::memmove(o.data, px, static_cast<size_t>(n) * 4);
  } else {
    double p = ctx.Float("dropout_prob", 0.5);
    if (ctx.HasInput("P")) {
      const Value& pv = ctx.In("P");
      if (pv.dtype != DType::kFloat32 || pv.Numel() != 1) ctx.Fail("P must be one float32 value");
      p = pv.As<float>()[0];
    }
    float keep = 1.f - static_cast<float>(p);
    for (int64_t i = 0; i < n; ++i) o.As<float>()[i] = px[i] * keep;
  }
}

void AssignK(OpContext& ctx) { Value x = ctx.In("X"); CopyAs(ctx, x, x.shape); }

// ---------------------------------------------------------------------------------------------
// matrix products

void BatchedMatmul(OpContext& ctx, const Value& X, const Value& Y, bool tx, bool ty, float alpha) {
  Shape xs = X.shape, ys = Y.shape;
  const float* px = F32(ctx, X, "X");
  const float* py = F32(ctx, Y, "Y");
  if (xs.empty() || ys.empty()) ctx.Fail("0-D operands are not supported");
  bool squeeze_m = false, squeeze_n = false;
  if (xs.size() == 1) { xs = {1, xs[0]}; squeeze_m = true; tx = false; }
  if (ys.size() == 1) { ys = {ys[0], 1}; squeeze_n = true; ty = false; }
  size_t rx = xs.size(), ry = ys.size();
  int64_t M = tx ? xs[rx - 1] : xs[rx - 2];
  int64_t K = tx ? xs[rx - 2] : xs[rx - 1];
  int64_t K2 = ty ? ys[ry - 1] : ys[ry - 2];
  int64_t N = ty ? ys[ry - 2] : ys[ry - 1];
  if (K != K2) ctx.Fail("inner dimensions differ: X " + ShapeString(X.shape) + ", Y " + ShapeString(Y.shape));
  Shape xb(xs.begin(), xs.end() - 2), yb(ys.begin(), ys.end() - 2);
  size_t rb = std::max(xb.size(), yb.size());
  xb.insert(xb.begin(), rb - xb.size(), 1);
  yb.insert(yb.begin(), rb - yb.size(), 1);
  Shape ob(rb);
  for (size_t i = 0; i < rb; ++i) {
    if (xb[i] != yb[i] && xb[i] != 1 && yb[i] != 1) ctx.Fail("batch dims do not broadcast: X " + ShapeString(X.shape) + ", Y " + ShapeString(Y.shape));
    ob[i] = std::max(xb[i], yb[i]);
    if (xb[i] == 0 || yb[i] == 0) ob[i] = 0;
  }
  Shape os = ob;
  if (!squeeze_m) os.push_back(M);
  if (!squeeze_n) os.push_back(N);
  Value& out = ctx.Out("Out", DType::kFloat32, os);
  if (ctx.Dry()) return;
  float* po = out.As<float>();
  int64_t batches = CheckedNumel(ob, "matmul");
  int64_t ybn = CheckedNumel(yb, "matmul");
  int64_t lda = tx ? M : K, ldb = ty ? K : N;
  if (ybn == 1 && !tx) {  // one weight matrix: a single sgemm over all batch rows
    Gemm(false, ty, batches * M, N, K, alpha, px, lda, py, ldb, 0.f, po, N);
    return;
  }
  std::vector<int64_t> idx(rb, 0);
  for (int64_t b = 0; b < batches; ++b) {
    int64_t xo = 0, yo = 0;
    for (size_t i = 0; i < rb; ++i) {
      xo = xo * xb[i] + (xb[i] == 1 ? 0 : idx[i]);
      yo = yo * yb[i] + (yb[i] == 1 ? 0 : idx[i]);
    }
    Gemm(tx, ty, M, N, K, alpha, px + xo * M * K, lda, py + yo * K * N, ldb, 0.f, po + b * M * N, N);
    for (size_t d = rb; d-- > 0;) {
      if (++idx[d] < ob[d]) break;
      idx[d] = 0;
    }
  }
}

void MatmulV2K(OpContext& ctx) {
  Value x = ctx.In("X"), y = ctx.In("Y");
  BatchedMatmul(ctx, x, y, ctx.Bool("trans_x", false), ctx.Bool("trans_y", false), 1.f);
}

void MatmulK(OpContext& ctx) {
  Value x = ctx.In("X"), y = ctx.In("Y");
  BatchedMatmul(ctx, x, y, ctx.Bool("transpose_X", false), ctx.Bool("transpose_Y", false),
                static_cast<float>(ctx.Float("alpha", 1.0)));
}

int64_t Prod(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= s[i];
  return p;
}

void MulMatK(OpContext& ctx) {
  Value x = ctx.In("X"), y = ctx.In("Y");
  int64_t xn = ctx.Int("x_num_col_dims", 1), yn = ctx.Int("y_num_col_dims", 1);
  if (xn < 1 || static_cast<size_t>(xn) >= x.shape.size() + 1 || yn < 1 || static_cast<size_t>(yn) >= y.shape.size()) {
    ctx.Fail("bad num_col_dims for X " + ShapeString(x.shape) + ", Y " + ShapeString(y.shape));
  }
  int64_t M = Prod(x.shape, 0, static_cast<size_t>(xn)), K = Prod(x.shape, static_cast<size_t>(xn), x.shape.size());
  int64_t K2 = Prod(y.shape, 0, static_cast<size_t>(yn)), N = Prod(y.shape, static_cast<size_t>(yn), y.shape.size());
  if (K != K2) ctx.Fail("X " + ShapeString(x.shape) + " and Y " + ShapeString(y.shape) + " do not multiply");
  Shape os(x.shape.begin(), x.shape.begin() + xn);
  os.insert(os.end(), y.shape.begin() + yn, y.shape.end());
  const float* px = F32(ctx, x, "X");
  const float* py = F32(ctx, y, "Y");
  Value& o = ctx.Out("Out", DType::kFloat32, os);
  if (ctx.Dry()) return;
  Gemm(false, false, M, N, K, 1.f, px, K, py, N, 0.f, o.As<float>(), N);
}

void FcK(OpContext& ctx) {
  Value x = ctx.In("Input"), w = ctx.In("W");
  int64_t nc = ctx.Int("in_num_col_dims", 1);
  if (w.shape.size() != 2 || nc < 1 || static_cast<size_t>(nc) >= x.shape.size() + 1) ctx.Fail("bad fc shapes");
  int64_t M = Prod(x.shape, 0, static_cast<size_t>(nc)), K = Prod(x.shape, static_cast<size_t>(nc), x.shape.size());
  int64_t N = w.shape[1];
  if (K != w.shape[0]) ctx.Fail("Input " + ShapeString(x.shape) + " does not match W " + ShapeString(w.shape));
  Shape os(x.shape.begin(), x.shape.begin() + nc);
  os.push_back(N);
  const float* px = F32(ctx, x, "Input");
  const float* pw = F32(ctx, w, "W");
  const float* pb = nullptr;
  if (ctx.HasInput("Bias")) {
    const Value& b = ctx.In("Bias");
    if (b.Numel() != N) ctx.Fail("Bias " + ShapeString(b.shape) + " must have " + std::to_string(N) + " values");
    pb = F32(ctx, b, "Bias");
  }
  Value& o = ctx.Out("Out", DType::kFloat32, os);
  if (ctx.Dry()) return;
  float* po = o.As<float>();
  Gemm(false, false, M, N, K, 1.f, px, K, pw, N, 0.f, po, N);
  bool relu = ctx.Str("activation_type", "") == "relu";
  for (int64_t i = 0; i < M; ++i) {
    float* row = po + i * N;
    if (pb) for (int64_t j = 0; j < N; ++j) row[j] += pb[j];
    if (relu) for (int64_t j = 0; j < N; ++j) row[j] = row[j] > 0.f ? row[j] : 0.f;
  }
}

// ---------------------------------------------------------------------------------------------
// convolution and pooling (NCHW)

}  // namespace

// Declared in window.h.
void CheckWindowParams(OpContext& ctx, std::initializer_list<int64_t> values) {
  for (int64_t v : values) {
    if (v < 1 || v > kMaxWindowParam) ctx.Fail("stride/dilation/kernel size " + std::to_string(v) + " out of range [1, 2^24]");
  }
}

void ResolvePadding(OpContext& ctx, const std::string& algo, const std::vector<int64_t>& pads, int64_t in_h, int64_t in_w,
                    Window* h, Window* w) {
  if (algo == "SAME") {
    for (auto [win, in] : {std::pair<Window*, int64_t>{h, in_h}, {w, in_w}}) {
      int64_t out = (in + win->stride - 1) / win->stride;
      int64_t total = std::max<int64_t>((out - 1) * win->stride + win->k - in, 0);
      win->dilation = 1;
      win->pad0 = total / 2;
      win->pad1 = total - total / 2;
    }
  } else if (algo == "VALID") {
    h->pad0 = h->pad1 = w->pad0 = w->pad1 = 0;
  } else {
    if (pads.size() == 2) {
      h->pad0 = h->pad1 = pads[0];
      w->pad0 = w->pad1 = pads[1];
    } else if (pads.size() == 4) {
      h->pad0 = pads[0]; h->pad1 = pads[1]; w->pad0 = pads[2]; w->pad1 = pads[3];
    } else if (pads.empty()) {
      h->pad0 = h->pad1 = w->pad0 = w->pad1 = 0;
    } else {
      ctx.Fail("paddings must have 2 or 4 values, got " + std::to_string(pads.size()));
    }
  }
  for (Window* win : {h, w}) {
    if (win->pad0 < 0 || win->pad1 < 0 || win->pad0 > kMaxWindowParam || win->pad1 > kMaxWindowParam) ctx.Fail("padding out of range");
  }
}

namespace {

void Im2Col(const float* img, int64_t C, int64_t H, int64_t W, const Window& wh, const Window& ww, float* col) {
  int64_t OH = wh.out, OW = ww.out;
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t kh = 0; kh < wh.k; ++kh) {
      for (int64_t kw = 0; kw < ww.k; ++kw) {
        float* dst = col + ((c * wh.k + kh) * ww.k + kw) * OH * OW;
        for (int64_t oh = 0; oh < OH; ++oh) {
          int64_t ih = oh * wh.stride - wh.pad0 + kh * wh.dilation;
          float* drow = dst + oh * OW;
          if (ih < 0 || ih >= H) {
            std::fill(drow, drow + OW, 0.f);
            continue;
          }
          const float* srow = img + (c * H + ih) * W;
          for (int64_t ow = 0; ow < OW; ++ow) {
            int64_t iw = ow * ww.stride - ww.pad0 + kw * ww.dilation;
            drow[ow] = (iw >= 0 && iw < W) ? srow[iw] : 0.f;
          }
        }
      }
    }
  }
}

void Conv2dK(OpContext& ctx) {
  Value x = ctx.In("Input"), f = ctx.In("Filter");
  if (ctx.Str("data_format", "NCHW") == "NHWC") ctx.Fail("data_format NHWC is not supported (NCHW only)");
  if (x.shape.size() != 4 || f.shape.size() != 4) ctx.Fail("Input and Filter must be 4-D, got " + ShapeString(x.shape) + " and " + ShapeString(f.shape));
  const float* px = F32(ctx, x, "Input");
  const float* pf = F32(ctx, f, "Filter");
  int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  int64_t OC = f.shape[0], ICg = f.shape[1];
  int64_t groups = std::max<int64_t>(ctx.Int("groups", 1), 1);
  if (ICg * groups != C || OC % groups != 0) {
    ctx.Fail("Filter " + ShapeString(f.shape) + " with groups " + std::to_string(groups) + " does not match Input " + ShapeString(x.shape));
  }
  auto strides = ctx.Ints("strides");
  auto dil = ctx.Ints("dilations");
  Window wh{f.shape[2], strides.size() > 0 ? strides[0] : 1, dil.size() > 0 ? dil[0] : 1, 0, 0, 0};
  Window ww{f.shape[3], strides.size() > 1 ? strides[1] : wh.stride, dil.size() > 1 ? dil[1] : wh.dilation, 0, 0, 0};
  CheckWindowParams(ctx, {wh.stride, ww.stride, wh.dilation, ww.dilation, wh.k, ww.k});
  ResolvePadding(ctx, ctx.Str("padding_algorithm", "EXPLICIT"), ctx.Ints("paddings"), H, W, &wh, &ww);
  for (auto [win, in] : {std::pair<Window*, int64_t>{&wh, H}, {&ww, W}}) {
    int64_t span = win->dilation * (win->k - 1) + 1;
    win->out = (in + win->pad0 + win->pad1 - span) / win->stride + 1;
    if (in + win->pad0 + win->pad1 < span || win->out <= 0) ctx.Fail("kernel larger than the padded input " + ShapeString(x.shape));
  }
  int64_t OH = wh.out, OW = ww.out, OCg = OC / groups;
  Value& o = ctx.Out("Output", DType::kFloat32, {N, OC, OH, OW});
  float* po = o.As<float>();
  int64_t kdim = ICg * wh.k * ww.k, hw = OH * OW;
  bool pointwise = wh.k == 1 && ww.k == 1 && wh.stride == 1 && ww.stride == 1 && wh.pad0 == 0 && wh.pad1 == 0 &&
                   ww.pad0 == 0 && ww.pad1 == 0;
  if (ctx.Dry()) {
    if (!(ICg == 1 && OCg == 1 && groups > 1) && !pointwise) ctx.Scratch(static_cast<size_t>(C * wh.k * ww.k * hw));
    return;
  }
  if (ICg == 1 && OCg == 1 && groups > 1) {  // depthwise: per tap, a scaled shifted row added to each output row
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t c = 0; c < C; ++c) {
        const float* img = px + (n * C + c) * H * W;
        const float* ker = pf + c * wh.k * ww.k;
        float* dst = po + (n * OC + c) * hw;
        std::fill(dst, dst + hw, 0.f);
        for (int64_t kh = 0; kh < wh.k; ++kh) {
          for (int64_t kw = 0; kw < ww.k; ++kw) {
            const float wv = ker[kh * ww.k + kw];
            const int64_t off = kw * ww.dilation - ww.pad0;  // iw = ow * stride + off
            // output columns whose input column lies inside [0, W)
            int64_t lo = off >= 0 ? 0 : (-off + ww.stride - 1) / ww.stride;
            int64_t hi = W - 1 - off < 0 ? 0 : std::min(OW, (W - 1 - off) / ww.stride + 1);
            if (lo >= hi) continue;
            for (int64_t oh = 0; oh < OH; ++oh) {
              int64_t ih = oh * wh.stride - wh.pad0 + kh * wh.dilation;
              if (ih < 0 || ih >= H) continue;
              const float* srow = img + ih * W;  // input column of ow: ow * stride + off, in [0, W)
              float* drow = dst + oh * OW;
              if (ww.stride == 1) {
                for (int64_t ow = lo; ow < hi; ++ow) drow[ow] += wv * srow[ow + off];
              } else {
                for (int64_t ow = lo; ow < hi; ++ow) drow[ow] += wv * srow[ow * ww.stride + off];
              }
            }
          }
        }
      }
    }
    return;
  }
  float* col = pointwise ? nullptr : ctx.Scratch(static_cast<size_t>(C * wh.k * ww.k * hw));
  for (int64_t n = 0; n < N; ++n) {
    const float* img = px + n * C * H * W;
    const float* cols = img;
    if (!pointwise) {
      Im2Col(img, C, H, W, wh, ww, col);
      cols = col;
    }
    for (int64_t g = 0; g < groups; ++g) {
      Gemm(false, false, OCg, hw, kdim, 1.f, pf + g * OCg * kdim, kdim, cols + g * kdim * hw, hw, 0.f,
           po + (n * OC + g * OCg) * hw, hw);
    }
  }
}

void Pool2dK(OpContext& ctx) {
  Value x = ctx.In("X");
  if (ctx.Str("data_format", "NCHW") == "NHWC") ctx.Fail("data_format NHWC is not supported (NCHW only)");
  if (x.shape.size() != 4) ctx.Fail("X must be 4-D, got " + ShapeString(x.shape));
  const float* px = F32(ctx, x, "X");
  int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  std::string type = ctx.Str("pooling_type", "max");
  if (type != "max" && type != "avg") ctx.Fail("pooling_type must be max or avg, got " + type);
  bool is_max = type == "max";
  auto ks = IntsFrom(ctx, "ksize", "KSize", nullptr);
  if (ks.size() == 1) ks.push_back(ks[0]);
  bool global = ctx.Bool("global_pooling", false);
  bool adaptive = ctx.Bool("adaptive", false);
  bool ceil_mode = ctx.Bool("ceil_mode", false);
  bool exclusive = ctx.Bool("exclusive", true);
  auto strides = ctx.Ints("strides");
  if (global) { ks = {H, W}; adaptive = false; }
  if (ks.size() != 2) ctx.Fail("ksize must have 2 values");
  CheckWindowParams(ctx, {ks[0], ks[1]});
  Window wh{ks[0], strides.size() > 0 ? strides[0] : 1, 1, 0, 0, 0};
  Window ww{ks[1], strides.size() > 1 ? strides[1] : wh.stride, 1, 0, 0, 0};
  CheckWindowParams(ctx, {wh.stride, ww.stride, wh.k, ww.k});
  if (!global && !adaptive) ResolvePadding(ctx, ctx.Str("padding_algorithm", "EXPLICIT"), ctx.Ints("paddings"), H, W, &wh, &ww);
  if (adaptive) {
    wh.out = ks[0];
    ww.out = ks[1];
  } else {
    for (auto [win, in] : {std::pair<Window*, int64_t>{&wh, H}, {&ww, W}}) {
      int64_t span = in + win->pad0 + win->pad1 - win->k;
      if (span < 0) ctx.Fail("pooling window larger than the padded input " + ShapeString(x.shape));
      win->out = (ceil_mode ? (span + win->stride - 1) : span) / win->stride + 1;
    }
  }
  Value& o = ctx.Out("Out", DType::kFloat32, {N, C, wh.out, ww.out});
  if (ctx.Dry()) return;
  float* po = o.As<float>();
  for (int64_t nc = 0; nc < N * C; ++nc) {
    const float* img = px + nc * H * W;
    float* dst = po + nc * wh.out * ww.out;
    for (int64_t oh = 0; oh < wh.out; ++oh) {
      int64_t hs, he;
      if (adaptive) { hs = oh * H / wh.out; he = ((oh + 1) * H + wh.out - 1) / wh.out; }
      else { hs = oh * wh.stride - wh.pad0; he = std::min(hs + wh.k, H + wh.pad1); }
      int64_t hs_c = std::max<int64_t>(hs, 0), he_c = std::min(he, H);
      for (int64_t ow = 0; ow < ww.out; ++ow) {
        int64_t ws, we;
        if (adaptive) { ws = ow * W / ww.out; we = ((ow + 1) * W + ww.out - 1) / ww.out; }
        else { ws = ow * ww.stride - ww.pad0; we = std::min(ws + ww.k, W + ww.pad1); }
        int64_t ws_c = std::max<int64_t>(ws, 0), we_c = std::min(we, W);
        if (is_max) {
          float m = -std::numeric_limits<float>::infinity();
          for (int64_t ih = hs_c; ih < he_c; ++ih)
            for (int64_t iw = ws_c; iw < we_c; ++iw) m = std::max(m, img[ih * W + iw]);
          dst[oh * ww.out + ow] = m;
        } else {
          float s = 0.f;
          for (int64_t ih = hs_c; ih < he_c; ++ih)
            for (int64_t iw = ws_c; iw < we_c; ++iw) s += img[ih * W + iw];
          int64_t count = (exclusive || adaptive) ? (he_c - hs_c) * (we_c - ws_c) : wh.k * ww.k;
          dst[oh * ww.out + ow] = count > 0 ? s / static_cast<float>(count) : 0.f;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// normalisation and softmax

void BatchNormK(OpContext& ctx) {
  Value x = ctx.In("X");
  const float* px = F32(ctx, x, "X");
  const float* scale = F32(ctx, ctx.In("Scale"), "Scale");
  const float* bias = F32(ctx, ctx.In("Bias"), "Bias");
  const float* mean = F32(ctx, ctx.In("Mean"), "Mean");
  const float* var = F32(ctx, ctx.In("Variance"), "Variance");
  float eps = static_cast<float>(ctx.Float("epsilon", 1e-5));
  bool nhwc = ctx.Str("data_layout", "NCHW") == "NHWC";
  if (x.shape.size() < 2) ctx.Fail("X must have rank >= 2");
  int64_t C = nhwc ? x.shape.back() : x.shape[1];
  if (ctx.In("Scale").Numel() != C || ctx.In("Mean").Numel() != C || ctx.In("Variance").Numel() != C || ctx.In("Bias").Numel() != C) {
    ctx.Fail("per-channel parameters must have " + std::to_string(C) + " values");
  }
  std::vector<float> a(static_cast<size_t>(C)), b(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    float inv = 1.f / std::sqrt(var[c] + eps);
    a[static_cast<size_t>(c)] = scale[c] * inv;
    b[static_cast<size_t>(c)] = bias[c] - mean[c] * scale[c] * inv;
  }
  Value& o = ctx.Out("Y", DType::kFloat32, x.shape);
  if (ctx.Dry()) return;
  float* po = o.As<float>();
  int64_t n = x.Numel();
  if (nhwc) {
    for (int64_t i = 0; i < n; ++i) po[i] = px[i] * a[static_cast<size_t>(i % C)] + b[static_cast<size_t>(i % C)];
  } else {
    int64_t inner = Prod(x.shape, 2, x.shape.size()), outer = x.shape[0];
    for (int64_t o2 = 0; o2 < outer; ++o2)
      for (int64_t c = 0; c < C; ++c) {
        const float* src = px + (o2 * C + c) * inner;
        float* dst = po + (o2 * C + c) * inner;
        float ac = a[static_cast<size_t>(c)], bc = b[static_cast<size_t>(c)];
        for (int64_t i = 0; i < inner; ++i) dst[i] = src[i] * ac + bc;
      }
  }
}

void LayerNormK(OpContext& ctx) {
  Value x = ctx.In("X");
  const float* px = F32(ctx, x, "X");
  int64_t axis = NormAxis(ctx, ctx.Int("begin_norm_axis", 1), x.shape.size(), "begin_norm_axis");
  float eps = static_cast<float>(ctx.Float("epsilon", 1e-5));
  int64_t outer = Prod(x.shape, 0, static_cast<size_t>(axis)), inner = Prod(x.shape, static_cast<size_t>(axis), x.shape.size());
  const float* scale = nullptr;
  const float* bias = nullptr;
  if (ctx.HasInput("Scale")) {
    if (ctx.In("Scale").Numel() != inner) ctx.Fail("Scale must have " + std::to_string(inner) + " values");
    scale = F32(ctx, ctx.In("Scale"), "Scale");
  }
  if (ctx.HasInput("Bias")) {
    if (ctx.In("Bias").Numel() != inner) ctx.Fail("Bias must have " + std::to_string(inner) + " values");
    bias = F32(ctx, ctx.In("Bias"), "Bias");
  }
  Value& o = ctx.Out("Y", DType::kFloat32, x.shape);
  if (ctx.Dry()) return;
  float* po = o.As<float>();
  for (int64_t r = 0; r < outer; ++r) {
    const float* src = px + r * inner;
    float* dst = po + r * inner;
    double sum = 0;
    for (int64_t i = 0; i < inner; ++i) sum += src[i];
    double mean = sum / static_cast<double>(inner);
    double sq = 0;
    for (int64_t i = 0; i < inner; ++i) { double d = src[i] - mean; sq += d * d; }
    float inv = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(inner) + eps));
    float m = static_cast<float>(mean);
    for (int64_t i = 0; i < inner; ++i) {
      float v = (src[i] - m) * inv;
      if (scale) v *= scale[i];
      if (bias) v += bias[i];
      dst[i] = v;
    }
  }
}

void SoftmaxK(OpContext& ctx) {
  Value x = ctx.In("X");
  const float* px = F32(ctx, x, "X");
  if (x.shape.empty()) ctx.Fail("0-D input");
  int64_t axis = NormAxis(ctx, ctx.Int("axis", -1), x.shape.size());
  int64_t outer = Prod(x.shape, 0, static_cast<size_t>(axis)), dim = x.shape[static_cast<size_t>(axis)];
  int64_t inner = Prod(x.shape, static_cast<size_t>(axis) + 1, x.shape.size());
  Value& o = ctx.Out("Out", DType::kFloat32, x.shape);
  if (ctx.Dry()) return;
  float* po = o.As<float>();
  for (int64_t a = 0; a < outer; ++a) {
    for (int64_t i = 0; i < inner; ++i) {
      const float* src = px + a * dim * inner + i;
      float* dst = po + a * dim * inner + i;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t d = 0; d < dim; ++d) m = std::max(m, src[d * inner]);
      float s = 0.f;
      for (int64_t d = 0; d < dim; ++d) { float e = std::exp(src[d * inner] - m); dst[d * inner] = e; s += e; }
      float inv = 1.f / s;
      for (int64_t d = 0; d < dim; ++d) dst[d * inner] *= inv;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// shape manipulation

void Reshape2K(OpContext& ctx) {
  Value x = ctx.In("X");
  std::vector<int64_t> target = IntsFrom(ctx, "shape", "Shape", "ShapeTensor");
  Shape out;
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t d = target[i];
    if (d == 0) {
      if (i >= x.shape.size()) ctx.Fail("0 at position " + std::to_string(i) + " has no input dim to copy");
      d = x.shape[i];
    } else if (d == -1) {
      if (infer >= 0) ctx.Fail("more than one -1 in shape");
      infer = static_cast<int64_t>(i);
      out.push_back(1);
      continue;
    } else if (d < 0) {
      ctx.Fail("invalid dim " + std::to_string(d) + " in shape");
    }
    out.push_back(d);
    if (d != 0 && known > kMaxTensorElements / d) ctx.Fail("shape too large");
    known *= d;
  }
  int64_t n = x.Numel();
  if (infer >= 0) {
    if (known == 0 || n % known != 0) ctx.Fail("cannot reshape " + ShapeString(x.shape) + " to " + ShapeString(Shape(target)));
    out[static_cast<size_t>(infer)] = n / known;
  }
  CopyAs(ctx, x, out);
}

void FlattenK(OpContext& ctx) {
  Value x = ctx.In("X");
  size_t r = x.shape.size();
  if (r == 0) { CopyAs(ctx, x, {1}); return; }
  int64_t s = NormAxis(ctx, ctx.Int("start_axis", 1), r, "start_axis");
  int64_t e = NormAxis(ctx, ctx.Int("stop_axis", -1), r, "stop_axis");
  if (s > e) ctx.Fail("start_axis after stop_axis");
  Shape out(x.shape.begin(), x.shape.begin() + s);
  out.push_back(Prod(x.shape, static_cast<size_t>(s), static_cast<size_t>(e) + 1));
  out.insert(out.end(), x.shape.begin() + e + 1, x.shape.end());
  CopyAs(ctx, x, out);
}

void Flatten2K(OpContext& ctx) {  // legacy flatten2: axis splits into 2 dims
  Value x = ctx.In("X");
  int64_t axis = ctx.Int("axis", 1);
  if (axis < 0 || static_cast<size_t>(axis) > x.shape.size()) ctx.Fail("axis out of range");
  CopyAs(ctx, x, {Prod(x.shape, 0, static_cast<size_t>(axis)), Prod(x.shape, static_cast<size_t>(axis), x.shape.size())});
}

void Unsqueeze2K(OpContext& ctx) {
  Value x = ctx.In("X");
  auto axes = IntsFrom(ctx, "axes", "AxesTensor", "AxesTensorList");
  Shape out = x.shape;
  for (int64_t a : axes) {
    int64_t r = static_cast<int64_t>(out.size());
    if (a < -(r + 1) || a > r) ctx.Fail("axis " + std::to_string(a) + " out of range");
    if (a < 0) a += r + 1;
    out.insert(out.begin() + a, 1);
    if (out.size() > static_cast<size_t>(kMaxRank)) ctx.Fail("rank above 8");
  }
  CopyAs(ctx, x, out);
}

void Squeeze2K(OpContext& ctx) {
  Value x = ctx.In("X");
  auto axes = IntsFrom(ctx, "axes", "AxesTensor", nullptr);
  size_t r = x.shape.size();
  std::vector<bool> drop(r, false);
  if (axes.empty()) {
    for (size_t i = 0; i < r; ++i) drop[i] = x.shape[i] == 1;
  } else {
    for (int64_t a : axes) {
      int64_t k = NormAxis(ctx, a, r);
      if (x.shape[static_cast<size_t>(k)] == 1) drop[static_cast<size_t>(k)] = true;
    }
  }
  Shape out;
  for (size_t i = 0; i < r; ++i)
    if (!drop[i]) out.push_back(x.shape[i]);
  CopyAs(ctx, x, out);
}

// Strided copy of a box [start, start+out) of `in` (element size `es`).
void CopyBox(const uint8_t* src, const Shape& in, const std::vector<int64_t>& start, const std::vector<int64_t>& step,
             const Shape& out, size_t es, uint8_t* dst) {
  size_t r = in.size();
  if (r == 0) { std::memcpy(dst, src, es); return; }
  std::vector<int64_t> stride(r);
  int64_t acc = 1;
  for (size_t k = r; k-- > 0;) { stride[k] = acc; acc *= in[k]; }
  int64_t inner = out[r - 1];
  int64_t outer = 1;
  for (size_t k = 0; k + 1 < r; ++k) outer *= out[k];
  if (inner == 0 || outer == 0) return;
  std::vector<int64_t> idx(r, 0);
  for (int64_t o = 0; o < outer; ++o) {
    int64_t off = 0;
    for (size_t k = 0; k + 1 < r; ++k) off += (start[k] + idx[k] * step[k]) * stride[k];
    off += start[r - 1];
    if (step[r - 1] == 1) {
      std::memcpy(dst, src + off * static_cast<int64_t>(es), static_cast<size_t>(inner) * es);
      dst += static_cast<size_t>(inner) * es;
    } else {
      for (int64_t i = 0; i < inner; ++i) {
        std::memcpy(dst, src + (off + i * step[r - 1]) * static_cast<int64_t>(es), es);
        dst += es;
      }
    }
    for (size_t k = r - 1; k-- > 0;) {
      if (++idx[k] < out[k]) break;
      idx[k] = 0;
    }
  }
}

void Transpose2K(OpContext& ctx) {
  Value x = ctx.In("X");
  auto perm = ctx.Ints("axis");
  size_t r = x.shape.size();
  if (perm.size() != r) ctx.Fail("axis has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(r));
  std::vector<bool> seen(r, false);
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t p = NormAxis(ctx, perm[i], r);
    if (seen[static_cast<size_t>(p)]) ctx.Fail("axis is not a permutation");
    seen[static_cast<size_t>(p)] = true;
    perm[i] = p;
    out[i] = x.shape[static_cast<size_t>(p)];
  }
  size_t es = DTypeSize(x.dtype);
  Value& o = ctx.Out("Out", x.dtype, out);
  if (ctx.Dry()) return;
  if (r == 0) { std::memcpy(o.data, x.data, es); return; }
  std::vector<int64_t> in_stride(r);
  int64_t acc = 1;
  for (size_t k = r; k-- > 0;) { in_stride[k] = acc; acc *= x.shape[k]; }
  std::vector<int64_t> src_stride(r);
  for (size_t i = 0; i < r; ++i) src_stride[i] = in_stride[static_cast<size_t>(perm[i])];
  int64_t total = o.Numel();
  if (total == 0) return;
  const uint8_t* src = static_cast<const uint8_t*>(x.data);
  uint8_t* dst = static_cast<uint8_t*>(o.data);
  int64_t inner = out[r - 1], sinner = src_stride[r - 1];
  std::vector<int64_t> idx(r, 0);
  int64_t off = 0;
  for (int64_t o2 = 0; o2 < total / inner; ++o2) {
    if (sinner == 1) {
      std::memcpy(dst, src + off * static_cast<int64_t>(es), static_cast<size_t>(inner) * es);
    } else if (es == 4) {
      const float* s4 = reinterpret_cast<const float*>(src) + off;
      float* d4 = reinterpret_cast<float*>(dst);
      for (int64_t i = 0; i < inner; ++i) d4[i] = s4[i * sinner];
    } else {
      for (int64_t i = 0; i < inner; ++i) std::memcpy(dst + i * static_cast<int64_t>(es), src + (off + i * sinner) * static_cast<int64_t>(es), es);
    }
    dst += static_cast<size_t>(inner) * es;
    for (size_t k = r - 1; k-- > 0;) {
      off += src_stride[k];
      if (++idx[k] < out[k]) break;
      off -= src_stride[k] * out[k];
      idx[k] = 0;
    }
  }
}

void ConcatK(OpContext& ctx) {
  size_t n = ctx.InputCount("X");
  if (n == 0) ctx.Fail("no inputs");
  std::vector<Value> xs;
  for (size_t i = 0; i < n; ++i) xs.push_back(ctx.In("X", i));
  int64_t axis = ctx.Int("axis", 0);
  if (ctx.HasInput("AxisTensor")) axis = FirstInt(ctx, ctx.InValue("AxisTensor"), "AxisTensor");
  size_t r = xs[0].shape.size();
  axis = NormAxis(ctx, axis, r);
  Shape out = xs[0].shape;
  out[static_cast<size_t>(axis)] = 0;
  for (const auto& v : xs) {
    if (v.shape.size() != r || v.dtype != xs[0].dtype) ctx.Fail("inputs differ in rank or dtype");
    for (size_t k = 0; k < r; ++k)
      if (k != static_cast<size_t>(axis) && v.shape[k] != xs[0].shape[k]) ctx.Fail("inputs differ outside the concat axis: " + ShapeString(v.shape) + " vs " + ShapeString(xs[0].shape));
    out[static_cast<size_t>(axis)] += v.shape[static_cast<size_t>(axis)];
  }
  size_t es = DTypeSize(xs[0].dtype);
  Value& o = ctx.Out("Out", xs[0].dtype, out);
  if (ctx.Dry()) return;
  int64_t outer = Prod(out, 0, static_cast<size_t>(axis));
  int64_t inner = Prod(out, static_cast<size_t>(axis) + 1, r);
  uint8_t* dst = static_cast<uint8_t*>(o.data);
  for (int64_t a = 0; a < outer; ++a) {
    for (const auto& v : xs) {
      size_t chunk = static_cast<size_t>(v.shape[static_cast<size_t>(axis)] * inner) * es;
      std::memcpy(dst, static_cast<const uint8_t*>(v.data) + static_cast<size_t>(a) * chunk, chunk);
      dst += chunk;
    }
  }
}

void SplitK(OpContext& ctx) {
  Value x = ctx.In("X");
  int64_t axis = ctx.Int("axis", 0);
  if (ctx.HasInput("AxisTensor")) axis = FirstInt(ctx, ctx.InValue("AxisTensor"), "AxisTensor");
  size_t r = x.shape.size();
  axis = NormAxis(ctx, axis, r);
  int64_t dim = x.shape[static_cast<size_t>(axis)];
  auto sections = IntsFrom(ctx, "sections", "SectionsTensor", "SectionsTensorList");
  int64_t num = ctx.Int("num", 0);
  size_t outs = ctx.OutputCount("Out");
  if (sections.empty()) {
    if (num <= 0) num = static_cast<int64_t>(outs);
    if (num <= 0 || dim % num != 0) ctx.Fail("dim " + std::to_string(dim) + " does not split into " + std::to_string(num));
    sections.assign(static_cast<size_t>(num), dim / num);
  } else {
    int64_t known = 0, unknown = -1;
    for (size_t i = 0; i < sections.size(); ++i) {
      if (sections[i] == -1) { if (unknown >= 0) ctx.Fail("two -1 sections"); unknown = static_cast<int64_t>(i); }
      else if (sections[i] < 0 || sections[i] > dim) ctx.Fail("section " + std::to_string(sections[i]) + " out of range for dim " + std::to_string(dim));
      else known += sections[i];
    }
    if (unknown >= 0) sections[static_cast<size_t>(unknown)] = dim - known;
    if (std::accumulate(sections.begin(), sections.end(), int64_t{0}) != dim || (unknown >= 0 && dim < known)) ctx.Fail("sections do not sum to " + std::to_string(dim));
  }
  if (sections.size() != outs) ctx.Fail(std::to_string(sections.size()) + " sections for " + std::to_string(outs) + " outputs");
  size_t es = DTypeSize(x.dtype);
  int64_t outer = Prod(x.shape, 0, static_cast<size_t>(axis));
  int64_t inner = Prod(x.shape, static_cast<size_t>(axis) + 1, r);
  int64_t offset = 0;
  for (size_t i = 0; i < sections.size(); ++i) {
    Shape os = x.shape;
    os[static_cast<size_t>(axis)] = sections[i];
    Value& o = ctx.Out("Out", i, x.dtype, os);
    if (ctx.Dry()) continue;
    size_t chunk = static_cast<size_t>(sections[i] * inner) * es;
    for (int64_t a = 0; a < outer; ++a) {
      std::memcpy(static_cast<uint8_t*>(o.data) + static_cast<size_t>(a) * chunk,
                  static_cast<const uint8_t*>(x.data) + (static_cast<size_t>(a * dim + offset) * static_cast<size_t>(inner)) * es, chunk);
    }
    offset += sections[i];
  }
}

void SliceK(OpContext& ctx) {
  Value x = ctx.In("Input");
  auto axes = ctx.Ints("axes");
  auto starts = IntsFrom(ctx, "starts", "StartsTensor", "StartsTensorList");
  auto ends = IntsFrom(ctx, "ends", "EndsTensor", "EndsTensorList");
  auto decrease = ctx.Ints("decrease_axis");
  if (starts.size() != axes.size() || ends.size() != axes.size()) ctx.Fail("axes, starts and ends differ in length");
  size_t r = x.shape.size();
  std::vector<int64_t> st(r, 0), step(r, 1);
  Shape out = x.shape;
  for (size_t i = 0; i < axes.size(); ++i) {
    size_t a = static_cast<size_t>(NormAxis(ctx, axes[i], r));
    int64_t d = x.shape[a];
    int64_t s = starts[i], e = ends[i];
    if (s < 0) s += d;
    if (e < 0) e += d;
    s = std::min(std::max<int64_t>(s, 0), d);
    e = std::min(std::max<int64_t>(e, 0), d);
    st[a] = s;
    out[a] = std::max<int64_t>(e - s, 0);
  }
  Shape final_shape;
  std::vector<bool> drop(r, false);
  for (int64_t a : decrease) {
    size_t k = static_cast<size_t>(NormAxis(ctx, a, r));
    if (out[k] != 1) ctx.Fail("decrease_axis " + std::to_string(a) + " has size " + std::to_string(out[k]) + ", not 1");
    drop[k] = true;
  }
  for (size_t k = 0; k < r; ++k)
    if (!drop[k]) final_shape.push_back(out[k]);
  Value& o = ctx.Out("Out", x.dtype, final_shape);
  if (ctx.Dry()) return;
  CopyBox(static_cast<const uint8_t*>(x.data), x.shape, st, step, out, DTypeSize(x.dtype), static_cast<uint8_t*>(o.data));
}

template <typename S, typename D>
void CastLoop(const void* src, void* dst, int64_t n) {
  const S* s = static_cast<const S*>(src);
  D* d = static_cast<D*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (std::is_same<D, uint8_t>::value) d[i] = s[i] != 0;
    else if constexpr (std::is_floating_point<S>::value && std::is_same<D, int64_t>::value) d[i] = SaturatingInt64(s[i]);
    else if constexpr (std::is_floating_point<S>::value && std::is_same<D, int32_t>::value) d[i] = SaturatingInt32(s[i]);
    else if constexpr (std::is_same<S, double>::value && std::is_same<D, float>::value) d[i] = static_cast<D>(s[i]);
    else d[i] = static_cast<D>(s[i]);
  }
}

template <typename S>
void CastFrom(OpContext& ctx, const Value& x, Value& o) {
  int64_t n = x.Numel();
  switch (o.dtype) {
    case DType::kFloat32: CastLoop<S, float>(x.data, o.data, n); break;
    case DType::kFloat64: CastLoop<S, double>(x.data, o.data, n); break;
    case DType::kInt64: CastLoop<S, int64_t>(x.data, o.data, n); break;
    case DType::kInt32: CastLoop<S, int32_t>(x.data, o.data, n); break;
    case DType::kBool: CastLoop<S, uint8_t>(x.data, o.data, n); break;
    default: ctx.Fail(std::string("cannot cast to ") + DTypeName(o.dtype));
  }
}

DType AttrDType(OpContext& ctx, const char* name, DType def) {
  if (!ctx.HasAttr(name)) return def;
  int64_t v = ctx.Int(name, 5);
  if (v < 0) return def;
  DType t = static_cast<DType>(v);
  if (t != DType::kFloat32 && t != DType::kFloat64 && t != DType::kInt64 && t != DType::kInt32 && t != DType::kBool) {
    ctx.Fail(std::string(name) + " " + std::to_string(v) + " is not a supported data type");
  }
  return t;
}

void CastK(OpContext& ctx) {
  Value x = ctx.In("X");
  DType to = AttrDType(ctx, "out_dtype", DType::kFloat32);
  Value& o = ctx.Out("Out", to, x.shape);
  if (ctx.Dry()) return;
  switch (x.dtype) {
    case DType::kFloat32: CastFrom<float>(ctx, x, o); break;
    case DType::kFloat64: CastFrom<double>(ctx, x, o); break;
    case DType::kInt64: CastFrom<int64_t>(ctx, x, o); break;
    case DType::kInt32: CastFrom<int32_t>(ctx, x, o); break;
    case DType::kBool: CastFrom<uint8_t>(ctx, x, o); break;
    default: ctx.Fail(std::string("cannot cast from ") + DTypeName(x.dtype));
  }
}

void FillConstantK(OpContext& ctx) {
  DType t = AttrDType(ctx, "dtype", DType::kFloat32);
  auto dims = IntsFrom(ctx, "shape", "ShapeTensor", "ShapeTensorList");
  double value = ctx.Float("value", 0.0);
  std::string sv = ctx.Str("str_value", "");
  if (!sv.empty()) {
    char* end = nullptr;
    value = std::strtod(sv.c_str(), &end);
    if (end == sv.c_str()) ctx.Fail("str_value \"" + sv + "\" is not a number");
  }
  if (ctx.HasInput("ValueTensor")) {
    const Value& v = ctx.InValue("ValueTensor");
    if (v.Numel() == 0) ctx.Fail("ValueTensor is empty (expected one value)");
    value = v.dtype == DType::kFloat32 ? v.As<float>()[0] : static_cast<double>(ReadInts(ctx, v)[0]);
  }
  Value& o = ctx.Out("Out", t, Shape(dims.begin(), dims.end()));
  if (ctx.Dry()) return;
  int64_t n = o.Numel();
  switch (t) {
    case DType::kFloat32: std::fill(o.As<float>(), o.As<float>() + n, static_cast<float>(value)); break;
    case DType::kFloat64: std::fill(o.As<double>(), o.As<double>() + n, value); break;
    case DType::kInt64: std::fill(o.As<int64_t>(), o.As<int64_t>() + n, SaturatingInt64(value)); break;
    case DType::kInt32: std::fill(o.As<int32_t>(), o.As<int32_t>() + n, SaturatingInt32(value)); break;
    case DType::kBool: std::fill(o.As<uint8_t>(), o.As<uint8_t>() + n, static_cast<uint8_t>(value != 0)); break;
    default: ctx.Fail("unsupported dtype");
  }
}

void ShapeK(OpContext& ctx) {
  Value x = ctx.In("Input");
  Shape xs = x.shape;
  if (ctx.Bool("out_int64", false)) {  // PIR shape64
    Value& o = ctx.Out("Out", DType::kInt64, {static_cast<int64_t>(xs.size())});
    if (ctx.Dry()) return;
    for (size_t i = 0; i < xs.size(); ++i) o.As<int64_t>()[i] = xs[i];
    return;
  }
  Value& o = ctx.Out("Out", DType::kInt32, {static_cast<int64_t>(xs.size())});
  if (ctx.Dry()) return;
  for (size_t i = 0; i < xs.size(); ++i) o.As<int32_t>()[i] = static_cast<int32_t>(xs[i]);
}

void LookupTableV2K(OpContext& ctx) {
  Value ids = ctx.In("Ids"), w = ctx.In("W");
  if (w.shape.size() != 2) ctx.Fail("W must be 2-D, got " + ShapeString(w.shape));
  const float* pw = F32(ctx, w, "W");
  int64_t V = w.shape[0], D = w.shape[1];
  int64_t pad = ctx.Int("padding_idx", -1);
  if (pad < -1) pad += V;
  Shape os = ids.shape;
  if (ctx.Op().type == "lookup_table" && !os.empty() && os.back() == 1) os.pop_back();
  os.push_back(D);
  Value& o = ctx.Out("Out", DType::kFloat32, os);
  if (ctx.Dry()) return;
  auto idv = ReadInts(ctx, ids);
  float* po = o.As<float>();
  for (size_t i = 0; i < idv.size(); ++i) {
    int64_t id = idv[i];
    if (id == pad && pad >= 0) {
      std::fill(po + static_cast<int64_t>(i) * D, po + static_cast<int64_t>(i + 1) * D, 0.f);
      continue;
    }
    if (id < 0 || id >= V) ctx.Fail("id " + std::to_string(id) + " at position " + std::to_string(i) + " is outside the table [0, " + std::to_string(V) + ")");
    std::memcpy(po + static_cast<int64_t>(i) * D, pw + id * D, static_cast<size_t>(D) * 4);
  }
}

void ReduceK(OpContext& ctx, bool mean) {
  Value x = ctx.In("X");
  const float* px = F32(ctx, x, "X");
  size_t r = x.shape.size();
  auto dims = ctx.Ints("dim");
  bool all = ctx.Bool("reduce_all", false) || dims.empty();
  bool keep = ctx.Bool("keep_dim", false);
  std::vector<bool> red(r, all);
  for (int64_t d : dims) red[static_cast<size_t>(NormAxis(ctx, d, r))] = true;
  Shape out, kept;
  for (size_t k = 0; k < r; ++k) {
    if (red[k]) { if (keep) out.push_back(1); }
    else out.push_back(x.shape[k]);
    kept.push_back(red[k] ? 1 : x.shape[k]);
  }
  Value& o = ctx.Out("Out", DType::kFloat32, out);
  if (ctx.Dry()) return;
  int64_t on = o.Numel();
  std::vector<double> acc(static_cast<size_t>(on), 0.0);
  std::vector<int64_t> stride(r);
  int64_t a = 1;
  for (size_t k = r; k-- > 0;) { stride[k] = a; a *= kept[k]; }
  int64_t n = x.Numel();
  std::vector<int64_t> idx(r, 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (size_t k = 0; k < r; ++k) off += red[k] ? 0 : idx[k] * stride[k];
    acc[static_cast<size_t>(off)] += px[i];
    for (size_t k = r; k-- > 0;) { if (++idx[k] < x.shape[k]) break; idx[k] = 0; }
  }
  double cnt = on ? static_cast<double>(n) / static_cast<double>(on) : 1.0;
  for (int64_t i = 0; i < on; ++i) o.As<float>()[i] = static_cast<float>(mean ? acc[static_cast<size_t>(i)] / cnt : acc[static_cast<size_t>(i)]);
}
void ReduceMeanK(OpContext& c) { ReduceK(c, true); }
void ReduceSumK(OpContext& c) { ReduceK(c, false); }

double ScalarOf(OpContext& ctx, const char* slot) {
  const Value& v = ctx.InValue(slot);
  if (v.Numel() != 1) ctx.Fail(std::string(slot) + " must hold one value, has shape " + ShapeString(v.shape));
  switch (v.dtype) {
    case DType::kFloat32: return v.As<float>()[0];
    case DType::kFloat64: return v.As<double>()[0];
    case DType::kInt64: return static_cast<double>(v.As<int64_t>()[0]);
    case DType::kInt32: return v.As<int32_t>()[0];
    default: ctx.Fail(std::string(slot) + " has unsupported dtype " + DTypeName(v.dtype));
  }
}

void RangeK(OpContext& ctx) {
  DType t = ctx.In("Start").dtype;
  if (ctx.HasAttr("dtype")) t = AttrDType(ctx, "dtype", t);
  double start = ScalarOf(ctx, "Start"), end = ScalarOf(ctx, "End"), step = ScalarOf(ctx, "Step");
  if (step == 0 || !std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step)) ctx.Fail("step must be non-zero and bounds finite");
  double count = std::ceil((end - start) / step);
  if (count < 0) count = 0;
  if (count > static_cast<double>(kMaxTensorElements)) ctx.Fail("range of " + std::to_string(count) + " elements is too large");
  int64_t n = static_cast<int64_t>(count);
  Value& o = ctx.Out("Out", t, {n});
  if (ctx.Dry()) return;
  for (int64_t i = 0; i < n; ++i) {
    double v = start + static_cast<double>(i) * step;
    switch (t) {
      case DType::kFloat32: o.As<float>()[i] = static_cast<float>(v); break;
      case DType::kFloat64: o.As<double>()[i] = v; break;
      case DType::kInt64: o.As<int64_t>()[i] = SaturatingInt64(v); break;
      case DType::kInt32: o.As<int32_t>()[i] = SaturatingInt32(v); break;
      default: ctx.Fail("unsupported range dtype");
    }
  }
}

void AssignValueK(OpContext& ctx) {
  DType t = AttrDType(ctx, "dtype", DType::kFloat32);
  auto shape = ctx.Ints("shape");
  Value& o = ctx.Out("Out", t, Shape(shape.begin(), shape.end()));
  int64_t n = o.Numel();
  if (ctx.Dry()) return;
  auto ints = ctx.HasAttr("int64_values") ? ctx.Ints("int64_values") : ctx.Ints("int32_values");
  auto floats = ctx.Floats("fp32_values");
  bool use_floats = !ctx.HasAttr("int64_values") && !ctx.HasAttr("int32_values");
  size_t have = use_floats ? floats.size() : ints.size();
  if (static_cast<int64_t>(have) != n) ctx.Fail("has " + std::to_string(have) + " values for shape " + ShapeString(o.shape));
  for (int64_t i = 0; i < n; ++i) {
    double v = use_floats ? floats[static_cast<size_t>(i)] : static_cast<double>(ints[static_cast<size_t>(i)]);
    switch (t) {
      case DType::kFloat32: o.As<float>()[i] = static_cast<float>(v); break;
      case DType::kInt64: o.As<int64_t>()[i] = use_floats ? SaturatingInt64(v) : ints[static_cast<size_t>(i)]; break;
      case DType::kInt32: o.As<int32_t>()[i] = SaturatingInt32(v); break;
      case DType::kBool: o.As<uint8_t>()[i] = v != 0; break;
      default: ctx.Fail("unsupported dtype");
    }
  }
}

// The kernels of this file (all of them honour ctx.Dry()).
const std::map<std::string, KernelFn>& CoreKernels() {
  static const std::map<std::string, KernelFn> table = {
      {"elementwise_add", AddK}, {"elementwise_sub", SubK}, {"elementwise_mul", MulK}, {"elementwise_div", DivK},
      {"elementwise_pow", PowK}, {"elementwise_max", MaxK}, {"elementwise_min", MinK},
      {"elementwise_floordiv", FloorDivK}, {"elementwise_mod", ModK},
      {"equal", EqK}, {"not_equal", NeK}, {"less_than", LtK}, {"less_equal", LeK}, {"greater_than", GtK},
      {"greater_equal", GeK},
      {"relu", ReluK}, {"relu6", Relu6K}, {"sigmoid", SigmoidK}, {"tanh", TanhK}, {"gelu", GeluK},
      {"hard_swish", HardSwishK}, {"hard_sigmoid", HardSigmoidK}, {"leaky_relu", LeakyReluK}, {"silu", SiluK},
      {"swish", SiluK}, {"exp", ExpK}, {"sqrt", SqrtK}, {"rsqrt", RsqrtK}, {"abs", AbsK}, {"square", SquareK}, {"erf", ErfK},
      {"softmax", SoftmaxK}, {"scale", ScaleK}, {"dropout", DropoutK}, {"assign", AssignK},
      {"matmul", MatmulK}, {"matmul_v2", MatmulV2K}, {"mul", MulMatK}, {"fc", FcK},
      {"conv2d", Conv2dK}, {"depthwise_conv2d", Conv2dK}, {"pool2d", Pool2dK}, {"batch_norm", BatchNormK},
      {"layer_norm", LayerNormK},
      {"flatten_contiguous_range", FlattenK}, {"flatten2", Flatten2K}, {"reshape2", Reshape2K}, {"transpose2", Transpose2K},
      {"unsqueeze2", Unsqueeze2K}, {"squeeze2", Squeeze2K}, {"concat", ConcatK}, {"split", SplitK}, {"slice", SliceK},
      {"cast", CastK}, {"fill_constant", FillConstantK}, {"shape", ShapeK}, {"lookup_table_v2", LookupTableV2K},
      {"lookup_table", LookupTableV2K}, {"reduce_mean", ReduceMeanK}, {"reduce_sum", ReduceSumK},
      {"range", RangeK}, {"assign_value", AssignValueK},
  };
  return table;
}

}  // namespace

const std::map<std::string, KernelFn>& KernelTable() {
  static const std::map<std::string, KernelFn> table = [] {
    KernelMap t = CoreKernels();
    AddExtraKernels(&t);  // ops_*.cc (their shape-only ones: ExtraSupportsShapeOnly)
    return t;
  }();
  return table;
}

bool SupportsShapeOnly(KernelFn fn) {
  // Every kernel in this file checks ctx.Dry() after making its outputs.
  static const std::set<KernelFn> audited = [] {
    std::set<KernelFn> s;
    for (const auto& k : CoreKernels()) s.insert(k.second);
    return s;
  }();
  return audited.count(fn) != 0 || IsDnnlKernel(fn) || IsNlpKernel(fn) || ExtraSupportsShapeOnly(fn);
}

std::string SupportedOpList() {
  std::string out = "feed, fetch";
  for (const auto& k : KernelTable()) out += ", " + k.first;
  return out;
}

}  // namespace paddle_native
