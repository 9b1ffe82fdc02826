// TEST DOUBLE of the NVML subset gpuTelemetry() uses (nvml.cc): two fake devices and this
// process holding GPU memory on one of them. NOT NVML; it only lets the tests exercise the
// "available" path and its marshalling on machines without a GPU. $NVML_DOUBLE_FAIL_INIT=1
// makes nvmlInit_v2 fail like a machine whose driver is not loaded.
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#define NVML_DOUBLE extern "C" __attribute__((visibility("default")))

namespace {
struct Memory {
  unsigned long long total, free, used;
};
struct Utilization {
  unsigned int gpu, memory;
};
struct ProcessInfo {
  unsigned int pid;
  unsigned long long used_gpu_memory;
  unsigned int gpu_instance_id, compute_instance_id;
};
int device_tokens[2];
}  // namespace

NVML_DOUBLE int nvmlInit_v2() {
  const char* fail = std::getenv("NVML_DOUBLE_FAIL_INIT");
  return fail && *fail == '1' ? 9 /* driver not loaded */ : 0;
}
NVML_DOUBLE int nvmlShutdown() { return 0; }
NVML_DOUBLE const char* nvmlErrorString(int rc) { return rc == 9 ? "Driver Not Loaded" : "Unknown Error"; }
NVML_DOUBLE int nvmlSystemGetDriverVersion(char* buf, unsigned len) {
  std::strncpy(buf, "999.99-test-double", len);
  return 0;
}
NVML_DOUBLE int nvmlDeviceGetCount_v2(unsigned* n) {
  *n = 2;
  return 0;
}
NVML_DOUBLE int nvmlDeviceGetHandleByIndex_v2(unsigned i, void** dev) {
  if (i > 1) return 2;
  *dev = &device_tokens[i];
  return 0;
}
NVML_DOUBLE int nvmlDeviceGetName(void* dev, char* buf, unsigned len) {
  std::strncpy(buf, dev == &device_tokens[0] ? "Test Double GPU 0" : "Test Double GPU 1", len);
  return 0;
}
NVML_DOUBLE int nvmlDeviceGetMemoryInfo(void* dev, Memory* m) {
  m->total = 80ull << 30;
  m->used = dev == &device_tokens[0] ? 3ull << 30 : 0;
  m->free = m->total - m->used;
  return 0;
}
NVML_DOUBLE int nvmlDeviceGetUtilizationRates(void* dev, Utilization* u) {
  u->gpu = dev == &device_tokens[0] ? 42 : 0;
  u->memory = 7;
  return 0;
}
NVML_DOUBLE int nvmlDeviceGetComputeRunningProcesses_v3(void* dev, unsigned* count, ProcessInfo* infos) {
  if (dev != &device_tokens[0]) {
    *count = 0;
    return 0;
  }
  if (*count < 2) return 7; /* insufficient size */
  infos[0] = ProcessInfo{static_cast<unsigned>(getpid()), 512ull << 20, 0, 0};
  infos[1] = ProcessInfo{1, 1ull << 30, 0, 0};
  *count = 2;
  return 0;
}
