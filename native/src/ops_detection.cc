#include "ops_registry.h"

namespace paddle_native {

void AddDetectionKernels(KernelMap* table) { (void)table; }

}  // namespace paddle_native
