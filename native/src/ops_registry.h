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

void AddTensorKernels(KernelMap* table);     // ops_tensor.cc
void AddRnnKernels(KernelMap* table);        // ops_rnn.cc
void AddInterpKernels(KernelMap* table);     // ops_interp.cc
void AddDetectionKernels(KernelMap* table);  // ops_detection.cc

}  // namespace paddle_native
