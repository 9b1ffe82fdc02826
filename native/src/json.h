// A small strict JSON parser (RFC 8259) for signature.json and PIR model.json.
// Bounded: nesting depth and input size are limited; errors are ModelFormatError with the
// file name and byte offset.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace paddle_native {

class JsonValue {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  bool is_integer = false;  // the literal had no fraction/exponent and fits int64
  int64_t integer = 0;
  std::string text;  // string value
  std::vector<JsonValue> items;                            // array
  std::vector<std::pair<std::string, JsonValue>> members;  // object, in document order
  uint64_t offset = 0;                                     // where the value starts

  bool IsNull() const { return kind == Kind::kNull; }
  bool IsObject() const { return kind == Kind::kObject; }
  bool IsArray() const { return kind == Kind::kArray; }
  bool IsString() const { return kind == Kind::kString; }
  bool IsNumber() const { return kind == Kind::kNumber; }
  bool IsBool() const { return kind == Kind::kBool; }
  // Member lookup; nullptr when absent or when this is not an object.
  const JsonValue* Find(const std::string& key) const;
};

// Parses `size` bytes; `file` names the source in error messages.
JsonValue ParseJson(const uint8_t* data, size_t size, const std::string& file);

}  // namespace paddle_native
