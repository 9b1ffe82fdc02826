#include "program.h"

#include <cstring>

#include "errors.h"
#include "protobuf.h"

namespace paddle_native {

size_t DTypeSize(DType t) {
  switch (t) {
    case DType::kBool: case DType::kUInt8: case DType::kInt8: return 1;
    case DType::kInt16: case DType::kFloat16: return 2;
    case DType::kInt32: case DType::kFloat32: return 4;
    case DType::kInt64: case DType::kFloat64: return 8;
  }
  return 0;
}

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kBool: return "bool";
    case DType::kInt16: return "int16";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kFloat16: return "float16";
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kUInt8: return "uint8";
    case DType::kInt8: return "int8";
  }
  return "unknown";
}

bool IsSupportedDType(DType t) {
  return t == DType::kFloat32 || t == DType::kInt64 || t == DType::kInt32 || t == DType::kBool ||
         t == DType::kFloat64 || t == DType::kUInt8 || t == DType::kInt8;
}

namespace {
bool ValidDTypeNumber(uint64_t v) { return v <= 6 || v == 20 || v == 21; }
}  // namespace

std::string ShapeString(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

int64_t CheckedNumel(const Shape& s, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) throw ShapeErr(what + ": negative dimension in " + ShapeString(s));
    if (d != 0 && n > kMaxTensorElements / d) {
      throw ShapeErr(what + ": shape " + ShapeString(s) + " has more than 2^31 elements");
    }
    n *= d;
  }
  return n;
}

const std::vector<std::string>* OpDesc::Input(const std::string& slot) const {
  for (const auto& in : inputs) {
    if (in.first == slot) return &in.second;
  }
  return nullptr;
}

const std::vector<std::string>* OpDesc::Output(const std::string& slot) const {
  for (const auto& out : outputs) {
    if (out.first == slot) return &out.second;
  }
  return nullptr;
}

const VarDesc* Program::FindVar(const std::string& name) const {
  for (const auto& v : vars) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Legacy ProgramDesc (framework.proto field numbers).

namespace {

// Repeated scalar fields may be packed (wire type 2) or one per tag.
template <typename F>
void ReadRepeated(WireReader& r, uint32_t wt, F read_one) {
  if (wt == WireReader::kBytes) {
    WireReader packed = r.ReadMessage();
    while (!packed.AtEnd()) read_one(packed);
  } else {
    read_one(r);
  }
}

float BitsToFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
double BitsToDouble(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

void ParseTensorDesc(WireReader r, DType* dtype, Shape* dims) {
  bool has_type = false;
  uint32_t field, wt;
  while (r.NextField(&field, &wt)) {
    if (field == 1 && wt == WireReader::kVarint) {
      uint64_t t = r.ReadVarint();
      if (!ValidDTypeNumber(t)) r.Fail("unknown tensor data type " + std::to_string(t));
      *dtype = static_cast<DType>(t);
      has_type = true;
    } else if (field == 2) {
      ReadRepeated(r, wt, [&](WireReader& rr) {
        if (dims->size() >= static_cast<size_t>(kMaxRank)) rr.Fail("tensor rank above " + std::to_string(kMaxRank));
        dims->push_back(static_cast<int64_t>(rr.ReadVarint()));
      });
    } else {
      r.Skip(wt);
    }
  }
  if (!has_type) r.Fail("TensorDesc without data_type");
}

void ParseVarType(WireReader r, VarDesc* var) {
  uint32_t field, wt;
  while (r.NextField(&field, &wt)) {
    if (field == 1 && wt == WireReader::kVarint) {
      var->is_tensor = (r.ReadVarint() == 7);  // LOD_TENSOR
    } else if (field == 3 && wt == WireReader::kBytes) {  // LoDTensorDesc
      WireReader lod = r.ReadMessage();
      uint32_t f2, w2;
      while (lod.NextField(&f2, &w2)) {
        if (f2 == 1 && w2 == WireReader::kBytes) ParseTensorDesc(lod.ReadMessage(), &var->dtype, &var->dims);
        else lod.Skip(w2);
      }
    } else {
      r.Skip(wt);
    }
  }
}

VarDesc ParseVarDesc(WireReader r) {
  VarDesc var;
  uint32_t field, wt;
  while (r.NextField(&field, &wt)) {
    if (field == 1 && wt == WireReader::kBytes) var.name = r.ReadString();
    else if (field == 2 && wt == WireReader::kBytes) ParseVarType(r.ReadMessage(), &var);
    else if (field == 3 && wt == WireReader::kVarint) var.persistable = r.ReadVarint() != 0;
    else r.Skip(wt);
  }
  if (var.name.empty()) r.Fail("VarDesc without a name");
  return var;
}

void ParseOpVar(WireReader r, std::vector<std::pair<std::string, std::vector<std::string>>>* out) {
  std::pair<std::string, std::vector<std::string>> slot;
  uint32_t field, wt;
  while (r.NextField(&field, &wt)) {
    if (field == 1 && wt == WireReader::kBytes) slot.first = r.ReadString();
    else if (field == 2 && wt == WireReader::kBytes) slot.second.push_back(r.ReadString());
    else r.Skip(wt);
  }
  out->push_back(std::move(slot));
}

void ParseScalar(WireReader r, Attr* a) {
  uint32_t field, wt;
  uint64_t type = 0;
  while (r.NextField(&field, &wt)) {
    if (field == 1 && wt == WireReader::kVarint) type = r.ReadVarint();
    else if (field == 2 && wt == WireReader::kVarint) a->i = r.ReadVarint() != 0;
    else if (field == 3 && wt == WireReader::kVarint) a->i = static_cast<int64_t>(r.ReadVarint());
    else if (field == 4 && wt == WireReader::kFixed64) a->f = BitsToDouble(r.ReadFixed64());
    else r.Skip(wt);
  }
  if (type == 3) a->kind = Attr::Kind::kFloat;
  else { a->kind = Attr::Kind::kInt; a->f = static_cast<double>(a->i); }
  if (type == 3) a->i = SaturatingInt64(a->f);
}

void ParseAttr(WireReader r, std::map<std::string, Attr>* attrs) {
  std::string name;
  int64_t type = -1;
  int64_t i32 = 0, i64 = 0, block = 0;
  bool b = false;
  double f = 0, f64 = 0;
  std::string s, var_name;
  std::vector<int64_t> ints, longs, bools, blocks;
  std::vector<double> floats, float64s;
  std::vector<std::string> strings, vars_name;
  Attr scalar;
  std::vector<double> scalars;
  uint32_t field, wt;
  while (r.NextField(&field, &wt)) {
    switch (field) {
      case 1: name = r.ReadString(); break;
      case 2: type = static_cast<int64_t>(r.ReadVarint()); break;
      case 3: i32 = static_cast<int32_t>(r.ReadVarint()); break;
      case 4: f = BitsToFloat(r.ReadFixed32()); break;
      case 5: s = r.ReadString(); break;
      case 6: ReadRepeated(r, wt, [&](WireReader& rr) { ints.push_back(static_cast<int32_t>(rr.ReadVarint())); }); break;
      case 7: ReadRepeated(r, wt, [&](WireReader& rr) { floats.push_back(BitsToFloat(rr.ReadFixed32())); }); break;
      case 8: strings.push_back(r.ReadString()); break;
      case 10: b = r.ReadVarint() != 0; break;
      case 11: ReadRepeated(r, wt, [&](WireReader& rr) { bools.push_back(rr.ReadVarint() != 0); }); break;
      case 12: block = static_cast<int32_t>(r.ReadVarint()); break;
      case 13: i64 = static_cast<int64_t>(r.ReadVarint()); break;
      case 14: ReadRepeated(r, wt, [&](WireReader& rr) { blocks.push_back(static_cast<int32_t>(rr.ReadVarint())); }); break;
      case 15: ReadRepeated(r, wt, [&](WireReader& rr) { longs.push_back(static_cast<int64_t>(rr.ReadVarint())); }); break;
      case 16: ReadRepeated(r, wt, [&](WireReader& rr) { float64s.push_back(BitsToDouble(rr.ReadFixed64())); }); break;
      case 17: var_name = r.ReadString(); break;
      case 18: vars_name.push_back(r.ReadString()); break;
      case 19: f64 = BitsToDouble(r.ReadFixed64()); break;
      case 20: if (wt != WireReader::kBytes) r.Fail("bad scalar attribute"); ParseScalar(r.ReadMessage(), &scalar); break;
      case 21: {
        if (wt != WireReader::kBytes) r.Fail("bad scalars attribute");
        Attr one;
        ParseScalar(r.ReadMessage(), &one);
        scalars.push_back(one.kind == Attr::Kind::kFloat ? one.f : static_cast<double>(one.i));
        break;
      }
      default: r.Skip(wt);
    }
  }
  if (name.empty()) r.Fail("attribute without a name");
  Attr a;
  switch (type) {
    case 0: a.kind = Attr::Kind::kInt; a.i = i32; a.f = static_cast<double>(i32); break;
    case 1: a.kind = Attr::Kind::kFloat; a.f = f; a.i = SaturatingInt64(f); break;
    case 2: a.kind = Attr::Kind::kString; a.s = s; break;
    case 3: a.kind = Attr::Kind::kInts; a.ints = ints; break;
    case 4: a.kind = Attr::Kind::kFloats; a.floats = floats; break;
    case 5: a.kind = Attr::Kind::kStrings; a.strings = strings; break;
    case 6: a.kind = Attr::Kind::kBool; a.i = b; break;
    case 7: a.kind = Attr::Kind::kBools; a.ints = bools; break;
    case 8: a.kind = Attr::Kind::kInt; a.i = block; break;
    case 9: a.kind = Attr::Kind::kInt; a.i = i64; a.f = static_cast<double>(i64); break;
    case 10: a.kind = Attr::Kind::kInts; a.ints = blocks; break;
    case 11: a.kind = Attr::Kind::kInts; a.ints = longs; break;
    case 12: a.kind = Attr::Kind::kFloats; a.floats = float64s; break;
    case 13: a.kind = Attr::Kind::kString; a.s = var_name; break;
    case 14: a.kind = Attr::Kind::kStrings; a.strings = vars_name; break;
    case 15: a.kind = Attr::Kind::kFloat; a.f = f64; a.i = SaturatingInt64(f64); break;
    case 16: a = scalar; break;
    case 17: a.kind = Attr::Kind::kFloats; a.floats = scalars; break;
    default: r.Fail("attribute \"" + name + "\" has unknown type " + std::to_string(type));
  }
  (*attrs)[name] = std::move(a);
}

OpDesc ParseOpDesc(WireReader r) {
  OpDesc op;
  op.offset = r.Offset();
  uint32_t field, wt;
  while (r.NextField(&field, &wt)) {
    if (field == 1 && wt == WireReader::kBytes) ParseOpVar(r.ReadMessage(), &op.inputs);
    else if (field == 2 && wt == WireReader::kBytes) ParseOpVar(r.ReadMessage(), &op.outputs);
    else if (field == 3 && wt == WireReader::kBytes) op.type = r.ReadString();
    else if (field == 4 && wt == WireReader::kBytes) ParseAttr(r.ReadMessage(), &op.attrs);
    else r.Skip(wt);
  }
  if (op.type.empty()) r.Fail("OpDesc without a type");
  return op;
}

}  // namespace

Program ParsePdmodel(const uint8_t* data, size_t size, const std::string& file) {
  if (size == 0) throw FormatError(file, 0, "empty file (expected a protobuf ProgramDesc)");
  WireReader r(data, size, &file);
  Program program;
  int blocks = 0;
  uint32_t field, wt;
  while (r.NextField(&field, &wt)) {
    if (field == 1 && wt == WireReader::kBytes) {
      WireReader block = r.ReadMessage();
      if (blocks++ > 0) continue;  // sub-blocks (control flow) are not executed by the builtin backend
      uint32_t bf, bw;
      while (block.NextField(&bf, &bw)) {
        if (bf == 3 && bw == WireReader::kBytes) program.vars.push_back(ParseVarDesc(block.ReadMessage()));
        else if (bf == 4 && bw == WireReader::kBytes) program.ops.push_back(ParseOpDesc(block.ReadMessage()));
        else block.Skip(bw);
      }
    } else if (field == 2 || field == 3) {
      r.Fail("field " + std::to_string(field) + " is reserved in ProgramDesc: not a Paddle model");
    } else {
      r.Skip(wt);
    }
  }
  if (blocks == 0 || program.ops.empty()) {
    throw FormatError(file, 0, "no block with ops: not a Paddle ProgramDesc");
  }
  return program;
}

// ---------------------------------------------------------------------------------------------
// Combined parameters: per tensor, uint32 version (0), uint64 lod_level + lod levels,
// uint32 tensor version (0), int32 TensorDesc size, TensorDesc, raw data (little-endian).

std::vector<HostTensor> ParsePdiparams(const uint8_t* data, size_t size, const std::string& file,
                                       const std::vector<const VarDesc*>& expected) {
  std::vector<HostTensor> out;
  out.reserve(expected.size());
  size_t pos = 0;
  auto need = [&](size_t n, const std::string& what) {
    if (size - pos < n) {
      throw FormatError(file, pos, "truncated: expected " + what + " (" + std::to_string(n) + " bytes), " +
                                       std::to_string(size - pos) + " left");
    }
  };
  for (const VarDesc* var : expected) {
    const std::string where = " of parameter \"" + var->name + "\"";
    need(4, "tensor version" + where);
    uint32_t version;
    std::memcpy(&version, data + pos, 4);
    if (version != 0) throw FormatError(file, pos, "unsupported LoDTensor version " + std::to_string(version) + where);
    pos += 4;
    need(8, "LoD level count" + where);
    uint64_t lod_level;
    std::memcpy(&lod_level, data + pos, 8);
    if (lod_level > 8) throw FormatError(file, pos, "absurd LoD level " + std::to_string(lod_level) + where);
    pos += 8;
    for (uint64_t l = 0; l < lod_level; ++l) {
      need(8, "LoD size" + where);
      uint64_t lod_bytes;
      std::memcpy(&lod_bytes, data + pos, 8);
      pos += 8;
      if (lod_bytes > size - pos) throw FormatError(file, pos - 8, "LoD of " + std::to_string(lod_bytes) + " bytes overruns the file" + where);
      pos += static_cast<size_t>(lod_bytes);
    }
    need(4, "tensor version" + where);
    std::memcpy(&version, data + pos, 4);
    if (version != 0) throw FormatError(file, pos, "unsupported Tensor version " + std::to_string(version) + where);
    pos += 4;
    need(4, "TensorDesc size" + where);
    int32_t desc_size;
    std::memcpy(&desc_size, data + pos, 4);
    if (desc_size <= 0 || desc_size > (1 << 20) || static_cast<size_t>(desc_size) > size - pos - 4) {
      throw FormatError(file, pos, "bad TensorDesc size " + std::to_string(desc_size) + where);
    }
    pos += 4;
    HostTensor t;
    ParseTensorDesc(WireReader(data + pos, static_cast<size_t>(desc_size), &file, pos), &t.dtype, &t.shape);
    size_t desc_at = pos;
    pos += static_cast<size_t>(desc_size);
    int64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0 || (d != 0 && numel > kMaxTensorElements / d)) {
        throw FormatError(file, desc_at, "absurd dims " + ShapeString(t.shape) + where);
      }
      numel *= d;
    }
    size_t elem = DTypeSize(t.dtype);
    if (!IsSupportedDType(t.dtype)) {
      throw FormatError(file, desc_at, std::string("unsupported data type ") + DTypeName(t.dtype) + where);
    }
    uint64_t bytes = static_cast<uint64_t>(numel) * elem;
    if (bytes > size - pos) {
      throw FormatError(file, pos, "tensor data of " + std::to_string(bytes) + " bytes (dims " + ShapeString(t.shape) +
                                       ") overruns the file (" + std::to_string(size - pos) + " bytes left)" + where);
    }
    if (var->dtype != t.dtype) {
      throw FormatError(file, desc_at, std::string("data type ") + DTypeName(t.dtype) + " does not match the program's " +
                                           DTypeName(var->dtype) + where);
    }
    bool declared_static = !var->dims.empty();
    for (int64_t d : var->dims) declared_static = declared_static && d >= 0;
    if (declared_static && var->dims != t.shape) {
      throw FormatError(file, desc_at, "dims " + ShapeString(t.shape) + " do not match the program's " +
                                           ShapeString(var->dims) + where);
    }
    t.bytes.assign(data + pos, data + pos + bytes);
    pos += static_cast<size_t>(bytes);
    out.push_back(std::move(t));
  }
  if (pos != size) {
    throw FormatError(file, pos, std::to_string(size - pos) + " unexpected bytes after the last of " +
                                     std::to_string(expected.size()) + " parameters");
  }
  return out;
}

}  // namespace paddle_native

