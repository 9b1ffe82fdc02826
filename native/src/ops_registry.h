// Kernels beyond kernels.cc (recurrent, interpolation, detection, NLP helpers, ...), each
// group in its own ops_*.cc file. KernelTable() merges them once; a name already in the
// base table is never replaced.
#pragma once

#include <map>
#include <string>

#include "executor.h"

namespace paddle_native {

using KernelMap = std::map<std::string, KernelFn>;

void AddExtraKernels(KernelMap* table);  // ops_registry.cc: calls each group below
// Whether `fn` is one of these kernels with a shape-only mode (returns after its outputs and
// scratch when ctx.Dry()); every one but kNeedsRealRun's ops in ops_registry.cc.
bool ExtraSupportsShapeOnly(KernelFn fn);

void AddTensorKernels(KernelMap* table);     // ops_tensor.cc
void AddRnnKernels(KernelMap* table);        // ops_rnn.cc
void AddInterpKernels(KernelMap* table);     // ops_interp.cc
void AddDetectionKernels(KernelMap* table);  // ops_detection.cc
void AddIndexKernels(KernelMap* table);      // ops_index.cc
void AddConv3dKernels(KernelMap* table);     // ops_conv3d.cc

}  // namespace paddle_native
