// The fused `rnn` op (paddle.nn.LSTM / GRU / SimpleRNN export it): time-major input
// [T, N, I], multi-layer, optionally bidirectional, optional per-sequence lengths.
// Matches Paddle's CPU kernel: weights are the cudnn layout (every layer and direction's
// W_ih, W_hh first, then every b_ih, b_hh), gates as paddle.nn's cells compute them
// (LSTM i, f, g, o; GRU r, z, c with the reset gate applied after the hidden matmul), and
// steps at or past a sequence's length leave the state unchanged and output zeros (the
// reverse direction therefore starts at each sequence's own last step).
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "errors.h"
#include "ops_registry.h"

namespace paddle_native {

namespace {

float Sigmoid(float v) { return 1.f / (1.f + std::exp(-v)); }

// C[M, N] = A[M, K] * B[N, K]^T + bias[N] (bias broadcast over rows).
void MatMulBT(const float* A, const float* B, const float* bias, int64_t M, int64_t N, int64_t K, float* C) {
  for (int64_t i = 0; i < M; ++i) std::memcpy(C + i * N, bias, static_cast<size_t>(N) * sizeof(float));
  if (M == 0 || N == 0 || K == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), 1.f, A,
              static_cast<int>(K), B, static_cast<int>(K), 1.f, C, static_cast<int>(N));
}

const float* Weight(OpContext& ctx, size_t i, const Shape& want) {
  const Value& w = ctx.In("WeightList", i);
  if (w.dtype != DType::kFloat32) ctx.Fail("WeightList[" + std::to_string(i) + "] must be float32");
  if (w.shape != want) ctx.Fail("WeightList[" + std::to_string(i) + "] has shape " + ShapeString(w.shape) + ", expected " + ShapeString(want));
  return w.As<float>();
}

void RnnK(OpContext& ctx) {
  const Value x = ctx.In("Input");
  const std::string mode = ctx.Str("mode", "LSTM");
  const int64_t G = mode == "LSTM" ? 4 : mode == "GRU" ? 3 : (mode == "RNN_TANH" || mode == "RNN_RELU") ? 1 : 0;
  if (G == 0) ctx.Fail("unknown mode \"" + mode + "\" (LSTM, GRU, RNN_TANH, RNN_RELU)");
  if (x.dtype != DType::kFloat32 || x.shape.size() != 3) ctx.Fail("Input must be float32 [T, N, I], got " + ShapeString(x.shape));
  const int64_t T = x.shape[0], N = x.shape[1], I = x.shape[2];
  const int64_t L = ctx.Int("num_layers", 1), H = ctx.Int("hidden_size", 0), D = ctx.Bool("is_bidirec", false) ? 2 : 1;
  if (L < 1 || H < 1 || L > 1024 || H > (int64_t{1} << 20)) ctx.Fail("bad num_layers / hidden_size");
  if (ctx.Int("input_size", I) != I) ctx.Fail("input_size " + std::to_string(ctx.Int("input_size", I)) + " != Input's last dim " + std::to_string(I));
  if (ctx.InputCount("WeightList") != static_cast<size_t>(4 * L * D)) {
    ctx.Fail("WeightList has " + std::to_string(ctx.InputCount("WeightList")) + " tensors, expected " + std::to_string(4 * L * D));
  }
  const size_t states = mode == "LSTM" ? 2 : 1;
  if (ctx.InputCount("PreState") != states) ctx.Fail("PreState needs " + std::to_string(states) + " tensors");
  const Shape state_shape{L * D, N, H};
  std::vector<const float*> pre(states);
  for (size_t s = 0; s < states; ++s) {
    const Value& p = ctx.In("PreState", s);
    if (p.dtype != DType::kFloat32 || p.shape != state_shape) ctx.Fail("PreState must be float32 " + ShapeString(state_shape) + ", got " + ShapeString(p.shape));
    pre[s] = p.As<float>();
  }
  std::vector<int64_t> len(static_cast<size_t>(N), T);
  if (ctx.HasInput("SequenceLength")) {
    const Value& sl = ctx.In("SequenceLength");
    if (sl.Numel() != N) ctx.Fail("SequenceLength has " + std::to_string(sl.Numel()) + " values for batch " + std::to_string(N));
    for (int64_t n = 0; n < N && !ctx.Dry(); ++n) {
      int64_t v = sl.dtype == DType::kInt64 ? sl.As<int64_t>()[n] : sl.dtype == DType::kInt32 ? sl.As<int32_t>()[n] : -1;
      if (v < 0 || v > T) ctx.Fail("SequenceLength[" + std::to_string(n) + "] = " + std::to_string(v) + " outside [0, " + std::to_string(T) + "]");
      len[static_cast<size_t>(n)] = v;
    }
  }
  // Working memory from the workspace's scratch (counted against maxMemoryMB, reused across
  // runs): the layer's input and output sequences, the input projections, one step's hidden
  // projections. The outputs are written at the end.
  const int64_t seq = T * N * std::max(I, D * H), state = L * D * N * H;
  float* scratch = ctx.Scratch(static_cast<size_t>(2 * seq + T * N * G * H + N * G * H + states * state));
  if (ctx.Dry()) {
    ctx.Out("Out", DType::kFloat32, {T, N, D * H});
    for (size_t s = 0; s < states && s < ctx.OutputCount("State"); ++s)
      if (ctx.HasOutput("State", s)) ctx.Out("State", s, DType::kFloat32, state_shape);
    return;
  }
  float* layer_in = scratch;
  float* layer_out = layer_in + seq;
  float* xg = layer_out + seq;
  float* hg = xg + T * N * G * H;
  float* state_out[2] = {hg + N * G * H, hg + N * G * H + state};
  std::memcpy(layer_in, x.As<float>(), static_cast<size_t>(x.Numel()) * sizeof(float));
  for (size_t s = 0; s < states; ++s) std::memcpy(state_out[s], pre[s], static_cast<size_t>(state) * sizeof(float));
  const int64_t LD2 = 2 * L * D;
  for (int64_t l = 0; l < L; ++l) {
    const int64_t in_size = l == 0 ? I : D * H;
    for (int64_t d = 0; d < D; ++d) {
      const int64_t idx = l * D + d;
      const float* w_ih = Weight(ctx, static_cast<size_t>(idx * 2), {G * H, in_size});
      const float* w_hh = Weight(ctx, static_cast<size_t>(idx * 2 + 1), {G * H, H});
      const float* b_ih = Weight(ctx, static_cast<size_t>(LD2 + idx * 2), {G * H});
      const float* b_hh = Weight(ctx, static_cast<size_t>(LD2 + idx * 2 + 1), {G * H});
      MatMulBT(layer_in, w_ih, b_ih, T * N, G * H, in_size, xg);
      float* h = state_out[0] + idx * N * H;
      float* c = states == 2 ? state_out[1] + idx * N * H : nullptr;
      for (int64_t s = 0; s < T; ++s) {
        const int64_t t = d == 0 ? s : T - 1 - s;
        MatMulBT(h, w_hh, b_hh, N, G * H, H, hg);
        for (int64_t n = 0; n < N; ++n) {
          float* out = layer_out + (t * N + n) * D * H + d * H;
          if (t >= len[static_cast<size_t>(n)]) {
            std::memset(out, 0, static_cast<size_t>(H) * sizeof(float));
            continue;
          }
          const float* xv = xg + (t * N + n) * G * H;
          const float* hv = hg + n * G * H;
          float* hn = h + n * H;
          for (int64_t j = 0; j < H; ++j) {
            if (G == 4) {
              float ig = Sigmoid(xv[j] + hv[j]), fg = Sigmoid(xv[H + j] + hv[H + j]);
              float gg = std::tanh(xv[2 * H + j] + hv[2 * H + j]), og = Sigmoid(xv[3 * H + j] + hv[3 * H + j]);
              float& cn = c[n * H + j];
              cn = fg * cn + ig * gg;
              hn[j] = og * std::tanh(cn);
            } else if (G == 3) {
              float r = Sigmoid(xv[j] + hv[j]), z = Sigmoid(xv[H + j] + hv[H + j]);
              float cand = std::tanh(xv[2 * H + j] + r * hv[2 * H + j]);
              hn[j] = (hn[j] - cand) * z + cand;
            } else {
              float v = xv[j] + hv[j];
              hn[j] = mode == "RNN_TANH" ? std::tanh(v) : (v > 0.f ? v : 0.f);
            }
            out[j] = hn[j];
          }
        }
      }
    }
    std::swap(layer_in, layer_out);
  }
  Value& out = ctx.Out("Out", DType::kFloat32, {T, N, D * H});
  std::memcpy(out.data, layer_in, static_cast<size_t>(T * N * D * H) * sizeof(float));
  for (size_t s = 0; s < states && s < ctx.OutputCount("State"); ++s) {
    if (!ctx.HasOutput("State", s)) continue;
    Value& so = ctx.Out("State", s, DType::kFloat32, state_shape);
    std::memcpy(so.data, state_out[s], static_cast<size_t>(state) * sizeof(float));
  }
}

}  // namespace

void AddRnnKernels(KernelMap* table) { (*table)["rnn"] = RnnK; }

}  // namespace paddle_native
