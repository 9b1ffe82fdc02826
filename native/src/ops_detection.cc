// Detection ops as PaddleDetection exports them: prior_box (SSD anchors), yolo_box (decode a
// YOLO head into boxes and per-class scores) and multiclass_nms3 (per-class greedy NMS, then the best
// keep_top_k over all classes). Arithmetic, ordering and tie-breaking follow Paddle's CPU
// kernels: score sorts are stable and descending, boxes are [x1, y1, x2, y2], un-normalised
// boxes count the +1 pixel in widths and areas.
#include <algorithm>
#include <cmath>
#include <map>
#include <utility>
#include <vector>

#include "errors.h"
#include "ops_registry.h"
#include "ops_util.h"

namespace paddle_native {

namespace {

float SigmoidF(float x) { return static_cast<float>(1.0 / (1.0 + std::exp(-x))); }

void YoloBoxK(OpContext& ctx) {
  const Value x = ctx.In("X");
  const Value img = ctx.In("ImgSize");
  const float* px = ops::F32(ctx, x, "X");
  if (x.shape.size() != 4) ctx.Fail("X must be [N, C, H, W], got " + ShapeString(x.shape));
  auto anchors = ctx.Ints("anchors");
  const int64_t class_num = ctx.Int("class_num", 0);
  const float conf_thresh = static_cast<float>(ctx.Float("conf_thresh", 0.01));
  const int64_t ratio = ctx.Int("downsample_ratio", 32);
  const bool clip = ctx.Bool("clip_bbox", true);
  const float scale = static_cast<float>(ctx.Float("scale_x_y", 1.0));
  const float bias = -0.5f * (scale - 1.f);
  if (ctx.Bool("iou_aware", false)) ctx.Fail("iou_aware is not supported");
  if (anchors.empty() || anchors.size() % 2 || class_num <= 0 || ratio <= 0) ctx.Fail("bad anchors, class_num or downsample_ratio");
  const int64_t N = x.shape[0], H = x.shape[2], W = x.shape[3], an = static_cast<int64_t>(anchors.size() / 2);
  if (x.shape[1] != an * (5 + class_num)) ctx.Fail("X has " + std::to_string(x.shape[1]) + " channels, anchors and class_num need " + std::to_string(an * (5 + class_num)));
  if (img.Numel() != 2 * N) ctx.Fail("ImgSize must be [N, 2], got " + ShapeString(img.shape));
  const float* in = px;
  const int64_t stride = H * W, an_stride = (5 + class_num) * stride, box_num = an * stride;
  Value& boxes = ctx.Out("Boxes", DType::kFloat32, {N, box_num, 4});
  Value& scores = ctx.Out("Scores", DType::kFloat32, {N, box_num, class_num});
  if (ctx.Dry()) return;
  auto sizes = ops::Ints(ctx, img);
  float* pb = boxes.As<float>();
  float* ps = scores.As<float>();
  std::fill(pb, pb + boxes.Numel(), 0.f);
  std::fill(ps, ps + scores.Numel(), 0.f);
  const float in_h = static_cast<float>(ratio * H), in_w = static_cast<float>(ratio * W);
  for (int64_t i = 0; i < N; ++i) {
    const float img_h = static_cast<float>(sizes[static_cast<size_t>(2 * i)]), img_w = static_cast<float>(sizes[static_cast<size_t>(2 * i + 1)]);
    for (int64_t j = 0; j < an; ++j)
      for (int64_t k = 0; k < H; ++k)
        for (int64_t l = 0; l < W; ++l) {
          const int64_t base = (i * an + j) * an_stride + k * W + l;
          const float conf = SigmoidF(in[base + 4 * stride]);
          if (conf < conf_thresh) continue;
          const float cx = (static_cast<float>(l) + SigmoidF(in[base]) * scale + bias) * img_w / static_cast<float>(W);
          const float cy = (static_cast<float>(k) + SigmoidF(in[base + stride]) * scale + bias) * img_h / static_cast<float>(H);
          const float bw = std::exp(in[base + 2 * stride]) * static_cast<float>(anchors[static_cast<size_t>(2 * j)]) * img_w / in_w;
          const float bh = std::exp(in[base + 3 * stride]) * static_cast<float>(anchors[static_cast<size_t>(2 * j + 1)]) * img_h / in_h;
          const int64_t b = i * box_num + j * stride + k * W + l;
          float* o = pb + b * 4;
          o[0] = cx - bw / 2;
          o[1] = cy - bh / 2;
          o[2] = cx + bw / 2;
          o[3] = cy + bh / 2;
          if (clip) {
            o[0] = o[0] > 0 ? o[0] : 0.f;
            o[1] = o[1] > 0 ? o[1] : 0.f;
            o[2] = o[2] < img_w - 1 ? o[2] : img_w - 1;
            o[3] = o[3] < img_h - 1 ? o[3] : img_h - 1;
          }
          for (int64_t c = 0; c < class_num; ++c) {
            ps[b * class_num + c] = conf * SigmoidF(in[base + (5 + c) * stride]);
          }
        }
  }
}

float BoxArea(const float* b, bool normalized) {
  if (b[2] < b[0] || b[3] < b[1]) return 0.f;
  const float w = b[2] - b[0], h = b[3] - b[1];
  return normalized ? w * h : (w + 1) * (h + 1);
}

float Jaccard(const float* a, const float* b, bool normalized) {
  if (b[0] > a[2] || b[2] < a[0] || b[1] > a[3] || b[3] < a[1]) return 0.f;
  const float norm = normalized ? 0.f : 1.f;
  const float iw = std::min(a[2], b[2]) - std::max(a[0], b[0]) + norm;
  const float ih = std::min(a[3], b[3]) - std::max(a[1], b[1]) + norm;
  const float inter = iw * ih;
  return inter / (BoxArea(a, normalized) + BoxArea(b, normalized) - inter);
}

using ScoreIndex = std::pair<float, int64_t>;

void SortDescending(std::vector<ScoreIndex>* v) {
  std::stable_sort(v->begin(), v->end(), [](const ScoreIndex& a, const ScoreIndex& b) { return a.first > b.first; });
}

// Greedy NMS of one class: indices kept, best score first.
std::vector<int64_t> NmsFast(const float* boxes, const float* scores, int64_t M, float score_threshold, float nms_threshold,
                             float eta, int64_t top_k, bool normalized) {
  std::vector<ScoreIndex> order;
  for (int64_t m = 0; m < M; ++m)
    if (scores[m] > score_threshold) order.emplace_back(scores[m], m);
  SortDescending(&order);
  if (top_k > -1 && top_k < static_cast<int64_t>(order.size())) order.resize(static_cast<size_t>(top_k));
  std::vector<int64_t> selected;
  float threshold = nms_threshold;
  for (const auto& cand : order) {
    bool keep = true;
    for (int64_t kept : selected) {
      if (!(Jaccard(boxes + cand.second * 4, boxes + kept * 4, normalized) <= threshold)) {
        keep = false;
        break;
      }
    }
    if (keep) {
      selected.push_back(cand.second);
      if (eta < 1 && threshold > 0.5f) threshold *= eta;
    }
  }
  return selected;
}

void MulticlassNms3K(OpContext& ctx) {
  const Value bx = ctx.In("BBoxes");
  const Value sc = ctx.In("Scores");
  const float* pbox = ops::F32(ctx, bx, "BBoxes");
  const float* pscore = ops::F32(ctx, sc, "Scores");
  if (ctx.HasInput("RoisNum")) ctx.Fail("RoisNum (LoD-style 2-D scores) is not supported");
  if (bx.shape.size() != 3 || sc.shape.size() != 3 || bx.shape[2] != 4 || sc.shape[0] != bx.shape[0] || sc.shape[2] != bx.shape[1]) {
    ctx.Fail("BBoxes must be [N, M, 4] and Scores [N, C, M], got " + ShapeString(bx.shape) + " and " + ShapeString(sc.shape));
  }
  const int64_t N = bx.shape[0], M = bx.shape[1], C = sc.shape[1];
  const int64_t background = ctx.Int("background_label", -1), nms_top_k = ctx.Int("nms_top_k", -1), keep_top_k = ctx.Int("keep_top_k", -1);
  const float score_threshold = static_cast<float>(ctx.Float("score_threshold", 0.0));
  const float nms_threshold = static_cast<float>(ctx.Float("nms_threshold", 0.3));
  const float eta = static_cast<float>(ctx.Float("nms_eta", 1.0));
  const bool normalized = ctx.Bool("normalized", true);
  std::vector<float> rows;
  std::vector<int32_t> index, per_image;
  for (int64_t i = 0; i < N; ++i) {
    const float* ib = pbox + i * M * 4;
    const float* is = pscore + i * C * M;
    std::map<int64_t, std::vector<int64_t>> kept;
    int64_t num = 0;
    for (int64_t c = 0; c < C; ++c) {
      if (c == background) continue;
      kept[c] = NmsFast(ib, is + c * M, M, score_threshold, nms_threshold, eta, nms_top_k, normalized);
      num += static_cast<int64_t>(kept[c].size());
    }
    if (keep_top_k > -1 && num > keep_top_k) {
      std::vector<std::pair<float, std::pair<int64_t, int64_t>>> all;
      for (const auto& k : kept)
        for (int64_t idx : k.second) all.push_back({is[k.first * M + idx], {k.first, idx}});
      std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
      all.resize(static_cast<size_t>(keep_top_k));
      kept.clear();
      for (const auto& a : all) kept[a.second.first].push_back(a.second.second);
      num = keep_top_k;
    }
    for (const auto& k : kept)
      for (int64_t idx : k.second) {
        rows.push_back(static_cast<float>(k.first));
        rows.push_back(is[k.first * M + idx]);
        rows.insert(rows.end(), ib + idx * 4, ib + idx * 4 + 4);
        index.push_back(static_cast<int32_t>(i * M + idx));
      }
    per_image.push_back(static_cast<int32_t>(num));
  }
  const int64_t K = static_cast<int64_t>(index.size());
  Value& out = ctx.Out("Out", DType::kFloat32, {K, 6});
  std::copy(rows.begin(), rows.end(), out.As<float>());
  if (ctx.HasOutput("Index")) {
    Value& o = ctx.Out("Index", DType::kInt32, {K, 1});
    std::copy(index.begin(), index.end(), o.As<int32_t>());
  }
  if (ctx.HasOutput("NmsRoisNum")) {
    Value& o = ctx.Out("NmsRoisNum", DType::kInt32, {N});
    std::copy(per_image.begin(), per_image.end(), o.As<int32_t>());
  }
}

// prior_box (SSD anchors): per feature-map cell, min_sizes x the expanded aspect ratios (1,
// then each ratio not already present, and its inverse when flip) plus one sqrt(min * max)
// box per max size, in Paddle's order (min_max_aspect_ratios_order: min box, max box, then the
// other ratios), normalised by the image size, optionally clipped to [0, 1].
void PriorBoxK(OpContext& ctx) {
  const Value& feat = ctx.In("Input");
  const Value& image = ctx.In("Image");
  if (feat.shape.size() != 4 || image.shape.size() != 4) ctx.Fail("Input and Image must be 4-D");
  auto min_sizes = ctx.Floats("min_sizes"), max_sizes = ctx.Floats("max_sizes"), ratios_in = ctx.Floats("aspect_ratios");
  auto variances = ctx.Floats("variances");
  if (min_sizes.empty() || variances.size() != 4) ctx.Fail("needs min_sizes and 4 variances");
  if (!max_sizes.empty() && max_sizes.size() != min_sizes.size()) ctx.Fail("max_sizes must match min_sizes in length");
  const bool flip = ctx.Bool("flip", false);
  std::vector<float> ratios{1.f};
  for (double r : ratios_in) {
    const float ar = static_cast<float>(r);
    bool seen = false;
    for (float have : ratios) seen = seen || std::fabs(ar - have) < 1e-6f;
    if (seen) continue;
    ratios.push_back(ar);
    if (flip) ratios.push_back(1.f / ar);
  }
  const int64_t H = feat.shape[2], W = feat.shape[3];
  const int64_t priors = static_cast<int64_t>(ratios.size() * min_sizes.size() + max_sizes.size());
  Value& boxes = ctx.Out("Boxes", DType::kFloat32, {H, W, priors, 4});
  Value& vars = ctx.Out("Variances", DType::kFloat32, {H, W, priors, 4});
  if (ctx.Dry()) return;
  const float img_h = static_cast<float>(image.shape[2]), img_w = static_cast<float>(image.shape[3]);
  float step_w = static_cast<float>(ctx.Float("step_w", 0.0)), step_h = static_cast<float>(ctx.Float("step_h", 0.0));
  if (step_w == 0.f || step_h == 0.f) {
    step_w = img_w / static_cast<float>(W);
    step_h = img_h / static_cast<float>(H);
  }
  const float offset = static_cast<float>(ctx.Float("offset", 0.5));
  const bool clip = ctx.Bool("clip", false), mm_order = ctx.Bool("min_max_aspect_ratios_order", false);
  float* pb = boxes.As<float>();
  for (int64_t h = 0; h < H; ++h)
    for (int64_t w = 0; w < W; ++w) {
      const float cx = (static_cast<float>(w) + offset) * step_w, cy = (static_cast<float>(h) + offset) * step_h;
      auto push = [&](float bw, float bh) {
        *pb++ = (cx - bw) / img_w;
        *pb++ = (cy - bh) / img_h;
        *pb++ = (cx + bw) / img_w;
        *pb++ = (cy + bh) / img_h;
      };
      for (size_t s = 0; s < min_sizes.size(); ++s) {
        const float mn = static_cast<float>(min_sizes[s]);
        auto ratio_boxes = [&](bool skip_one) {
          for (float ar : ratios) {
            if (skip_one && std::fabs(ar - 1.f) < 1e-6f) continue;
            push(mn * std::sqrt(ar) / 2.f, mn / std::sqrt(ar) / 2.f);
          }
        };
        auto max_box = [&] {
          if (max_sizes.empty()) return;
          const float side = std::sqrt(mn * static_cast<float>(max_sizes[s])) / 2.f;
          push(side, side);
        };
        if (mm_order) {
          push(mn / 2.f, mn / 2.f);
          max_box();
          ratio_boxes(true);
        } else {
          ratio_boxes(false);
          max_box();
        }
      }
    }
  float* all = boxes.As<float>();
  if (clip) for (int64_t i = 0, n = boxes.Numel(); i < n; ++i) all[i] = std::min(std::max(all[i], 0.f), 1.f);
  float* pv = vars.As<float>();
  for (int64_t i = 0, n = vars.Numel(); i < n; ++i) pv[i] = static_cast<float>(variances[static_cast<size_t>(i % 4)]);
}

}  // namespace

void AddDetectionKernels(KernelMap* table) {
  (*table)["yolo_box"] = YoloBoxK;
  (*table)["multiclass_nms3"] = MulticlassNms3K;
  (*table)["prior_box"] = PriorBoxK;
}

}  // namespace paddle_native
