// Upsampling ops: bilinear_interp_v2, nearest_interp_v2, bicubic_interp_v2 (NCHW) and
// linear_interp_v2 (NCW) (the output size from SizeTensor, OutSize, Scale or the attributes,
// in Paddle's order of precedence, and Paddle's source-index arithmetic: align_corners,
// align_mode, the cubic convolution with A = -0.75) and conv2d_transpose /
// depthwise_conv2d_transpose (gemm + col2im, groups, dilations, EXPLICIT/SAME/VALID padding,
// output_padding and output_size).
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "errors.h"
#include "ops_registry.h"
#include "ops_util.h"

namespace paddle_native {

namespace {

struct InterpPlan {
  int64_t out_h = -1, out_w = -1;
  float ratio_h = 0.f, ratio_w = 0.f;
};

// 2-D (H, W) or, for linear_interp_v2 on [N, C, W], 1-D: H is then 1 and every size or scale
// source holds the one W value.
InterpPlan PlanInterp(OpContext& ctx, int64_t in_h, int64_t in_w, bool align_corners, bool one_d) {
  InterpPlan p;
  const size_t n = one_d ? 1 : 2;
  p.out_h = one_d ? 1 : ctx.Int("out_h", -1);
  p.out_w = ctx.Int("out_w", -1);
  float scale_h = -1.f, scale_w = -1.f;
  if (ctx.HasInput("Scale")) {
    const Value& s = ctx.InValue("Scale");
    scale_h = static_cast<float>(ops::ScalarAt(s, 0));
    scale_w = static_cast<float>(s.Numel() > 1 && !one_d ? ops::ScalarAt(s, 1) : scale_h);
  } else {
    auto sc = ctx.Floats("scale");
    if (sc.size() == 1 || (one_d && !sc.empty())) scale_h = scale_w = static_cast<float>(sc[0]);
    else if (sc.size() >= 2) { scale_h = static_cast<float>(sc[0]); scale_w = static_cast<float>(sc[1]); }
  }
  if (scale_h > 0.f && scale_w > 0.f) {
    if (!one_d) p.out_h = static_cast<int64_t>(static_cast<float>(in_h) * scale_h);
    p.out_w = static_cast<int64_t>(static_cast<float>(in_w) * scale_w);
  }
  if (one_d) scale_h = -1.f;
  auto take = [&](const std::vector<int64_t>& v, const char* what) {
    if (v.size() != n) ctx.Fail(std::string(what) + " must hold " + std::to_string(n) + " values");
    if (!one_d) p.out_h = v[0];
    p.out_w = v[n - 1];
  };
  if (ctx.HasInput("OutSize")) take(ops::Ints(ctx, ctx.InValue("OutSize")), "OutSize");
  if (ctx.InputCount("SizeTensor") > 0) take(ops::IntList(ctx, "", nullptr, "SizeTensor"), "SizeTensor");
  if (p.out_h <= 0 || p.out_w <= 0 || p.out_h > (int64_t{1} << 20) || p.out_w > (int64_t{1} << 20)) {
    ctx.Fail("output size " + std::to_string(p.out_h) + "x" + std::to_string(p.out_w) + " is not positive or too large");
  }
  auto ratio = [&](int64_t in, int64_t out, float scale) {
    if (out <= 1) return 0.f;
    if (align_corners) return static_cast<float>(in - 1) / static_cast<float>(out - 1);
    return scale > 0.f ? static_cast<float>(1. / scale) : static_cast<float>(in) / static_cast<float>(out);
  };
  p.ratio_h = ratio(in_h, p.out_h, scale_h);
  p.ratio_w = ratio(in_w, p.out_w, scale_w);
  return p;
}

// Paddle's cubic convolution weights (A = -0.75) for the 4 taps around a fraction t.
void CubicWeights(float t, float w[4]) {
  const float A = -0.75f;
  auto near = [A](float x) { return ((A + 2) * x - (A + 3)) * x * x + 1; };
  auto far = [A](float x) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; };
  w[0] = far(t + 1.f);
  w[1] = near(t);
  w[2] = near(1.f - t);
  w[3] = far(2.f - t);
}

// bicubic_interp_v2: source index ratio * k (align_corners) or ratio * (k + 0.5) - 0.5, taps
// at floor - 1 .. floor + 2 clamped to the edge, rows interpolated first, then columns.
void Bicubic(const float* in, float* po, int64_t NC, int64_t H, int64_t W, const InterpPlan& p, bool align_corners) {
  auto src = [&](int64_t k, float ratio) {
    const float fk = static_cast<float>(k);
    return align_corners ? ratio * fk : ratio * (fk + 0.5f) - 0.5f;
  };
  for (int64_t nc = 0; nc < NC; ++nc) {
    const float* img = in + nc * H * W;
    float* dst = po + nc * p.out_h * p.out_w;
    for (int64_t i = 0; i < p.out_h; ++i) {
      const float sy = src(i, p.ratio_h);
      const int64_t y0 = static_cast<int64_t>(std::floor(sy));
      float wy[4];
      CubicWeights(sy - static_cast<float>(y0), wy);
      for (int64_t j = 0; j < p.out_w; ++j) {
        const float sx = src(j, p.ratio_w);
        const int64_t x0 = static_cast<int64_t>(std::floor(sx));
        float wx[4];
        CubicWeights(sx - static_cast<float>(x0), wx);
        float rows[4];
        for (int64_t a = 0; a < 4; ++a) {
          const float* line = img + std::clamp<int64_t>(y0 - 1 + a, 0, H - 1) * W;
          float v = 0.f;
          for (int64_t b = 0; b < 4; ++b) v += line[std::clamp<int64_t>(x0 - 1 + b, 0, W - 1)] * wx[b];
          rows[a] = v;
        }
        dst[i * p.out_w + j] = rows[0] * wy[0] + rows[1] * wy[1] + rows[2] * wy[2] + rows[3] * wy[3];
      }
    }
  }
}

enum class InterpMode { kNearest, kLinear, kBicubic };

// NCHW (or, for linear_interp_v2, NCW: a 1-row image).
void Interp(OpContext& ctx, InterpMode mode, bool one_d) {
  const Value x = ctx.In("X");
  const float* px = ops::F32(ctx, x, "X");
  const size_t rank = one_d ? 3 : 4;
  if (x.shape.size() != rank) ctx.Fail("input must be " + std::to_string(rank) + "-D, got " + ShapeString(x.shape));
  std::string layout = ctx.Str("data_layout", ctx.Str("data_format", "NCHW"));
  if (layout != "NCHW" && layout != "NCW" && layout != "AnyLayout") ctx.Fail("data layout " + layout + " is not supported (NCHW / NCW only)");
  const bool align_corners = ctx.Bool("align_corners", false);
  const int64_t align_mode = ctx.Int("align_mode", 1);
  const int64_t N = x.shape[0], C = x.shape[1], H = one_d ? 1 : x.shape[2], W = x.shape[rank - 1];
  InterpPlan p = PlanInterp(ctx, H, W, align_corners, one_d);
  // Inputs stay valid while the op runs: an output that overwrites a live variable gets a
  // fresh slab (executor.cc), so nothing is copied here.
  const float* in = px;
  Value& o = ctx.Out("Out", DType::kFloat32, one_d ? Shape{N, C, p.out_w} : Shape{N, C, p.out_h, p.out_w});
  if (ctx.Dry()) return;
  float* po = o.As<float>();
  if (mode == InterpMode::kBicubic) {
    Bicubic(in, po, N * C, H, W, p, align_corners);
    return;
  }
  if (mode == InterpMode::kNearest) {
    std::vector<int64_t> ys(static_cast<size_t>(p.out_h)), xs(static_cast<size_t>(p.out_w));
    for (int64_t k = 0; k < p.out_h; ++k) {
      int64_t v = align_corners ? static_cast<int64_t>(p.ratio_h * static_cast<float>(k) + 0.5f) : static_cast<int64_t>(p.ratio_h * static_cast<float>(k));
      ys[static_cast<size_t>(k)] = std::min(v, H - 1);
    }
    for (int64_t k = 0; k < p.out_w; ++k) {
      int64_t v = align_corners ? static_cast<int64_t>(p.ratio_w * static_cast<float>(k) + 0.5f) : static_cast<int64_t>(p.ratio_w * static_cast<float>(k));
      xs[static_cast<size_t>(k)] = std::min(v, W - 1);
    }
    for (int64_t nc = 0; nc < N * C; ++nc) {
      const float* src = in + nc * H * W;
      float* dst = po + nc * p.out_h * p.out_w;
      for (int64_t i = 0; i < p.out_h; ++i)
        for (int64_t j = 0; j < p.out_w; ++j) dst[i * p.out_w + j] = src[ys[static_cast<size_t>(i)] * W + xs[static_cast<size_t>(j)]];
    }
    return;
  }
  const bool align_flag = align_mode == 0 && !align_corners;
  struct Tap {
    int64_t lo, hi;
    float d_lo, d_hi;  // d_lo: distance from lo (weight of hi), d_hi = 1 - d_lo
  };
  auto taps = [&](int64_t out, int64_t in_size, float ratio) {
    std::vector<Tap> t(static_cast<size_t>(out));
    for (int64_t k = 0; k < out; ++k) {
      float fk = static_cast<float>(k);
      int64_t lo = align_flag ? static_cast<int64_t>(ratio * (fk + 0.5f) - 0.5f) : static_cast<int64_t>(ratio * fk);
      lo = lo > 0 ? lo : 0;
      int64_t hi = (lo + 1) < (in_size - 1) ? (lo + 1) : (in_size - 1);
      float src = ratio * (fk + 0.5f) - 0.5f;
      src = src > 0 ? src : 0;
      float d = align_flag ? src - static_cast<float>(lo) : ratio * fk - static_cast<float>(lo);
      t[static_cast<size_t>(k)] = Tap{lo, hi, d, 1.f - d};
    }
    return t;
  };
  auto ty = taps(p.out_h, H, p.ratio_h), tx = taps(p.out_w, W, p.ratio_w);
  for (int64_t nc = 0; nc < N * C; ++nc) {
    const float* src = in + nc * H * W;
    float* dst = po + nc * p.out_h * p.out_w;
    for (int64_t i = 0; i < p.out_h; ++i) {
      const Tap& a = ty[static_cast<size_t>(i)];
      for (int64_t j = 0; j < p.out_w; ++j) {
        const Tap& b = tx[static_cast<size_t>(j)];
        // Paddle: in(n, w) * d_s * d_e + in(s, w) * d_n * d_e + in(n, e) * d_s * d_w + in(s, e) * d_n * d_w
        dst[i * p.out_w + j] = src[a.lo * W + b.lo] * a.d_hi * b.d_hi + src[a.hi * W + b.lo] * a.d_lo * b.d_hi +
                               src[a.lo * W + b.hi] * a.d_hi * b.d_lo + src[a.hi * W + b.hi] * a.d_lo * b.d_lo;
      }
    }
  }
}
void BilinearK(OpContext& c) { Interp(c, InterpMode::kLinear, false); }
void LinearK(OpContext& c) { Interp(c, InterpMode::kLinear, true); }
void BicubicK(OpContext& c) { Interp(c, InterpMode::kBicubic, false); }
void NearestK(OpContext& c) { Interp(c, InterpMode::kNearest, false); }

void ConvTransposeK(OpContext& ctx) {
  const Value x = ctx.In("Input");
  const Value w = ctx.In("Filter");
  const float* px = ops::F32(ctx, x, "Input");
  const float* pw = ops::F32(ctx, w, "Filter");
  std::string layout = ctx.Str("data_format", "NCHW");
  if (layout != "NCHW" && layout != "AnyLayout") ctx.Fail("data_format " + layout + " is not supported (NCHW only)");
  if (x.shape.size() != 4 || w.shape.size() != 4) ctx.Fail("Input and Filter must be 4-D");
  const int64_t N = x.shape[0], Cin = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t groups = std::max<int64_t>(ctx.Int("groups", 1), 1);
  if (w.shape[0] != Cin || Cin % groups != 0) ctx.Fail("Filter " + ShapeString(w.shape) + " does not fit Input " + ShapeString(x.shape));
  const int64_t Cout_g = w.shape[1], Cout = Cout_g * groups, KH = w.shape[2], KW = w.shape[3], Cin_g = Cin / groups;
  auto strides = ctx.Ints("strides"), pads = ctx.Ints("paddings"), dil = ctx.Ints("dilations");
  if (strides.size() < 2) strides = {1, 1};
  if (dil.size() < 2) dil = {1, 1};
  if (strides[0] < 1 || strides[1] < 1 || dil[0] < 1 || dil[1] < 1) ctx.Fail("strides and dilations must be >= 1");
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;
  if (pads.size() == 2) { pt = pb = pads[0]; pl = pr = pads[1]; }
  else if (pads.size() == 4) { pt = pads[0]; pb = pads[1]; pl = pads[2]; pr = pads[3]; }
  std::string algo = ctx.Str("padding_algorithm", "EXPLICIT");
  if (algo == "VALID") {
    pt = pb = pl = pr = 0;
  } else if (algo == "SAME") {
    auto same = [](int64_t in, int64_t k, int64_t s, int64_t* a, int64_t* b) {
      int64_t out = (in + s - 1) / s;
      int64_t sum = std::max<int64_t>((out - 1) * s + k - in, 0);
      *a = sum / 2;
      *b = sum - *a;
    };
    same(H, KH, strides[0], &pt, &pb);
    same(W, KW, strides[1], &pl, &pr);
    dil = {1, 1};
  }
  int64_t OH = (H - 1) * strides[0] - pt - pb + dil[0] * (KH - 1) + 1;
  int64_t OW = (W - 1) * strides[1] - pl - pr + dil[1] * (KW - 1) + 1;
  std::vector<int64_t> out_size;
  if (ctx.HasInput("OutputSize")) out_size = ops::Ints(ctx, ctx.InValue("OutputSize"));
  if (out_size.empty()) out_size = ctx.Ints("output_size");
  auto out_pad = ctx.Ints("output_padding");
  if (out_size.size() == 2) {
    if (out_size[0] < OH || out_size[1] < OW || out_size[0] >= OH + strides[0] || out_size[1] >= OW + strides[1]) {
      ctx.Fail("output_size " + ShapeString(out_size) + " does not fit the computed " + std::to_string(OH) + "x" + std::to_string(OW));
    }
    OH = out_size[0];
    OW = out_size[1];
  } else if (out_pad.size() == 2) {
    OH += out_pad[0];
    OW += out_pad[1];
  }
  if (OH <= 0 || OW <= 0) ctx.Fail("output size " + std::to_string(OH) + "x" + std::to_string(OW) + " is not positive");
  Value& o = ctx.Out("Output", DType::kFloat32, {N, Cout, OH, OW});
  const int64_t rows = Cout_g * KH * KW, HW = H * W;
  float* col = ctx.Scratch(static_cast<size_t>(rows * HW));
  if (ctx.Dry()) return;
  float* po = o.As<float>();
  std::memset(po, 0, static_cast<size_t>(o.Numel()) * sizeof(float));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t g = 0; g < groups; ++g) {
      // col[Cout_g*KH*KW, H*W] = W_g^T [rows, Cin_g] * X_g [Cin_g, H*W]
      const float* xg = px + (n * Cin + g * Cin_g) * HW;
      const float* wg = pw + g * Cin_g * rows;
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(rows), static_cast<int>(HW), static_cast<int>(Cin_g), 1.f, wg,
                  static_cast<int>(rows), xg, static_cast<int>(HW), 0.f, col, static_cast<int>(HW));
      float* og = po + (n * Cout + g * Cout_g) * OH * OW;
      for (int64_t c = 0; c < Cout_g; ++c)
        for (int64_t ki = 0; ki < KH; ++ki)
          for (int64_t kj = 0; kj < KW; ++kj) {
            const float* cr = col + ((c * KH + ki) * KW + kj) * HW;
            float* oc = og + c * OH * OW;
            for (int64_t i = 0; i < H; ++i) {
              int64_t oy = i * strides[0] - pt + ki * dil[0];
              if (oy < 0 || oy >= OH) continue;
              for (int64_t j = 0; j < W; ++j) {
                int64_t ox = j * strides[1] - pl + kj * dil[1];
                if (ox >= 0 && ox < OW) oc[oy * OW + ox] += cr[i * W + j];
              }
            }
          }
    }
  }
}

}  // namespace

void AddInterpKernels(KernelMap* table) {
  (*table)["bilinear_interp_v2"] = BilinearK;
  (*table)["nearest_interp_v2"] = NearestK;
  (*table)["linear_interp_v2"] = LinearK;
  (*table)["bicubic_interp_v2"] = BicubicK;
  (*table)["conv2d_transpose"] = ConvTransposeK;
  (*table)["depthwise_conv2d_transpose"] = ConvTransposeK;
}

}  // namespace paddle_native
