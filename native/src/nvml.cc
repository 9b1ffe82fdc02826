#include "nvml.h"

#include <dlfcn.h>
#include <unistd.h>

namespace paddle_native {

namespace {

// NVML C API facts (nvml.h): return code 0 = success; opaque device handles; these structs.
using NvmlReturn = int;
using NvmlDevice = void*;
struct NvmlMemory {
  unsigned long long total, free, used;
};
struct NvmlUtilization {
  unsigned int gpu, memory;
};
struct NvmlProcessInfo {  // nvmlProcessInfo_t as used by the _v3 query
  unsigned int pid;
  unsigned long long used_gpu_memory;
  unsigned int gpu_instance_id;
  unsigned int compute_instance_id;
};

struct DlCloser {
  void* handle;
  ~DlCloser() {
    if (handle) dlclose(handle);
  }
};

template <typename Fn>
Fn Sym(void* lib, const char* name) {
  return reinterpret_cast<Fn>(dlsym(lib, name));
}

}  // namespace

GpuTelemetry ReadGpuTelemetry(const std::string& library) {
  GpuTelemetry t;
  void* lib = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* err = dlerror();
    t.reason = "NVML not loadable (" + library + "): " + (err ? err : "unknown dlopen error");
    return t;
  }
  DlCloser closer{lib};
  auto init = Sym<NvmlReturn (*)()>(lib, "nvmlInit_v2");
  auto shutdown = Sym<NvmlReturn (*)()>(lib, "nvmlShutdown");
  auto error_string = Sym<const char* (*)(NvmlReturn)>(lib, "nvmlErrorString");
  auto driver = Sym<NvmlReturn (*)(char*, unsigned)>(lib, "nvmlSystemGetDriverVersion");
  auto count = Sym<NvmlReturn (*)(unsigned*)>(lib, "nvmlDeviceGetCount_v2");
  auto by_index = Sym<NvmlReturn (*)(unsigned, NvmlDevice*)>(lib, "nvmlDeviceGetHandleByIndex_v2");
  auto get_name = Sym<NvmlReturn (*)(NvmlDevice, char*, unsigned)>(lib, "nvmlDeviceGetName");
  auto memory = Sym<NvmlReturn (*)(NvmlDevice, NvmlMemory*)>(lib, "nvmlDeviceGetMemoryInfo");
  auto util = Sym<NvmlReturn (*)(NvmlDevice, NvmlUtilization*)>(lib, "nvmlDeviceGetUtilizationRates");
  auto procs = Sym<NvmlReturn (*)(NvmlDevice, unsigned*, NvmlProcessInfo*)>(lib, "nvmlDeviceGetComputeRunningProcesses_v3");
  if (!init || !shutdown || !driver || !count || !by_index || !get_name || !memory || !util) {
    t.reason = "NVML library " + library + " lacks a required symbol (nvmlInit_v2, nvmlDeviceGetCount_v2, ...)";
    return t;
  }
  auto describe = [&](NvmlReturn rc) {
    return std::string(error_string ? error_string(rc) : "error") + " (code " + std::to_string(rc) + ")";
  };
  NvmlReturn rc = init();
  if (rc != 0) {
    t.reason = "nvmlInit_v2 failed: " + describe(rc);
    return t;
  }
  char buf[256] = {0};
  if (driver(buf, sizeof(buf)) == 0) t.driver_version = buf;
  unsigned n = 0;
  rc = count(&n);
  if (rc != 0 || n == 0) {
    t.reason = rc != 0 ? "nvmlDeviceGetCount_v2 failed: " + describe(rc) : "NVML reports no GPU devices";
    shutdown();
    return t;
  }
  const unsigned pid = static_cast<unsigned>(getpid());
  for (unsigned i = 0; i < n && i < 64; ++i) {
    NvmlDevice dev = nullptr;
    if (by_index(i, &dev) != 0) continue;
    GpuDevice d;
    d.index = i;
    char name[256] = {0};
    if (get_name(dev, name, sizeof(name)) == 0) d.name = name;
    NvmlMemory mem{0, 0, 0};
    if (memory(dev, &mem) == 0) {
      d.memory_used = mem.used;
      d.memory_total = mem.total;
    }
    NvmlUtilization u{0, 0};
    if (util(dev, &u) == 0) d.utilization_gpu = u.gpu;
    if (procs) {
      NvmlProcessInfo infos[128];
      unsigned cap = 128;
      if (procs(dev, &cap, infos) == 0) {
        for (unsigned k = 0; k < cap && k < 128; ++k) {
          if (infos[k].pid == pid) t.process_memory += infos[k].used_gpu_memory;
        }
      }
    }
    t.devices.push_back(d);
  }
  shutdown();
  t.available = true;
  return t;
}

}  // namespace paddle_native
