#include "ops_registry.h"

#include <set>

namespace paddle_native {

namespace {

KernelMap AllExtra() {
  KernelMap extra;
  AddTensorKernels(&extra);
  AddRnnKernels(&extra);
  AddInterpKernels(&extra);
  AddDetectionKernels(&extra);
  AddIndexKernels(&extra);
  AddConv3dKernels(&extra);
  return extra;
}

// Ops whose output shapes depend on their input values (the detections multiclass_nms3 keeps,
// the elements masked_select picks), so a shape-only pass must run them for real; every other
// kernel of the ops_*.cc files makes its outputs and scratch, then returns when ctx.Dry().
const char* const kNeedsRealRun[] = {"multiclass_nms3", "masked_select"};

}  // namespace

void AddExtraKernels(KernelMap* table) {
  for (auto& kv : AllExtra()) table->emplace(kv.first, kv.second);  // emplace: the base table wins
}

bool ExtraSupportsShapeOnly(KernelFn fn) {
  static const std::set<KernelFn> dry = [] {
    KernelMap extra = AllExtra();
    for (const char* name : kNeedsRealRun) extra.erase(name);
    std::set<KernelFn> s;
    for (const auto& kv : extra) s.insert(kv.second);
    return s;
  }();
  return dry.count(fn) != 0;
}

}  // namespace paddle_native
