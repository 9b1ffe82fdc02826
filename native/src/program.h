// The in-memory program both model formats are parsed into: one block of ops over named
// variables, with typed attributes. The executor compiles this into kernels.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace paddle_native {

// Element types, numbered as Paddle's VarType.Type (framework.proto) so the legacy format and
// `cast`/`fill_constant` attributes map directly.
enum class DType : int { kBool = 0, kInt16 = 1, kInt32 = 2, kInt64 = 3, kFloat16 = 4, kFloat32 = 5, kFloat64 = 6, kUInt8 = 20, kInt8 = 21 };

size_t DTypeSize(DType t);          // 0 for types we do not compute with
const char* DTypeName(DType t);     // "float32", ...
bool IsSupportedDType(DType t);     // float32, int64, int32, bool, float64, uint8, int8

using Shape = std::vector<int64_t>;
std::string ShapeString(const Shape& s);

struct Attr {
  enum class Kind { kNone, kInt, kFloat, kString, kInts, kFloats, kStrings, kBool, kBools };
  Kind kind = Kind::kNone;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;
};

struct OpDesc {
  std::string type;
  std::vector<std::pair<std::string, std::vector<std::string>>> inputs;
  std::vector<std::pair<std::string, std::vector<std::string>>> outputs;
  std::map<std::string, Attr> attrs;
  uint64_t offset = 0;  // where this op starts in its file (for error messages)
  // PIR: the op's own name (e.g. "pd_op.matmul") for inspection; "-" marks ops the translator
  // adds itself. Empty for legacy programs.
  std::string source_type;

  const std::vector<std::string>* Input(const std::string& slot) const;
  const std::vector<std::string>* Output(const std::string& slot) const;
};

struct VarDesc {
  std::string name;
  bool is_tensor = false;  // LoDTensor-typed variable
  DType dtype = DType::kFloat32;
  Shape dims;
  bool persistable = false;
};

struct Program {
  std::vector<VarDesc> vars;
  std::vector<OpDesc> ops;
  const VarDesc* FindVar(const std::string& name) const;
};

// A dense host tensor that owns its bytes (parameters, run outputs).
struct HostTensor {
  DType dtype = DType::kFloat32;
  Shape shape;
  std::vector<uint8_t> bytes;
};

// Parses a legacy `model.pdmodel` (protobuf ProgramDesc, block 0).
Program ParsePdmodel(const uint8_t* data, size_t size, const std::string& file);

// Parses a combined `model.pdiparams`: one LoDTensor record per name, in the given order.
// `expected` gives each parameter's declared dtype/dims (from the program) to cross-check.
std::vector<HostTensor> ParsePdiparams(const uint8_t* data, size_t size, const std::string& file,
                                       const std::vector<const VarDesc*>& expected);

// Parses a Paddle 3 PIR `model.json` into the same Program form. Parameter variables are
// persistable vars; `param_names` receives them in the order their records appear in the
// pdiparams file.
Program ParsePirJson(const uint8_t* data, size_t size, const std::string& file, std::vector<std::string>* param_names);

// Float -> integer conversions that never hit C++ undefined behaviour (NaN -> 0, saturating).
inline int64_t SaturatingInt64(double v) {
  if (v != v) return 0;
  if (v >= 9.2233720368547748e18) return INT64_MAX;
  if (v <= -9.2233720368547758e18) return INT64_MIN;
  return static_cast<int64_t>(v);
}
inline int32_t SaturatingInt32(double v) {
  if (v != v) return 0;
  if (v >= 2147483647.0) return INT32_MAX;
  if (v <= -2147483648.0) return INT32_MIN;
  return static_cast<int32_t>(v);
}

// Largest number of elements one tensor may declare (2^31): anything larger is an absurd dim.
constexpr int64_t kMaxTensorElements = int64_t{1} << 31;
constexpr int kMaxRank = 8;

// Product of dims, with -1 treated as `dynamic_as`; throws ShapeError on overflow/negatives.
int64_t CheckedNumel(const Shape& s, const std::string& what);

}  // namespace paddle_native
