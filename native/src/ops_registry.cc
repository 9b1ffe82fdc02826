#include "ops_registry.h"

namespace paddle_native {

void AddExtraKernels(KernelMap* table) {
  KernelMap extra;
  AddTensorKernels(&extra);
  AddRnnKernels(&extra);
  AddInterpKernels(&extra);
  AddDetectionKernels(&extra);
  for (auto& kv : extra) table->emplace(kv.first, kv.second);  // emplace: the base table wins
}

}  // namespace paddle_native
