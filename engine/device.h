#pragma once
// What compute devices this build and machine offer. Implemented in engine/cuda/ when the CUDA backend
// is compiled in, and in engine/nocuda/ otherwise.
#include <string>

namespace moescope {

bool cuda_compiled();
// Number of usable CUDA devices (0 when CUDA is not compiled in, no driver, or no GPU).
int cuda_device_count();
// "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)" for device 0, or a reason why there is none.
std::string cuda_device_description();

}  // namespace moescope
