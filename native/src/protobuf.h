// A minimal protobuf wire-format reader (varint, 64-bit, length-delimited, 32-bit), bounds
// checked at every step. Errors are ModelFormatError naming the file and the absolute offset.
#pragma once

#include <cstdint>
#include <string>

namespace paddle_native {

class WireReader {
 public:
  enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

  WireReader(const uint8_t* data, size_t size, const std::string* file, uint64_t base_offset = 0)
      : p_(data), n_(size), file_(file), base_(base_offset) {}

  bool AtEnd() const { return i_ >= n_; }
  uint64_t Offset() const { return base_ + i_; }

  // Reads a tag; returns false at the end of the message.
  bool NextField(uint32_t* field, uint32_t* wire_type);
  uint64_t ReadVarint();
  uint32_t ReadFixed32();
  uint64_t ReadFixed64();
  // A length-delimited field: returns a sub-reader over its bytes.
  WireReader ReadMessage();
  std::string ReadString();
  void Skip(uint32_t wire_type);

  [[noreturn]] void Fail(const std::string& what) const;

 private:
  const uint8_t* p_;
  size_t n_;
  size_t i_ = 0;
  const std::string* file_;
  uint64_t base_;
};

}  // namespace paddle_native
