// Error conversion and buffers for the CUDA backend (see common.cuh).
#include "engine/cuda/common.cuh"

#include <cstdio>

namespace moescope::gpu {

namespace {
const char* cublas_reason(cublasStatus_t st) {
    switch (st) {
        case CUBLAS_STATUS_NOT_INITIALIZED: return "cuBLAS not initialized";
        case CUBLAS_STATUS_ALLOC_FAILED: return "cuBLAS allocation failed";
        case CUBLAS_STATUS_INVALID_VALUE: return "invalid value";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "architecture mismatch";
        case CUBLAS_STATUS_MAPPING_ERROR: return "mapping error";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "execution failed";
        case CUBLAS_STATUS_INTERNAL_ERROR: return "internal error";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "not supported";
        case CUBLAS_STATUS_LICENSE_ERROR: return "license error";
        default: return "unknown cuBLAS status";
    }
}
}  // namespace

void throw_cuda_error(cudaError_t err, const char* expr, const char* func, const char* file, int line) {
    char buf[768];
    std::snprintf(buf, sizeof buf, "CUDA error in %s (%s:%d): %s failed: %s (%s)", func, file, line, expr,
                  cudaGetErrorString(err), cudaGetErrorName(err));
    cudaGetLastError();  // clear a non-sticky error so the caller can report and continue
    throw Error(buf);
}

void throw_cublas_error(cublasStatus_t st, const char* expr, const char* func, const char* file, int line) {
    char buf[768];
    std::snprintf(buf, sizeof buf, "cuBLAS error in %s (%s:%d): %s failed: %s (status %d)", func, file, line,
                  expr, cublas_reason(st), static_cast<int>(st));
    throw Error(buf);
}

std::string format_bytes(size_t bytes) {
    char buf[64];
    const double gib = 1024.0 * 1024.0 * 1024.0;
    if (bytes >= (size_t(1) << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / gib);
    else std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024.0));
    return buf;
}

void DeviceBuffer::alloc(size_t bytes, const char* what) {
    release();
    if (bytes == 0) return;
    const cudaError_t err = cudaMalloc(&p_, bytes);
    if (err == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        p_ = nullptr;
        throw Error(std::string("out of GPU memory allocating ") + what + ": needed " + format_bytes(bytes) +
                    ", free " + format_bytes(free_b) + " of " + format_bytes(total_b));
    }
    CUDA_CHECK(err);
    bytes_ = bytes;
}

void DeviceBuffer::release() noexcept {
    if (p_) cudaFree(p_);
    p_ = nullptr;
    bytes_ = 0;
}

void PinnedBuffer::ensure(size_t bytes, const char* what) {
    if (bytes <= bytes_) return;
    release();
    const cudaError_t err = cudaMallocHost(&p_, bytes);
    if (err != cudaSuccess) {
        cudaGetLastError();
        p_ = nullptr;
        throw Error(std::string("cannot allocate pinned host memory for ") + what + " (" + format_bytes(bytes) +
                    "): " + cudaGetErrorString(err));
    }
    bytes_ = bytes;
}

void PinnedBuffer::release() noexcept {
    if (p_) cudaFreeHost(p_);
    p_ = nullptr;
    bytes_ = 0;
}

}  // namespace moescope::gpu
