// Typed errors of the native predictor. Every failure the caller can act on is one of these;
// the Node layer turns `code` into the matching JS error class (native/lib/errors.ts).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace paddle_native {

enum class ErrorCode {
  kVerification,  // ModelVerificationError
  kFormat,        // ModelFormatError
  kUnsupportedOp, // UnsupportedOpError
  kShape,         // ShapeError
  kMemoryLimit,   // MemoryLimitError
  kArgument,      // bad argument from the caller (TypeError in JS)
  kBackend,       // backend library problems (paddle backend, NVML)
  kNotImplemented,
};

inline const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kVerification: return "ERR_MODEL_VERIFICATION";
    case ErrorCode::kFormat: return "ERR_MODEL_FORMAT";
    case ErrorCode::kUnsupportedOp: return "ERR_UNSUPPORTED_OP";
    case ErrorCode::kShape: return "ERR_SHAPE";
    case ErrorCode::kMemoryLimit: return "ERR_MEMORY_LIMIT";
    case ErrorCode::kArgument: return "ERR_INVALID_ARGUMENT";
    case ErrorCode::kBackend: return "ERR_BACKEND";
    case ErrorCode::kNotImplemented: return "ERR_NOT_IMPLEMENTED";
  }
  return "ERR_UNKNOWN";
}

class PaddleError : public std::runtime_error {
 public:
  PaddleError(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// A format error names the file, the byte offset and what was expected there.
inline PaddleError FormatError(const std::string& file, uint64_t offset, const std::string& what) {
  return PaddleError(ErrorCode::kFormat, file + " at offset " + std::to_string(offset) + ": " + what);
}

inline PaddleError VerificationError(const std::string& what) {
  return PaddleError(ErrorCode::kVerification, what);
}

inline PaddleError ShapeErr(const std::string& what) { return PaddleError(ErrorCode::kShape, what); }

}  // namespace paddle_native
