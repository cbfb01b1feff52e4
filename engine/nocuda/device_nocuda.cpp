// Device queries for CPU-only builds (MOESCOPE_CUDA=OFF or no CUDA toolkit at configure time).
#include "engine/device.h"

namespace moescope {

bool cuda_compiled() { return false; }
int cuda_device_count() { return 0; }
std::string cuda_device_description() { return "CUDA backend not compiled in (CPU-only build)"; }

}  // namespace moescope
