// GPU telemetry through NVML, loaded with dlopen at call time (libnvidia-ml.so.1). No NVML,
// no driver or no device -> available=false with the reason; never a crash.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace paddle_native {

struct GpuDevice {
  unsigned index = 0;
  std::string name;
  uint64_t memory_used = 0;
  uint64_t memory_total = 0;
  unsigned utilization_gpu = 0;
};

struct GpuTelemetry {
  bool available = false;
  std::string reason;
  std::string driver_version;
  std::vector<GpuDevice> devices;
  uint64_t process_memory = 0;  // this process's GPU memory, summed over devices
};

// `library` overrides the library name (tests point it at a missing file).
GpuTelemetry ReadGpuTelemetry(const std::string& library = "libnvidia-ml.so.1");

}  // namespace paddle_native
