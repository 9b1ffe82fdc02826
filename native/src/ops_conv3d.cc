// conv3d (NCDHW): volumetric convolution as vol2col + one OpenBLAS sgemm per sample and group,
// with Paddle's padding rules (3 or 6 paddings, EXPLICIT / SAME / VALID), strides, dilations
// and groups. The bias of paddle.nn.Conv3D is a separate elementwise add in the exported graph.
// Not oneDNN: the graph passes hand oneDNN only 2-D convolutions (their folded batch norm and
// blocked layouts); a 3-D convolution is rare enough in the zoo that a direct kernel keeps the
// plan caches 2-D only.
#include <cblas.h>

#include <algorithm>
#include <cstring>

#include "errors.h"
#include "ops_registry.h"
#include "ops_util.h"

namespace paddle_native {

namespace {

struct Axis3 {
  int64_t in, k, stride, dil, pad0, pad1, out;
};

void Conv3dK(OpContext& ctx) {
  const Value x = ctx.In("Input");
  const Value w = ctx.In("Filter");
  const float* px = ops::F32(ctx, x, "Input");
  const float* pw = ops::F32(ctx, w, "Filter");
  const std::string layout = ctx.Str("data_format", "NCDHW");
  if (layout != "NCDHW" && layout != "AnyLayout") ctx.Fail("data_format " + layout + " is not supported (NCDHW only)");
  if (x.shape.size() != 5 || w.shape.size() != 5) ctx.Fail("Input and Filter must be 5-D, got " + ShapeString(x.shape) + " and " + ShapeString(w.shape));
  const int64_t N = x.shape[0], Cin = x.shape[1];
  const int64_t groups = ctx.Int("groups", 1);
  const int64_t Cout = w.shape[0], Cin_g = w.shape[1];
  if (groups < 1 || Cout % groups != 0 || Cin_g * groups != Cin) {
    ctx.Fail("Filter " + ShapeString(w.shape) + " with groups " + std::to_string(groups) + " does not fit Input " + ShapeString(x.shape));
  }
  auto strides = ctx.Ints("strides"), pads = ctx.Ints("paddings"), dil = ctx.Ints("dilations");
  if (strides.empty()) strides = {1, 1, 1};
  if (dil.empty()) dil = {1, 1, 1};
  if (strides.size() != 3 || dil.size() != 3) ctx.Fail("strides and dilations must hold 3 values");
  if (pads.empty()) pads = {0, 0, 0};
  if (pads.size() == 3) pads = {pads[0], pads[0], pads[1], pads[1], pads[2], pads[2]};
  if (pads.size() != 6) ctx.Fail("paddings must hold 3 or 6 values, got " + std::to_string(pads.size()));
  const std::string algo = ctx.Str("padding_algorithm", "EXPLICIT");
  Axis3 ax[3];
  for (size_t k = 0; k < 3; ++k) {
    Axis3& a = ax[k];
    a = {x.shape[2 + k], w.shape[2 + k], strides[k], dil[k], pads[2 * k], pads[2 * k + 1], 0};
    if (a.stride < 1 || a.dil < 1 || a.k < 1) ctx.Fail("stride/dilation/kernel size " + std::to_string(std::min({a.stride, a.dil, a.k})) + " out of range");
    if (a.pad0 < 0 || a.pad1 < 0) ctx.Fail("negative padding");
    if (algo == "VALID") {
      a.pad0 = a.pad1 = 0;
    } else if (algo == "SAME") {  // Paddle: the output is ceil(in / stride), dilation 1
      a.dil = 1;
      const int64_t out = (a.in + a.stride - 1) / a.stride;
      const int64_t sum = std::max<int64_t>((out - 1) * a.stride + a.k - a.in, 0);
      a.pad0 = sum / 2;
      a.pad1 = sum - a.pad0;
    }
    const int64_t span = a.dil * (a.k - 1) + 1;
    if (a.in + a.pad0 + a.pad1 < span) ctx.Fail("kernel larger than the padded input " + ShapeString(x.shape));
    a.out = (a.in + a.pad0 + a.pad1 - span) / a.stride + 1;
  }
  Value& o = ctx.Out("Output", DType::kFloat32, {N, Cout, ax[0].out, ax[1].out, ax[2].out});
  const int64_t K = Cin_g * ax[0].k * ax[1].k * ax[2].k;  // rows of the column matrix
  const int64_t S = ax[0].out * ax[1].out * ax[2].out;    // output positions per channel
  const int64_t in_vol = ax[0].in * ax[1].in * ax[2].in, Cout_g = Cout / groups;
  float* col = ctx.Scratch(static_cast<size_t>(K * S));
  if (ctx.Dry() || o.Numel() == 0) return;
  float* po = o.As<float>();
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t g = 0; g < groups; ++g) {
      // col[(c, kd, kh, kw), (od, oh, ow)] = the input under each filter tap (0 in the padding)
      const float* xg = px + (n * Cin + g * Cin_g) * in_vol;
      float* row = col;
      for (int64_t c = 0; c < Cin_g; ++c)
        for (int64_t kd = 0; kd < ax[0].k; ++kd)
          for (int64_t kh = 0; kh < ax[1].k; ++kh)
            for (int64_t kw = 0; kw < ax[2].k; ++kw, row += S) {
              float* r = row;
              for (int64_t od = 0; od < ax[0].out; ++od) {
                const int64_t id = od * ax[0].stride - ax[0].pad0 + kd * ax[0].dil;
                for (int64_t oh = 0; oh < ax[1].out; ++oh) {
                  const int64_t ih = oh * ax[1].stride - ax[1].pad0 + kh * ax[1].dil;
                  const bool inside = id >= 0 && id < ax[0].in && ih >= 0 && ih < ax[1].in;
                  const float* line = inside ? xg + ((c * ax[0].in + id) * ax[1].in + ih) * ax[2].in : nullptr;
                  for (int64_t ow = 0; ow < ax[2].out; ++ow) {
                    const int64_t iw = ow * ax[2].stride - ax[2].pad0 + kw * ax[2].dil;
                    *r++ = inside && iw >= 0 && iw < ax[2].in ? line[iw] : 0.f;
                  }
                }
              }
            }
      // out[Cout_g, S] = W_g [Cout_g, K] * col [K, S]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(Cout_g), static_cast<int>(S), static_cast<int>(K), 1.f,
                  pw + g * Cout_g * K, static_cast<int>(K), col, static_cast<int>(S), 0.f, po + (n * Cout + g * Cout_g) * S, static_cast<int>(S));
    }
  }
}

}  // namespace

void AddConv3dKernels(KernelMap* table) { (*table)["conv3d"] = Conv3dK; }

}  // namespace paddle_native
