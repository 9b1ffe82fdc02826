#include "json.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "errors.h"

namespace paddle_native {

namespace {

constexpr int kMaxDepth = 256;

class JsonParser {
 public:
  JsonParser(const uint8_t* data, size_t size, const std::string& file) : p_(data), n_(size), file_(file) {}

  JsonValue ParseDocument() {
    SkipSpace();
    JsonValue v = ParseValue(0);
    SkipSpace();
    if (i_ != n_) Fail("trailing characters after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void Fail(const std::string& what) const { throw FormatError(file_, i_, "invalid JSON: " + what); }

  void SkipSpace() {
    while (i_ < n_ && (p_[i_] == ' ' || p_[i_] == '\t' || p_[i_] == '\n' || p_[i_] == '\r')) ++i_;
  }

  bool Consume(const char* lit) {
    size_t len = std::strlen(lit);
    if (n_ - i_ >= len && std::memcmp(p_ + i_, lit, len) == 0) {
      i_ += len;
      return true;
    }
    return false;
  }

  JsonValue ParseValue(int depth) {
    if (depth > kMaxDepth) Fail("nesting deeper than " + std::to_string(kMaxDepth));
    if (i_ >= n_) Fail("unexpected end of input");
    JsonValue v;
    v.offset = i_;
    uint8_t c = p_[i_];
    if (c == '{') {
      v.kind = JsonValue::Kind::kObject;
      ++i_;
      SkipSpace();
      if (i_ < n_ && p_[i_] == '}') {
        ++i_;
        return v;
      }
      for (;;) {
        SkipSpace();
        if (i_ >= n_ || p_[i_] != '"') Fail("expected a string key");
        std::string key = ParseString();
        SkipSpace();
        if (i_ >= n_ || p_[i_] != ':') Fail("expected ':'");
        ++i_;
        SkipSpace();
        v.members.emplace_back(std::move(key), ParseValue(depth + 1));
        SkipSpace();
        if (i_ < n_ && p_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < n_ && p_[i_] == '}') {
          ++i_;
          return v;
        }
        Fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v.kind = JsonValue::Kind::kArray;
      ++i_;
      SkipSpace();
      if (i_ < n_ && p_[i_] == ']') {
        ++i_;
        return v;
      }
      for (;;) {
        SkipSpace();
        v.items.push_back(ParseValue(depth + 1));
        SkipSpace();
        if (i_ < n_ && p_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < n_ && p_[i_] == ']') {
          ++i_;
          return v;
        }
        Fail("expected ',' or ']'");
      }
    }
    if (c == '"') {
      v.kind = JsonValue::Kind::kString;
      v.text = ParseString();
      return v;
    }
    if (Consume("true")) {
      v.kind = JsonValue::Kind::kBool;
      v.boolean = true;
      return v;
    }
    if (Consume("false")) {
      v.kind = JsonValue::Kind::kBool;
      return v;
    }
    if (Consume("null")) return v;
    if (c == '-' || (c >= '0' && c <= '9')) {
      ParseNumber(&v);
      return v;
    }
    // Paddle writes non-finite floats as bare words in some versions; accept only these.
    if (Consume("NaN")) {
      v.kind = JsonValue::Kind::kNumber;
      v.number = NAN;
      return v;
    }
    if (Consume("Infinity")) {
      v.kind = JsonValue::Kind::kNumber;
      v.number = INFINITY;
      return v;
    }
    Fail(std::string("unexpected character '") + static_cast<char>(c) + "'");
  }

  void ParseNumber(JsonValue* v) {
    size_t start = i_;
    bool integral = true;
    if (p_[i_] == '-') {
      ++i_;
      if (Consume("Infinity")) {
        v->kind = JsonValue::Kind::kNumber;
        v->number = -INFINITY;
        return;
      }
    }
    if (i_ >= n_ || !(p_[i_] >= '0' && p_[i_] <= '9')) Fail("expected a digit");
    if (p_[i_] == '0') {
      ++i_;
    } else {
      while (i_ < n_ && p_[i_] >= '0' && p_[i_] <= '9') ++i_;
    }
    if (i_ < n_ && p_[i_] == '.') {
      integral = false;
      ++i_;
      if (i_ >= n_ || !(p_[i_] >= '0' && p_[i_] <= '9')) Fail("expected a digit after '.'");
      while (i_ < n_ && p_[i_] >= '0' && p_[i_] <= '9') ++i_;
    }
    if (i_ < n_ && (p_[i_] == 'e' || p_[i_] == 'E')) {
      integral = false;
      ++i_;
      if (i_ < n_ && (p_[i_] == '+' || p_[i_] == '-')) ++i_;
      if (i_ >= n_ || !(p_[i_] >= '0' && p_[i_] <= '9')) Fail("expected a digit in the exponent");
      while (i_ < n_ && p_[i_] >= '0' && p_[i_] <= '9') ++i_;
    }
    std::string lit(reinterpret_cast<const char*>(p_ + start), i_ - start);
    v->kind = JsonValue::Kind::kNumber;
    v->number = std::strtod(lit.c_str(), nullptr);
    if (integral && lit.size() <= 19) {
      errno = 0;
      char* end = nullptr;
      long long x = std::strtoll(lit.c_str(), &end, 10);
      if (errno == 0 && end && *end == '\0') {
        v->is_integer = true;
        v->integer = x;
      }
    }
  }

  static void AppendUtf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  uint32_t ParseHex4() {
    if (n_ - i_ < 4) Fail("truncated \\u escape");
    uint32_t cp = 0;
    for (int k = 0; k < 4; ++k) {
      uint8_t h = p_[i_++];
      cp <<= 4;
      if (h >= '0' && h <= '9') cp |= h - '0';
      else if (h >= 'a' && h <= 'f') cp |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') cp |= h - 'A' + 10;
      else Fail("bad hex digit in \\u escape");
    }
    return cp;
  }

  std::string ParseString() {
    ++i_;  // opening quote
    std::string out;
    for (;;) {
      if (i_ >= n_) Fail("unterminated string");
      uint8_t c = p_[i_++];
      if (c == '"') return out;
      if (c < 0x20) Fail("control character in string");
      if (c != '\\') {
        out.push_back(static_cast<char>(c));
        continue;
      }
      if (i_ >= n_) Fail("unterminated escape");
      uint8_t e = p_[i_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          uint32_t cp = ParseHex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (!Consume("\\u")) Fail("lone high surrogate");
            uint32_t lo = ParseHex4();
            if (lo < 0xDC00 || lo > 0xDFFF) Fail("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            Fail("lone low surrogate");
          }
          AppendUtf8(&out, cp);
          break;
        }
        default: Fail("unknown escape");
      }
    }
  }

  const uint8_t* p_;
  size_t n_;
  size_t i_ = 0;
  const std::string& file_;
};

}  // namespace

const JsonValue* JsonValue::Find(const std::string& key) const {
  if (kind != Kind::kObject) return nullptr;
  for (const auto& m : members) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

JsonValue ParseJson(const uint8_t* data, size_t size, const std::string& file) {
  JsonParser parser(data, size, file);
  return parser.ParseDocument();
}

}  // namespace paddle_native
