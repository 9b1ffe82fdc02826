// Paddle 3 PIR `model.json` -> Program. The JSON holds one region with one block of ops;
// each op is {"#": "<dialect>.<name>", "A": attrs, "I": operands, "O": results, ...} where
// dialect "0" is builtin and "1" is pd_op, values are {"%": id} (0 = null operand), and
// parameters are `p` ops naming the pdiparams record. Each PIR op is translated to the
// equivalent legacy op (slot and attribute names) so one set of kernels serves both formats.
#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "errors.h"
#include "json.h"
#include "program.h"

namespace paddle_native {

namespace {

struct PirContext {
  const std::string& file;
  Program* program;
  std::map<int64_t, std::string> names;                     // value id -> var name
  std::map<int64_t, std::vector<std::string>> vectors;      // builtin.combine results
  std::set<std::string> declared;
  std::map<std::string, std::vector<int64_t>> int_arrays;  // full_int_array results: their values
  int feeds = 0;

  [[noreturn]] void Fail(const JsonValue& at, const std::string& what) const { throw FormatError(file, at.offset, what); }
};

bool DTypeFromTypeTag(const std::string& tag, DType* out) {
  static const std::map<std::string, DType> m = {
      {"0.t_f32", DType::kFloat32}, {"0.t_f64", DType::kFloat64}, {"0.t_i64", DType::kInt64}, {"0.t_i32", DType::kInt32},
      {"0.t_bool", DType::kBool},   {"0.t_ui8", DType::kUInt8},   {"0.t_i8", DType::kInt8},   {"0.t_f16", DType::kFloat16},
      {"0.t_i16", DType::kInt16}};
  auto it = m.find(tag);
  if (it == m.end()) return false;
  *out = it->second;
  return true;
}

bool DTypeFromName(const std::string& s, DType* out) {
  static const std::map<std::string, DType> m = {{"float32", DType::kFloat32}, {"float64", DType::kFloat64}, {"int64", DType::kInt64},
                                                 {"int32", DType::kInt32},     {"bool", DType::kBool},       {"uint8", DType::kUInt8},
                                                 {"int8", DType::kInt8},       {"float16", DType::kFloat16}, {"int16", DType::kInt16}};
  auto it = m.find(s);
  if (it == m.end()) return false;
  *out = it->second;
  return true;
}

int64_t ValueId(PirContext& c, const JsonValue& v) {
  const JsonValue* id = v.Find("%");
  if (!id || !id->is_integer || id->integer < 0 || id->integer > (int64_t{1} << 31)) c.Fail(v, "value without a valid \"%\" id");
  return id->integer;
}

// Declares the var for a result value, with its dtype/dims from the "TT" type.
std::string DeclareResult(PirContext& c, const JsonValue& result, const std::string& name_hint = "") {
  int64_t id = ValueId(c, result);
  if (id == 0) c.Fail(result, "result with the null id 0");
  if (c.names.count(id)) c.Fail(result, "value %" + std::to_string(id) + " defined twice");
  std::string name = name_hint.empty() ? "%" + std::to_string(id) : name_hint;
  c.names[id] = name;
  VarDesc var;
  var.name = name;
  const JsonValue* tt = result.Find("TT");
  if (tt && tt->IsObject()) {
    const JsonValue* tag = tt->Find("#");
    const JsonValue* d = tt->Find("D");
    if (tag && tag->IsString() && tag->text == "0.t_dtensor" && d && d->IsArray() && d->items.size() >= 2) {
      const JsonValue& et = d->items[0];
      const JsonValue* etag = et.Find("#");
      if (!etag || !etag->IsString() || !DTypeFromTypeTag(etag->text, &var.dtype)) c.Fail(et, "unknown element type");
      const JsonValue& dims = d->items[1];
      if (!dims.IsArray() || dims.items.size() > static_cast<size_t>(kMaxRank)) c.Fail(dims, "dims must be an array of rank <= 8");
      for (const auto& dim : dims.items) {
        if (!dim.is_integer || dim.integer < -1 || dim.integer > kMaxTensorElements) c.Fail(dim, "absurd dim in tensor type");
        var.dims.push_back(dim.integer);
      }
      var.is_tensor = true;
    }
  }
  if (c.declared.insert(name).second) c.program->vars.push_back(var);
  return name;
}

std::string OperandName(PirContext& c, const JsonValue& operand) {
  int64_t id = ValueId(c, operand);
  if (id == 0) return "";
  auto it = c.names.find(id);
  if (it == c.names.end()) c.Fail(operand, "operand %" + std::to_string(id) + " is used before it is defined");
  return it->second;
}

Attr ConvertAttr(PirContext& c, const JsonValue& at) {
  Attr a;
  const JsonValue* tag = at.Find("#");
  const JsonValue* d = at.Find("D");
  if (!tag || !tag->IsString() || !d) c.Fail(at, "attribute without \"#\" and \"D\"");
  const std::string& t = tag->text;
  if (t == "0.a_bool") { a.kind = Attr::Kind::kBool; a.i = d->IsBool() && d->boolean; }
  else if (t == "0.a_i32" || t == "0.a_i64") {
    if (!d->is_integer) c.Fail(*d, "integer attribute expected");
    a.kind = Attr::Kind::kInt; a.i = d->integer; a.f = static_cast<double>(d->integer);
  } else if (t == "0.a_f32" || t == "0.a_f64") {
    if (!d->IsNumber()) c.Fail(*d, "number attribute expected");
    a.kind = Attr::Kind::kFloat; a.f = d->number; a.i = SaturatingInt64(d->number);
  } else if (t == "0.a_str") {
    if (!d->IsString()) c.Fail(*d, "string attribute expected");
    a.kind = Attr::Kind::kString; a.s = d->text;
  } else if (t == "1.a_intarray") {
    if (!d->IsArray()) c.Fail(*d, "int array expected");
    a.kind = Attr::Kind::kInts;
    for (const auto& e : d->items) {
      if (!e.is_integer) c.Fail(e, "integer expected");
      a.ints.push_back(e.integer);
    }
  } else if (t == "1.a_dtype") {
    DType dt;
    if (!d->IsString() || !DTypeFromName(d->text, &dt)) c.Fail(*d, "unknown dtype");
    a.kind = Attr::Kind::kInt; a.i = static_cast<int64_t>(dt); a.s = d->text;
  } else if (t == "0.a_array") {
    if (!d->IsArray()) c.Fail(*d, "array expected");
    a.kind = Attr::Kind::kInts;
    bool floats = false, strings = false;
    for (const auto& e : d->items) {
      Attr one = ConvertAttr(c, e);
      if (one.kind == Attr::Kind::kFloat) floats = true;
      if (one.kind == Attr::Kind::kString) strings = true;
      a.ints.push_back(one.i);
      a.floats.push_back(one.kind == Attr::Kind::kFloat ? one.f : static_cast<double>(one.i));
      a.strings.push_back(one.s);
    }
    if (strings) a.kind = Attr::Kind::kStrings;
    else if (floats) a.kind = Attr::Kind::kFloats;
  } else {
    a.kind = Attr::Kind::kNone;  // places, data layouts...: no meaning for the CPU executor
  }
  return a;
}

struct PirOp {
  const JsonValue* json;
  std::string name;  // without dialect prefix, e.g. "matmul"
  std::map<std::string, Attr> attrs;
  std::vector<const JsonValue*> operands;
  std::vector<const JsonValue*> results;
};

using Translator = std::function<void(PirContext&, const PirOp&, OpDesc*)>;

// Operand i into a slot (absent when null).
void In(PirContext& c, const PirOp& p, OpDesc* op, size_t i, const char* slot) {
  if (i >= p.operands.size()) c.Fail(*p.json, "pd_op." + p.name + " needs operand " + std::to_string(i));
  int64_t id = ValueId(c, *p.operands[i]);
  auto vec = c.vectors.find(id);
  if (vec != c.vectors.end()) {
    op->inputs.emplace_back(slot, vec->second);
    return;
  }
  std::string name = OperandName(c, *p.operands[i]);
  if (!name.empty()) op->inputs.emplace_back(slot, std::vector<std::string>{name});
}

void Out(PirContext& c, const PirOp& p, OpDesc* op, size_t i, const char* slot) {
  if (i >= p.results.size()) c.Fail(*p.json, "pd_op." + p.name + " needs result " + std::to_string(i));
  op->outputs.emplace_back(slot, std::vector<std::string>{DeclareResult(c, *p.results[i])});
}

// A result of vector type (0.t_vec): one var per element, remembered for builtin.split.
void VectorOut(PirContext& c, const PirOp& p, OpDesc* op, const char* slot) {
  if (p.results.size() != 1) c.Fail(*p.json, "pd_op." + p.name + " must have one vector result");
  const JsonValue& result = *p.results[0];
  int64_t id = ValueId(c, result);
  if (id == 0 || c.names.count(id)) c.Fail(result, "bad or duplicate vector result id");
  const JsonValue* tt = result.Find("TT");
  const JsonValue* tag = tt ? tt->Find("#") : nullptr;
  const JsonValue* elems = tt ? tt->Find("D") : nullptr;
  if (!tag || !tag->IsString() || tag->text != "0.t_vec" || !elems || !elems->IsArray() || elems->items.empty() || elems->items.size() > 4096) {
    c.Fail(result, "pd_op." + p.name + " result must be a non-empty vector type");
  }
  std::vector<std::string> names;
  for (size_t i = 0; i < elems->items.size(); ++i) {
    std::string name = "%" + std::to_string(id) + "." + std::to_string(i);
    if (c.declared.insert(name).second) {
      VarDesc var;
      var.name = name;
      var.is_tensor = true;
      c.program->vars.push_back(var);
    }
    names.push_back(name);
  }
  c.names[id] = "%vector" + std::to_string(id);
  c.vectors[id] = names;
  op->outputs.emplace_back(slot, names);
}

void CopyAttr(const PirOp& p, OpDesc* op, const char* from, const char* to) {
  auto it = p.attrs.find(from);
  if (it != p.attrs.end()) op->attrs[to] = it->second;
}

Translator Unary(const std::string& legacy) {
  return [legacy](PirContext& c, const PirOp& p, OpDesc* op) {
    op->type = legacy;
    In(c, p, op, 0, "X");
    Out(c, p, op, 0, "Out");
    for (const auto& a : p.attrs) op->attrs[a.first] = a.second;
  };
}

Translator Binary(const std::string& legacy) {
  return [legacy](PirContext& c, const PirOp& p, OpDesc* op) {
    op->type = legacy;
    In(c, p, op, 0, "X");
    In(c, p, op, 1, "Y");
    Out(c, p, op, 0, "Out");
    Attr axis;
    axis.kind = Attr::Kind::kInt;
    axis.i = -1;
    op->attrs["axis"] = axis;
  };
}

void CopyAll(const PirOp& p, OpDesc* op) {
  for (const auto& a : p.attrs) op->attrs[a.first] = a.second;
}

void DeclareResultIfAny(PirContext& c, const JsonValue& result) {
  if (ValueId(c, result) != 0) DeclareResult(c, result);
}

// pd_op.argmax(x, axis) -> arg_max(X, AxisTensor)
Translator ArgTranslator(const std::string& legacy) {
  return [legacy](PirContext& c, const PirOp& p, OpDesc* op) {
    op->type = legacy;
    In(c, p, op, 0, "X"); In(c, p, op, 1, "AxisTensor"); Out(c, p, op, 0, "Out");
    CopyAll(p, op);
  };
}

// Reductions take their axes as an operand (a full_int_array result) in PIR 3.0: the
// constant becomes the legacy "dim" attribute; any other axis operand is refused.
void AxisOperandAsAttr(PirContext& c, const PirOp& p, OpDesc* op) {
  if (p.operands.size() < 2) return;
  std::string name = OperandName(c, *p.operands[1]);
  if (name.empty()) return;
  auto it = c.int_arrays.find(name);
  if (it == c.int_arrays.end()) c.Fail(*p.operands[1], "pd_op." + p.name + ": the axis must be a constant (full_int_array)");
  Attr dim;
  dim.kind = Attr::Kind::kInts;
  dim.ints = it->second;
  op->attrs["dim"] = dim;
}

// pd_op.max(x, axis, keepdim) -> reduce_max(X, dim, keep_dim)
Translator ReduceTranslator(const std::string& legacy) {
  return [legacy](PirContext& c, const PirOp& p, OpDesc* op) {
    op->type = legacy;
    In(c, p, op, 0, "X");
    Out(c, p, op, 0, "Out");
    CopyAttr(p, op, "axis", "dim"); CopyAttr(p, op, "keepdim", "keep_dim");
    AxisOperandAsAttr(c, p, op);
  };
}

// pd_op.bilinear_interp(x, out_size, size_tensor, scale_tensor) -> bilinear_interp_v2
Translator InterpTranslator(const std::string& legacy) {
  return [legacy](PirContext& c, const PirOp& p, OpDesc* op) {
    op->type = legacy;
    In(c, p, op, 0, "X"); In(c, p, op, 1, "OutSize"); In(c, p, op, 2, "SizeTensor"); In(c, p, op, 3, "Scale");
    Out(c, p, op, 0, "Out");
    CopyAll(p, op);
    CopyAttr(p, op, "data_format", "data_layout");
  };
}

// pd_op.conv2d_transpose(x, filter, output_size) -> conv2d_transpose(Input, Filter, OutputSize)
Translator ConvTransposeTranslator(const std::string& legacy) {
  return [legacy](PirContext& c, const PirOp& p, OpDesc* op) {
    op->type = legacy;
    In(c, p, op, 0, "Input"); In(c, p, op, 1, "Filter");
    if (p.operands.size() > 2) In(c, p, op, 2, "OutputSize");
    Out(c, p, op, 0, "Output");
    CopyAll(p, op);
  };
}

Attr IntAttr(int64_t v) {
  Attr a;
  a.kind = Attr::Kind::kInt;
  a.i = v;
  a.f = static_cast<double>(v);
  return a;
}

const std::map<std::string, Translator>& PirTable() {
  static const std::map<std::string, Translator> table = {
      {"matmul", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "matmul_v2";
         In(c, p, op, 0, "X"); In(c, p, op, 1, "Y"); Out(c, p, op, 0, "Out");
         CopyAttr(p, op, "transpose_x", "trans_x"); CopyAttr(p, op, "transpose_y", "trans_y");
       }},
      {"add", Binary("elementwise_add")}, {"subtract", Binary("elementwise_sub")}, {"multiply", Binary("elementwise_mul")},
      {"divide", Binary("elementwise_div")}, {"maximum", Binary("elementwise_max")}, {"minimum", Binary("elementwise_min")},
      {"elementwise_pow", Binary("elementwise_pow")}, {"floor_divide", Binary("elementwise_floordiv")},
      {"remainder", Binary("elementwise_mod")}, {"equal", Binary("equal")}, {"not_equal", Binary("not_equal")},
      {"less_than", Binary("less_than")}, {"less_equal", Binary("less_equal")}, {"greater_than", Binary("greater_than")},
      {"greater_equal", Binary("greater_equal")},
      {"relu", Unary("relu")}, {"relu6", Unary("relu6")}, {"sigmoid", Unary("sigmoid")}, {"tanh", Unary("tanh")},
      {"gelu", Unary("gelu")}, {"hardswish", Unary("hard_swish")}, {"silu", Unary("silu")}, {"swish", Unary("silu")},
      {"exp", Unary("exp")}, {"sqrt", Unary("sqrt")}, {"rsqrt", Unary("rsqrt")}, {"abs", Unary("abs")},
      {"square", Unary("square")}, {"erf", Unary("erf")}, {"softmax", Unary("softmax")}, {"assign", Unary("assign")},
      {"leaky_relu", [](PirContext& c, const PirOp& p, OpDesc* op) {
         Unary("leaky_relu")(c, p, op);
         CopyAttr(p, op, "negative_slope", "alpha");
       }},
      {"hardsigmoid", Unary("hard_sigmoid")},
      {"scale", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "scale";
         In(c, p, op, 0, "X");
         if (p.operands.size() > 1) In(c, p, op, 1, "ScaleTensor");
         Out(c, p, op, 0, "Out");
         CopyAttr(p, op, "bias", "bias"); CopyAttr(p, op, "bias_after_scale", "bias_after_scale");
         CopyAttr(p, op, "scale", "scale");
       }},
      {"full", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "fill_constant";
         Out(c, p, op, 0, "Out");
         CopyAttr(p, op, "shape", "shape"); CopyAttr(p, op, "value", "value"); CopyAttr(p, op, "dtype", "dtype");
       }},
      {"full_int_array", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "assign_value";
         Out(c, p, op, 0, "Out");
         auto v = p.attrs.find("value");
         Attr values;
         values.kind = Attr::Kind::kInts;
         if (v != p.attrs.end()) values.ints = v->second.ints;
         op->attrs["int64_values"] = values;
         c.int_arrays[op->outputs.back().second[0]] = values.ints;
         Attr shape;
         shape.kind = Attr::Kind::kInts;
         shape.ints = {static_cast<int64_t>(values.ints.size())};
         op->attrs["shape"] = shape;
         auto dt = p.attrs.find("dtype");
         op->attrs["dtype"] = dt != p.attrs.end() ? dt->second : IntAttr(static_cast<int64_t>(DType::kInt64));
       }},
      {"reshape", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "reshape2";
         In(c, p, op, 0, "X"); In(c, p, op, 1, "Shape"); Out(c, p, op, 0, "Out");
       }},
      {"transpose", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "transpose2";
         In(c, p, op, 0, "X"); Out(c, p, op, 0, "Out");
         CopyAttr(p, op, "perm", "axis");
       }},
      {"flatten", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "flatten_contiguous_range";
         In(c, p, op, 0, "X"); Out(c, p, op, 0, "Out");
         CopyAttr(p, op, "start_axis", "start_axis"); CopyAttr(p, op, "stop_axis", "stop_axis");
       }},
      {"unsqueeze", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "unsqueeze2";
         In(c, p, op, 0, "X"); In(c, p, op, 1, "AxesTensor"); Out(c, p, op, 0, "Out");
       }},
      {"squeeze", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "squeeze2";
         In(c, p, op, 0, "X"); In(c, p, op, 1, "AxesTensor"); Out(c, p, op, 0, "Out");
       }},
      {"slice", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "slice";
         In(c, p, op, 0, "Input"); In(c, p, op, 1, "StartsTensor"); In(c, p, op, 2, "EndsTensor");
         Out(c, p, op, 0, "Out");
         CopyAttr(p, op, "axes", "axes"); CopyAttr(p, op, "decrease_axis", "decrease_axis");
       }},
      {"shape", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "shape"; In(c, p, op, 0, "Input"); Out(c, p, op, 0, "Out");
       }},
      {"shape64", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "shape"; In(c, p, op, 0, "Input"); Out(c, p, op, 0, "Out");
         op->attrs["out_int64"] = IntAttr(1);
       }},
      {"arange", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "range";
         In(c, p, op, 0, "Start"); In(c, p, op, 1, "End"); In(c, p, op, 2, "Step"); Out(c, p, op, 0, "Out");
         CopyAttr(p, op, "dtype", "dtype");
       }},
      {"embedding", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "lookup_table_v2";
         In(c, p, op, 0, "Ids"); In(c, p, op, 1, "W"); Out(c, p, op, 0, "Out");
         CopyAttr(p, op, "padding_idx", "padding_idx");
       }},
      {"layer_norm", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "layer_norm";
         In(c, p, op, 0, "X"); In(c, p, op, 1, "Scale"); In(c, p, op, 2, "Bias");
         Out(c, p, op, 0, "Y");
         for (size_t i = 1; i < p.results.size(); ++i) DeclareResult(c, *p.results[i]);
         CopyAttr(p, op, "epsilon", "epsilon"); CopyAttr(p, op, "begin_norm_axis", "begin_norm_axis");
       }},
      {"dropout", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "dropout";
         In(c, p, op, 0, "X");
         if (p.operands.size() > 2) In(c, p, op, 2, "P");
         Out(c, p, op, 0, "Out");
         for (size_t i = 1; i < p.results.size(); ++i) DeclareResult(c, *p.results[i]);
         CopyAttr(p, op, "mode", "dropout_implementation"); CopyAttr(p, op, "p", "dropout_prob");
       }},
      {"batch_norm", nullptr}, {"batch_norm_", nullptr},
      {"conv2d", nullptr}, {"depthwise_conv2d", nullptr},
      {"pool2d", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "pool2d";
         In(c, p, op, 0, "X"); In(c, p, op, 1, "KSize"); Out(c, p, op, 0, "Out");
         for (const char* a : {"strides", "paddings", "ceil_mode", "exclusive", "data_format", "pooling_type", "global_pooling",
                               "adaptive", "padding_algorithm"})
           CopyAttr(p, op, a, a);
       }},
      {"concat", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "concat";
         In(c, p, op, 0, "X"); In(c, p, op, 1, "AxisTensor"); Out(c, p, op, 0, "Out");
       }},
      {"cast", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "cast"; In(c, p, op, 0, "X"); Out(c, p, op, 0, "Out");
         CopyAttr(p, op, "dtype", "out_dtype");
       }},
      {"split_with_num", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "split";
         In(c, p, op, 0, "X"); In(c, p, op, 1, "AxisTensor");
         VectorOut(c, p, op, "Out");
         CopyAttr(p, op, "num", "num");
       }},
      {"split", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "split";
         In(c, p, op, 0, "X"); In(c, p, op, 1, "SectionsTensor"); In(c, p, op, 2, "AxisTensor");
         VectorOut(c, p, op, "Out");
       }},
      {"mean", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "reduce_mean"; In(c, p, op, 0, "X"); Out(c, p, op, 0, "Out");
         CopyAttr(p, op, "axis", "dim"); CopyAttr(p, op, "keepdim", "keep_dim");
         AxisOperandAsAttr(c, p, op);
       }},
      // ---- ops added for the model zoo (kernels in ops_*.cc) ----
      {"rnn", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "rnn";
         In(c, p, op, 0, "Input"); In(c, p, op, 1, "PreState"); In(c, p, op, 2, "WeightList");
         if (p.operands.size() > 3) In(c, p, op, 3, "SequenceLength");
         Out(c, p, op, 0, "Out");
         for (size_t i = 1; i < p.results.size(); ++i) {
           if (i != 2) { DeclareResultIfAny(c, *p.results[i]); continue; }
           PirOp state = p;
           state.results = {p.results[2]};
           VectorOut(c, state, op, "State");
         }
         CopyAll(p, op);
       }},
      {"full_with_tensor", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "fill_constant";
         In(c, p, op, 0, "ValueTensor"); In(c, p, op, 1, "ShapeTensor"); Out(c, p, op, 0, "Out");
         CopyAttr(p, op, "dtype", "dtype");
       }},
      {"stack", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "stack"; In(c, p, op, 0, "X"); Out(c, p, op, 0, "Y"); CopyAttr(p, op, "axis", "axis");
       }},
      {"expand", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "expand_v2"; In(c, p, op, 0, "X"); In(c, p, op, 1, "Shape"); Out(c, p, op, 0, "Out");
       }},
      {"expand_as", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "expand_as_v2"; In(c, p, op, 0, "X"); if (p.operands.size() > 1) In(c, p, op, 1, "Y");
         Out(c, p, op, 0, "Out"); CopyAttr(p, op, "target_shape", "target_shape");
       }},
      {"meshgrid", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "meshgrid"; In(c, p, op, 0, "X"); VectorOut(c, p, op, "Out");
       }},
      {"strided_slice", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "strided_slice";
         In(c, p, op, 0, "Input"); In(c, p, op, 1, "StartsTensor"); In(c, p, op, 2, "EndsTensor"); In(c, p, op, 3, "StridesTensor");
         Out(c, p, op, 0, "Out"); CopyAttr(p, op, "axes", "axes");
       }},
      {"full_like", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "fill_any_like"; In(c, p, op, 0, "X"); In(c, p, op, 1, "ValueTensor"); Out(c, p, op, 0, "Out");
         CopyAttr(p, op, "dtype", "dtype");
       }},
      {"cumsum", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "cumsum"; In(c, p, op, 0, "X"); In(c, p, op, 1, "AxisTensor"); Out(c, p, op, 0, "Out"); CopyAll(p, op);
       }},
      {"argmax", ArgTranslator("arg_max")}, {"argmin", ArgTranslator("arg_min")},
      {"max", ReduceTranslator("reduce_max")}, {"min", ReduceTranslator("reduce_min")},
      {"bilinear_interp", InterpTranslator("bilinear_interp_v2")}, {"nearest_interp", InterpTranslator("nearest_interp_v2")},
      {"linear_interp", InterpTranslator("linear_interp_v2")}, {"bicubic_interp", InterpTranslator("bicubic_interp_v2")},
      {"trilinear_interp", InterpTranslator("trilinear_interp_v2")},
      {"conv2d_transpose", ConvTransposeTranslator("conv2d_transpose")},
      {"depthwise_conv2d_transpose", ConvTransposeTranslator("depthwise_conv2d_transpose")},
      {"conv3d", ConvTransposeTranslator("conv3d")},  // (input, filter) -> conv3d(Input, Filter)
      {"yolo_box", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "yolo_box"; In(c, p, op, 0, "X"); In(c, p, op, 1, "ImgSize");
         Out(c, p, op, 0, "Boxes"); Out(c, p, op, 1, "Scores"); CopyAll(p, op);
       }},
      {"multiclass_nms3", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "multiclass_nms3"; In(c, p, op, 0, "BBoxes"); In(c, p, op, 1, "Scores");
         if (p.operands.size() > 2) In(c, p, op, 2, "RoisNum");
         Out(c, p, op, 0, "Out"); Out(c, p, op, 1, "Index"); Out(c, p, op, 2, "NmsRoisNum"); CopyAll(p, op);
       }},
      // ---- indexing / selection / padding (ops_index.cc); scalar and int-array operands
      // (full / full_int_array results) become the legacy ops' tensor inputs ----
      {"gather", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "gather"; In(c, p, op, 0, "X"); In(c, p, op, 1, "Index");
         if (p.operands.size() > 2) In(c, p, op, 2, "Axis");
         Out(c, p, op, 0, "Out"); CopyAll(p, op);
       }},
      {"gather_nd", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "gather_nd"; In(c, p, op, 0, "X"); In(c, p, op, 1, "Index"); Out(c, p, op, 0, "Out");
       }},
      {"index_select", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "index_select"; In(c, p, op, 0, "X"); In(c, p, op, 1, "Index"); Out(c, p, op, 0, "Out");
         CopyAttr(p, op, "axis", "dim");
       }},
      {"scatter", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "scatter"; In(c, p, op, 0, "X"); In(c, p, op, 1, "Ids"); In(c, p, op, 2, "Updates"); Out(c, p, op, 0, "Out");
         CopyAll(p, op);
       }},
      {"prior_box", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "prior_box"; In(c, p, op, 0, "Input"); In(c, p, op, 1, "Image");
         Out(c, p, op, 0, "Boxes"); Out(c, p, op, 1, "Variances"); CopyAll(p, op);
       }},
      {"where", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "where"; In(c, p, op, 0, "Condition"); In(c, p, op, 1, "X"); In(c, p, op, 2, "Y"); Out(c, p, op, 0, "Out");
       }},
      {"masked_select", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "masked_select"; In(c, p, op, 0, "X"); In(c, p, op, 1, "Mask"); Out(c, p, op, 0, "Y");
       }},
      {"logical_and", Binary("logical_and")}, {"logical_or", Binary("logical_or")}, {"logical_xor", Binary("logical_xor")},
      {"logical_not", Unary("logical_not")},
      {"topk", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "top_k_v2"; In(c, p, op, 0, "X"); if (p.operands.size() > 1) In(c, p, op, 1, "K");
         Out(c, p, op, 0, "Out"); Out(c, p, op, 1, "Indices"); CopyAll(p, op);
       }},
      {"tile", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "tile"; In(c, p, op, 0, "X"); if (p.operands.size() > 1) In(c, p, op, 1, "RepeatTimes");
         Out(c, p, op, 0, "Out"); CopyAll(p, op);
       }},
      {"roll", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "roll"; In(c, p, op, 0, "X"); if (p.operands.size() > 1) In(c, p, op, 1, "ShiftsTensor");
         Out(c, p, op, 0, "Out"); CopyAll(p, op);
       }},
      {"clip", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "clip"; In(c, p, op, 0, "X"); In(c, p, op, 1, "Min"); In(c, p, op, 2, "Max"); Out(c, p, op, 0, "Out");
       }},
      {"one_hot", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "one_hot_v2"; In(c, p, op, 0, "X"); In(c, p, op, 1, "depth_tensor"); Out(c, p, op, 0, "Out");
       }},
      {"pad3d", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "pad3d"; In(c, p, op, 0, "X"); if (p.operands.size() > 1) In(c, p, op, 1, "Paddings");
         Out(c, p, op, 0, "Out"); CopyAll(p, op); CopyAttr(p, op, "pad_value", "value");
       }},
      {"pad", [](PirContext& c, const PirOp& p, OpDesc* op) {
         op->type = "pad"; In(c, p, op, 0, "X"); if (p.operands.size() > 1) In(c, p, op, 1, "PadValue");
         Out(c, p, op, 0, "Out"); CopyAll(p, op);
       }},
  };
  return table;
}

void TranslateConv(PirContext& c, const PirOp& p, OpDesc* op) {
  op->type = p.name;
  In(c, p, op, 0, "Input");
  In(c, p, op, 1, "Filter");
  Out(c, p, op, 0, "Output");
  for (const char* a : {"strides", "paddings", "padding_algorithm", "dilations", "groups", "data_format"}) CopyAttr(p, op, a, a);
}

void TranslateBatchNorm(PirContext& c, const PirOp& p, OpDesc* op) {
  op->type = "batch_norm";
  In(c, p, op, 0, "X");
  In(c, p, op, 1, "Mean");
  In(c, p, op, 2, "Variance");
  In(c, p, op, 3, "Scale");
  In(c, p, op, 4, "Bias");
  Out(c, p, op, 0, "Y");
  for (size_t i = 1; i < p.results.size(); ++i) DeclareResult(c, *p.results[i]);
  CopyAttr(p, op, "epsilon", "epsilon");
  CopyAttr(p, op, "data_format", "data_layout");
}

// An op with no translation is kept under its PIR name (e.g. "pd_op.rnn"), which no kernel
// has: its operands and results stay wired so the rest of the program still parses, and the
// loader reports every such op at once (model_io.cc) instead of stopping at the first.
void KeepUnsupported(PirContext& c, const PirOp& p, const std::string& full, OpDesc* op) {
  op->type = full;
  op->source_type = full;
  for (size_t i = 0; i < p.operands.size(); ++i) In(c, p, op, i, "X");
  for (const auto* r : p.results) {
    const JsonValue* tt = r->Find("TT");
    const JsonValue* tag = tt ? tt->Find("#") : nullptr;
    int64_t id = ValueId(c, *r);
    if (id == 0) continue;  // a null result: nothing reads it
    if (tag && tag->IsString() && tag->text == "0.t_vec") {
      PirOp one = p;
      one.results = {r};
      VectorOut(c, one, op, "Out");
    } else {
      op->outputs.emplace_back("Out", std::vector<std::string>{DeclareResult(c, *r)});
    }
  }
}

}  // namespace

std::string PirSupportedOpList() {
  std::string out = "builtin.parameter (p), builtin.combine, builtin.split, pd_op.data, pd_op.fetch";
  for (const auto& kv : PirTable()) out += ", pd_op." + kv.first;
  return out;
}

Program ParsePirJson(const uint8_t* data, size_t size, const std::string& file, std::vector<std::string>* param_names) {
  JsonValue doc = ParseJson(data, size, file);
  Program program;
  PirContext c{file, &program, {}, {}, {}, {}, 0};
  const JsonValue* base = doc.Find("base_code");
  const JsonValue* magic = base ? base->Find("magic") : nullptr;
  if (!magic || !magic->IsString() || magic->text != "pir") c.Fail(doc, "not a PIR program (base_code.magic != \"pir\")");
  const JsonValue* prog = doc.Find("program");
  const JsonValue* regions = prog ? prog->Find("regions") : nullptr;
  if (!regions || !regions->IsArray() || regions->items.empty()) c.Fail(doc, "program.regions missing");
  const JsonValue* blocks = regions->items[0].Find("blocks");
  if (!blocks || !blocks->IsArray() || blocks->items.empty()) c.Fail(regions->items[0], "regions[0].blocks missing");
  const JsonValue* ops = blocks->items[0].Find("ops");
  if (!ops || !ops->IsArray()) c.Fail(blocks->items[0], "blocks[0].ops missing");
  std::vector<std::string> fetch_outputs;
  for (const auto& jop : ops->items) {
    const JsonValue* tag = jop.Find("#");
    if (!tag || !tag->IsString()) c.Fail(jop, "op without a \"#\" name");
    const std::string& full = tag->text;
    if (full == "p") {  // builtin.parameter: A = [is_distributed, is_parameter, need_clip, name]
      const JsonValue* a = jop.Find("A");
      const JsonValue* o = jop.Find("O");
      if (!a || !a->IsArray() || a->items.size() < 4 || !a->items[3].IsString() || !o || !o->IsObject()) c.Fail(jop, "malformed parameter op");
      std::string name = a->items[3].text;
      if (name.empty() || name[0] == '%') c.Fail(jop, "bad parameter name");
      DeclareResult(c, *o, name);
      if (!program.vars.back().is_tensor) c.Fail(*o, "parameter " + name + " is not a dense tensor");
      // OA = [persistable, stop_gradient, trainable]: a non-persistable parameter (the rnn
      // op's dropout state) has no record in the pdiparams file.
      const JsonValue* oa = jop.Find("OA");
      bool persistable = !(oa && oa->IsArray() && !oa->items.empty() && oa->items[0].is_integer && oa->items[0].integer == 0);
      program.vars.back().persistable = persistable;
      if (persistable) param_names->push_back(name);
      continue;
    }
    PirOp p;
    p.json = &jop;
    auto dot = full.find('.');
    std::string dialect = dot == std::string::npos ? "" : full.substr(0, dot);
    p.name = dot == std::string::npos ? full : full.substr(dot + 1);
    const JsonValue* attrs = jop.Find("A");
    if (attrs && attrs->IsArray()) {
      for (const auto& at : attrs->items) {
        const JsonValue* n = at.Find("N");
        const JsonValue* v = at.Find("AT");
        if (!n || !n->IsString() || !v) c.Fail(at, "attribute without N/AT");
        p.attrs[n->text] = ConvertAttr(c, *v);
      }
    }
    const JsonValue* ins = jop.Find("I");
    if (ins && ins->IsArray()) for (const auto& v : ins->items) p.operands.push_back(&v);
    const JsonValue* outs = jop.Find("O");
    if (outs && outs->IsArray()) for (const auto& v : outs->items) p.results.push_back(&v);
    else if (outs && outs->IsObject()) p.results.push_back(outs);

    if (dialect == "0" && p.name == "combine") {
      if (p.results.size() != 1) c.Fail(jop, "combine must have one result");
      std::vector<std::string> names;
      for (const auto* v : p.operands) names.push_back(OperandName(c, *v));
      int64_t id = ValueId(c, *p.results[0]);
      c.vectors[id] = names;
      c.names[id] = "%vector" + std::to_string(id);
      continue;
    }
    if (dialect == "0" && p.name == "split") {  // builtin.split: unpack a vector into values
      if (p.operands.size() != 1) c.Fail(jop, "builtin.split must have one operand");
      auto vec = c.vectors.find(ValueId(c, *p.operands[0]));
      if (vec == c.vectors.end() || vec->second.size() != p.results.size()) c.Fail(jop, "builtin.split of a value that is not a vector of matching size");
      for (size_t i = 0; i < p.results.size(); ++i) {
        int64_t id = ValueId(c, *p.results[i]);
        if (id == 0 || c.names.count(id)) c.Fail(*p.results[i], "bad or duplicate result id");
        c.names[id] = vec->second[i];
      }
      continue;
    }
    OpDesc op;
    op.offset = jop.offset;
    if (dialect != "1") {
      KeepUnsupported(c, p, full, &op);
      program.ops.push_back(std::move(op));
      continue;
    }
    op.source_type = "pd_op." + p.name;
    if (p.name == "data") {
      auto n = p.attrs.find("name");
      if (n == p.attrs.end() || n->second.s.empty() || p.results.size() != 1) c.Fail(jop, "pd_op.data without a name");
      std::string name = DeclareResult(c, *p.results[0], n->second.s);
      op.type = "feed";
      op.outputs.emplace_back("Out", std::vector<std::string>{name});
      op.attrs["col"] = IntAttr(c.feeds++);
      program.ops.push_back(std::move(op));
      continue;
    }
    if (p.name == "fetch") {
      auto n = p.attrs.find("name");
      auto col = p.attrs.find("col");
      if (n == p.attrs.end() || n->second.s.empty() || p.operands.size() != 1) c.Fail(jop, "pd_op.fetch without a name or operand");
      std::string src = OperandName(c, *p.operands[0]);
      if (src.empty()) c.Fail(jop, "fetch of a null value");
      // Outputs are named as Paddle names them (fetch_name_N): copy the value to that name.
      OpDesc assign;
      assign.type = "assign";
      assign.offset = jop.offset;
      assign.source_type = "-";
      assign.inputs.emplace_back("X", std::vector<std::string>{src});
      if (!c.declared.insert(n->second.s).second) c.Fail(jop, "duplicate fetch name " + n->second.s);
      VarDesc var;
      var.name = n->second.s;
      var.is_tensor = true;
      program.vars.push_back(var);
      assign.outputs.emplace_back("Out", std::vector<std::string>{n->second.s});
      program.ops.push_back(std::move(assign));
      op.type = "fetch";
      op.inputs.emplace_back("X", std::vector<std::string>{n->second.s});
      op.attrs["col"] = IntAttr(col != p.attrs.end() ? col->second.i : static_cast<int64_t>(fetch_outputs.size()));
      fetch_outputs.push_back(n->second.s);
      program.ops.push_back(std::move(op));
      continue;
    }
    if (p.name == "conv2d" || p.name == "depthwise_conv2d") {
      TranslateConv(c, p, &op);
    } else if (p.name == "batch_norm" || p.name == "batch_norm_") {
      TranslateBatchNorm(c, p, &op);
    } else {
      auto t = PirTable().find(p.name);
      if (t != PirTable().end() && t->second) t->second(c, p, &op);
      else KeepUnsupported(c, p, op.source_type, &op);
    }
    program.ops.push_back(std::move(op));
  }
  if (program.ops.empty()) c.Fail(doc, "program has no ops");
  // The pdiparams records are in sorted-name order (as in the legacy format).
  std::sort(param_names->begin(), param_names->end());
  if (std::adjacent_find(param_names->begin(), param_names->end()) != param_names->end()) c.Fail(doc, "duplicate parameter name");
  return program;
}

}  // namespace paddle_native
