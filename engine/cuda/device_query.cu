// Device queries for builds with the CUDA backend. Errors from the runtime (no driver, no GPU) become
// a description string, never an abort.
#include <cuda_runtime.h>

#include <cstdio>
#include <string>

#include "engine/device.h"

namespace moescope {

bool cuda_compiled() { return true; }

int cuda_device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky error so later calls start clean
        return 0;
    }
    return n;
}

std::string cuda_device_description() {
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
        cudaGetLastError();
        return std::string("CUDA compiled in, no usable GPU: ") + cudaGetErrorString(err);
    }
    if (n == 0) return "CUDA compiled in, no GPU present";
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return "CUDA compiled in, device 0 unreadable";
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s (sm_%d%d, %.1f GiB)", prop.name, prop.major, prop.minor,
                  prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
    return buf;
}

}  // namespace moescope
