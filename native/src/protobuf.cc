#include "protobuf.h"

#include <cstring>

#include "errors.h"

namespace paddle_native {

void WireReader::Fail(const std::string& what) const { throw FormatError(*file_, base_ + i_, what); }

bool WireReader::NextField(uint32_t* field, uint32_t* wire_type) {
  if (i_ >= n_) return false;
  uint64_t tag = ReadVarint();
  *field = static_cast<uint32_t>(tag >> 3);
  *wire_type = static_cast<uint32_t>(tag & 7);
  if (*field == 0 || tag > 0xFFFFFFFFull) Fail("invalid protobuf tag " + std::to_string(tag));
  return true;
}

uint64_t WireReader::ReadVarint() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (i_ >= n_) Fail("truncated varint");
    uint8_t b = p_[i_++];
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return v;
  }
  Fail("varint longer than 10 bytes");
}

uint32_t WireReader::ReadFixed32() {
  if (n_ - i_ < 4) Fail("truncated fixed32");
  uint32_t v;
  std::memcpy(&v, p_ + i_, 4);
  i_ += 4;
  return v;
}

uint64_t WireReader::ReadFixed64() {
  if (n_ - i_ < 8) Fail("truncated fixed64");
  uint64_t v;
  std::memcpy(&v, p_ + i_, 8);
  i_ += 8;
  return v;
}

WireReader WireReader::ReadMessage() {
  uint64_t len = ReadVarint();
  if (len > n_ - i_) {
    Fail("length-delimited field of " + std::to_string(len) + " bytes overruns its message (" +
         std::to_string(n_ - i_) + " bytes left)");
  }
  WireReader sub(p_ + i_, static_cast<size_t>(len), file_, base_ + i_);
  i_ += static_cast<size_t>(len);
  return sub;
}

std::string WireReader::ReadString() {
  WireReader sub = ReadMessage();
  return std::string(reinterpret_cast<const char*>(sub.p_), sub.n_);
}

void WireReader::Skip(uint32_t wire_type) {
  switch (wire_type) {
    case kVarint: ReadVarint(); return;
    case kFixed64: ReadFixed64(); return;
    case kBytes: ReadMessage(); return;
    case kFixed32: ReadFixed32(); return;
    default: Fail("unsupported protobuf wire type " + std::to_string(wire_type));
  }
}

}  // namespace paddle_native
