// The "paddle" backend: Paddle Inference's C API (capi_exp: PD_Config*, PD_Predictor*,
// PD_Tensor*) loaded with dlopen at run time. The model comes from the verified bytes in memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "executor.h"
#include "model_io.h"

namespace paddle_native {

// The Paddle Inference version this image is built for (CHECKLIST 1.1); a library reporting
// another version is refused unless LoadOptions.paddle_version says otherwise.
constexpr const char* kPaddleVersionBuiltFor = "3.0.0";
constexpr const char* kPaddleLibraryDefault = "libpaddle_inference_c.so";

std::unique_ptr<Engine> CreatePaddleEngine(const LoadOptions& options, const std::string& format,
                                           const std::vector<uint8_t>& model, const std::vector<uint8_t>& params);

// "x.y.z" from a version string such as "version: 3.0.0\ncommit: ..."; empty when none.
std::string ExtractSemver(const std::string& text);

}  // namespace paddle_native
