// Upsampling ops: bilinear_interp_v2, nearest_interp_v2, bicubic_interp_v2 (NCHW or NHWC),
// linear_interp_v2 (NCW or NWC) and trilinear_interp_v2 (NCDHW or NDHWC) (the output size from
// SizeTensor, OutSize, Scale or the attributes,
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

// Output sizes and source-index ratios of the spatial dims, depth (D) / height (H) / width (W):
// `nd` of them are real (1: linear_interp_v2, W only; 2: H and W; 3: trilinear, D, H and W);
// the others have size 1.
struct InterpPlan {
  int64_t out_d = 1, out_h = 1, out_w = -1;
  float ratio_d = 0.f, ratio_h = 0.f, ratio_w = 0.f;
};

InterpPlan PlanInterp(OpContext& ctx, const int64_t in[3], bool align_corners, size_t nd) {
  InterpPlan p;
  int64_t* out[3] = {&p.out_d, &p.out_h, &p.out_w};
  const char* attrs[3] = {"out_d", "out_h", "out_w"};
  const size_t first = 3 - nd;  // the first real dim of D, H, W
  for (size_t k = first; k < 3; ++k) *out[k] = ctx.Int(attrs[k], -1);
  // Paddle's precedence: SizeTensor, else OutSize over the scale over the attributes (the
  // scale, when given, also sets the source-index ratio).
  float scale[3] = {-1.f, -1.f, -1.f};
  auto take = [&](const std::vector<int64_t>& v, const char* what) {
    if (v.size() != nd) ctx.Fail(std::string(what) + " must hold " + std::to_string(nd) + " values");
    for (size_t k = first; k < 3; ++k) *out[k] = v[k - first];
  };
  if (ctx.InputCount("SizeTensor") > 0) {
    take(ops::IntList(ctx, "", nullptr, "SizeTensor"), "SizeTensor");
  } else {
    if (ctx.HasInput("Scale")) {
      const Value& s = ctx.InValue("Scale");
      if (s.Numel() < 1) ctx.Fail("Scale is empty");
      for (size_t k = first; k < 3; ++k) {
        const int64_t at = s.Numel() > 1 && nd > 1 ? static_cast<int64_t>(k - first) : 0;
        if (at >= s.Numel()) ctx.Fail("Scale must hold 1 or " + std::to_string(nd) + " values");
        scale[k] = static_cast<float>(ops::ScalarAt(s, at));
      }
    } else {
      auto sc = ctx.Floats("scale");
      if (sc.size() == 1 || (nd == 1 && !sc.empty())) {
        for (size_t k = first; k < 3; ++k) scale[k] = static_cast<float>(sc[0]);
      } else if (sc.size() >= nd) {
        for (size_t k = first; k < 3; ++k) scale[k] = static_cast<float>(sc[k - first]);
      }
    }
    bool scaled = true;
    for (size_t k = first; k < 3; ++k) scaled = scaled && scale[k] > 0.f;
    if (scaled) {
      for (size_t k = first; k < 3; ++k) *out[k] = static_cast<int64_t>(static_cast<float>(in[k]) * scale[k]);
    }
    if (ctx.HasInput("OutSize")) take(ops::Ints(ctx, ctx.InValue("OutSize")), "OutSize");
  }
  for (size_t k = first; k < 3; ++k) {
    if (*out[k] <= 0 || *out[k] > (int64_t{1} << 20)) {
      ctx.Fail(std::string("output size ") + attrs[k] + " = " + std::to_string(*out[k]) + " is not positive or too large");
    }
  }
  auto ratio = [&](int64_t in_size, int64_t out_size, float s) {
    if (out_size <= 1) return 0.f;
    if (align_corners) return static_cast<float>(in_size - 1) / static_cast<float>(out_size - 1);
    return s > 0.f ? static_cast<float>(1. / s) : static_cast<float>(in_size) / static_cast<float>(out_size);
  };
  p.ratio_d = ratio(in[0], p.out_d, scale[0]);
  p.ratio_h = ratio(in[1], p.out_h, scale[1]);
  p.ratio_w = ratio(in[2], p.out_w, scale[2]);
  return p;
}

// Where element (n, c, d, h, w) of an image batch lies, for channel-first (NC[D][H]W) or
// channel-last (N[D][H]WC) data: offset n * n + c * c + d * d + h * h + w * w.
struct Strides {
  int64_t n, c, d, h, w;
};

Strides StridesOf(int64_t C, int64_t D, int64_t H, int64_t W, bool channel_last) {
  if (channel_last) return {D * H * W * C, 1, H * W * C, W * C, C};
  return {C * D * H * W, D * H * W, H * W, W, 1};
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

// bicubic_interp_v2 on one image (D = 1): source index ratio * k (align_corners) or
// ratio * (k + 0.5) - 0.5, taps at floor - 1 .. floor + 2 clamped to the edge, rows
// interpolated first, then columns.
void Bicubic(const float* img, const Strides& si, int64_t H, int64_t W, float* dst, const Strides& so, const InterpPlan& p, bool align_corners) {
  auto src = [&](int64_t k, float ratio) {
    const float fk = static_cast<float>(k);
    return align_corners ? ratio * fk : ratio * (fk + 0.5f) - 0.5f;
  };
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
        const float* line = img + std::clamp<int64_t>(y0 - 1 + a, 0, H - 1) * si.h;
        float v = 0.f;
        for (int64_t b = 0; b < 4; ++b) v += line[std::clamp<int64_t>(x0 - 1 + b, 0, W - 1) * si.w] * wx[b];
        rows[a] = v;
      }
      dst[i * so.h + j * so.w] = rows[0] * wy[0] + rows[1] * wy[1] + rows[2] * wy[2] + rows[3] * wy[3];
    }
  }
}

// Paddle's source indices of a nearest-neighbour resize along one dim.
std::vector<int64_t> NearestIndex(int64_t out, int64_t in_size, float ratio, bool align_corners) {
  std::vector<int64_t> v(static_cast<size_t>(out));
  for (int64_t k = 0; k < out; ++k) {
    const float f = ratio * static_cast<float>(k);
    v[static_cast<size_t>(k)] = std::min(static_cast<int64_t>(align_corners ? f + 0.5f : f), in_size - 1);
  }
  return v;
}

// Paddle's two source taps of a linear resize along one dim, and their weights.
struct Tap {
  int64_t lo, hi;
  float d_lo, d_hi;  // d_lo: distance from lo (weight of hi), d_hi = 1 - d_lo (weight of lo)
};

std::vector<Tap> LinearTaps(int64_t out, int64_t in_size, float ratio, bool align_flag) {
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
}

enum class InterpMode { kNearest, kLinear, kBicubic };

// `nd` spatial dims (1: NCW / NWC, 2: NCHW / NHWC, 3: NCDHW / NDHWC); each (n, c) image is
// resized on its own, reading and writing through the layout's strides.
void Interp(OpContext& ctx, InterpMode mode, size_t nd) {
  const Value x = ctx.In("X");
  const float* in = ops::F32(ctx, x, "X");
  const size_t rank = nd + 2;
  if (x.shape.size() != rank) ctx.Fail("input must be " + std::to_string(rank) + "-D, got " + ShapeString(x.shape));
  const std::string layout = ctx.Str("data_layout", ctx.Str("data_format", "NCHW"));
  const bool channel_last = layout == "NHWC" || layout == "NWC" || layout == "NDHWC";
  if (!channel_last && layout != "NCHW" && layout != "NCW" && layout != "NCDHW" && layout != "AnyLayout") {
    ctx.Fail("data layout " + layout + " is not supported (NC[D][H]W or N[D][H]WC)");
  }
  const bool align_corners = ctx.Bool("align_corners", false);
  const int64_t align_mode = ctx.Int("align_mode", 1);
  const int64_t N = x.shape[0], C = channel_last ? x.shape[rank - 1] : x.shape[1];
  int64_t size[3] = {1, 1, 1};  // D, H, W
  for (size_t k = 0; k < nd; ++k) size[3 - nd + k] = x.shape[channel_last ? 1 + k : 2 + k];
  const int64_t D = size[0], H = size[1], W = size[2];
  if (D <= 0 || H <= 0 || W <= 0) ctx.Fail("input " + ShapeString(x.shape) + " has an empty spatial dim");
  InterpPlan p = PlanInterp(ctx, size, align_corners, nd);
  Shape out_shape{N};
  if (!channel_last) out_shape.push_back(C);
  const int64_t out_size[3] = {p.out_d, p.out_h, p.out_w};
  for (size_t k = 3 - nd; k < 3; ++k) out_shape.push_back(out_size[k]);
  if (channel_last) out_shape.push_back(C);
  // Inputs stay valid while the op runs: an output that overwrites a live variable gets a
  // fresh slab (executor.cc), so nothing is copied here.
  Value& o = ctx.Out("Out", DType::kFloat32, out_shape);
  if (ctx.Dry()) return;
  float* po = o.As<float>();
  const Strides si = StridesOf(C, D, H, W, channel_last), so = StridesOf(C, p.out_d, p.out_h, p.out_w, channel_last);
  if (mode == InterpMode::kBicubic) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) Bicubic(in + n * si.n + c * si.c, si, H, W, po + n * so.n + c * so.c, so, p, align_corners);
    return;
  }
  // Stores value(src, t, i, j) at every output element (t, i, j) of every (n, c) image.
  auto each_output = [&](auto value) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) {
        const float* src = in + n * si.n + c * si.c;
        float* dst = po + n * so.n + c * so.c;
        for (int64_t t = 0; t < p.out_d; ++t)
          for (int64_t i = 0; i < p.out_h; ++i)
            for (int64_t j = 0; j < p.out_w; ++j) dst[t * so.d + i * so.h + j * so.w] = value(src, t, i, j);
      }
  };
  auto at = [](const auto& v, int64_t k) { return v[static_cast<size_t>(k)]; };
  if (mode == InterpMode::kNearest) {
    auto zs = NearestIndex(p.out_d, D, p.ratio_d, align_corners), ys = NearestIndex(p.out_h, H, p.ratio_h, align_corners),
         xs = NearestIndex(p.out_w, W, p.ratio_w, align_corners);
    each_output([&](const float* src, int64_t t, int64_t i, int64_t j) { return src[at(zs, t) * si.d + at(ys, i) * si.h + at(xs, j) * si.w]; });
    return;
  }
  const bool align_flag = align_mode == 0 && !align_corners;
  auto tz = LinearTaps(p.out_d, D, p.ratio_d, align_flag), ty = LinearTaps(p.out_h, H, p.ratio_h, align_flag),
       tx = LinearTaps(p.out_w, W, p.ratio_w, align_flag);
  each_output([&](const float* src, int64_t t, int64_t i, int64_t j) {
    const Tap &z = at(tz, t), &a = at(ty, i), &b = at(tx, j);
    // Paddle: in(n, w) * d_s * d_e + in(s, w) * d_n * d_e + in(n, e) * d_s * d_w + in(s, e) * d_n * d_w,
    // and in 3-D the same per depth tap (front, back), front first.
    auto plane = [&](int64_t zi) {
      const float* s = src + zi * si.d;
      return s[a.lo * si.h + b.lo * si.w] * a.d_hi * b.d_hi + s[a.hi * si.h + b.lo * si.w] * a.d_lo * b.d_hi +
             s[a.lo * si.h + b.hi * si.w] * a.d_hi * b.d_lo + s[a.hi * si.h + b.hi * si.w] * a.d_lo * b.d_lo;
    };
    return nd == 3 ? plane(z.lo) * z.d_hi + plane(z.hi) * z.d_lo : plane(0);
  });
}
void BilinearK(OpContext& c) { Interp(c, InterpMode::kLinear, 2); }
void LinearK(OpContext& c) { Interp(c, InterpMode::kLinear, 1); }
void TrilinearK(OpContext& c) { Interp(c, InterpMode::kLinear, 3); }
void BicubicK(OpContext& c) { Interp(c, InterpMode::kBicubic, 2); }
// nearest_interp_v2 takes 3-D, 4-D and 5-D inputs.
void NearestK(OpContext& c) {
  const size_t rank = c.In("X").shape.size();
  Interp(c, InterpMode::kNearest, rank >= 3 && rank <= 5 ? rank - 2 : 2);
}

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
  (*table)["trilinear_interp_v2"] = TrilinearK;
  (*table)["conv2d_transpose"] = ConvTransposeK;
  (*table)["depthwise_conv2d_transpose"] = ConvTransposeK;
}

}  // namespace paddle_native
