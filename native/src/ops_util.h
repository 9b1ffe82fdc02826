// Small helpers shared by the ops_*.cc kernel files.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "executor.h"

namespace paddle_native {
namespace ops {

inline size_t Bytes(const Value& v) { return static_cast<size_t>(v.Numel()) * DTypeSize(v.dtype); }

inline const float* F32(OpContext& ctx, const Value& v, const char* slot) {
  if (v.dtype != DType::kFloat32) ctx.Fail(std::string(slot) + " must be float32, got " + DTypeName(v.dtype));
  return v.As<float>();
}

// Normalises a possibly negative axis against `rank` (Paddle's convention), or fails.
inline int64_t Axis(OpContext& ctx, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= (rank > 0 ? rank : 1)) ctx.Fail("axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

// Row-major strides of `s` in elements.
inline std::vector<int64_t> Strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t k = s.size(); k-- > 1;) st[k - 1] = st[k] * s[k];
  return st;
}

// Integer values of an int32 / int64 (or float32) tensor.
inline std::vector<int64_t> Ints(OpContext& ctx, const Value& v) {
  std::vector<int64_t> out(static_cast<size_t>(v.Numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    if (v.dtype == DType::kInt64) out[i] = v.As<int64_t>()[i];
    else if (v.dtype == DType::kInt32) out[i] = v.As<int32_t>()[i];
    else if (v.dtype == DType::kFloat32) out[i] = SaturatingInt64(v.As<float>()[i]);
    else ctx.Fail(std::string("expected an integer tensor, got ") + DTypeName(v.dtype));
  }
  return out;
}

// The first value of a scalar operand tensor (a ShapeError when it is empty).
inline int64_t FirstInt(OpContext& ctx, const Value& v, const char* slot) {
  auto all = Ints(ctx, v);
  if (all.empty()) ctx.Fail(std::string(slot) + " is empty");
  return all[0];
}

// A list attribute that may come as one tensor or as a list of one-element tensors instead.
// The tensors' values are read (InValue: a shape-only pass computes them for real).
inline std::vector<int64_t> IntList(OpContext& ctx, const char* attr, const char* tensor_slot, const char* list_slot) {
  if (tensor_slot && ctx.HasInput(tensor_slot)) return Ints(ctx, ctx.InValue(tensor_slot));
  if (list_slot && ctx.InputCount(list_slot) > 0) {
    std::vector<int64_t> out;
    for (size_t i = 0; i < ctx.InputCount(list_slot); ++i) {
      auto one = Ints(ctx, ctx.InValue(list_slot, i));
      if (one.size() != 1) ctx.Fail(std::string(list_slot) + " elements must hold one value each");
      out.push_back(one[0]);
    }
    return out;
  }
  return ctx.Ints(attr);
}

inline double ScalarAt(const Value& v, int64_t i) {
  switch (v.dtype) {
    case DType::kFloat32: return v.As<float>()[i];
    case DType::kFloat64: return v.As<double>()[i];
    case DType::kInt64: return static_cast<double>(v.As<int64_t>()[i]);
    case DType::kInt32: return v.As<int32_t>()[i];
    case DType::kBool: case DType::kUInt8: return v.As<uint8_t>()[i];
    case DType::kInt8: return v.As<int8_t>()[i];
    default: return 0;
  }
}

inline void StoreAt(Value& v, int64_t i, double x) {
  switch (v.dtype) {
    case DType::kFloat32: v.As<float>()[i] = static_cast<float>(x); break;
    case DType::kFloat64: v.As<double>()[i] = x; break;
    case DType::kInt64: v.As<int64_t>()[i] = SaturatingInt64(x); break;
    case DType::kInt32: v.As<int32_t>()[i] = SaturatingInt32(x); break;
    case DType::kBool: v.As<uint8_t>()[i] = x != 0; break;
    case DType::kUInt8: v.As<uint8_t>()[i] = static_cast<uint8_t>(x); break;
    case DType::kInt8: v.As<int8_t>()[i] = static_cast<int8_t>(x); break;
    default: break;
  }
}

// The dtype attribute as Paddle's VarType number; `def` when absent or -1.
inline DType AttrType(OpContext& ctx, const char* name, DType def) {
  int64_t t = ctx.Int(name, -1);
  if (t < 0) return def;
  DType d = static_cast<DType>(t);
  if (!IsSupportedDType(d)) ctx.Fail(std::string(name) + " " + std::to_string(t) + " is not a supported dtype");
  return d;
}

}  // namespace ops
}  // namespace paddle_native
