#pragma once
// Shared CUDA plumbing: error checks that turn every CUDA/cuBLAS failure into a moescope::Error
// naming the call, the function, the file:line and the runtime's reason (style.md convention 15;
// never exit/abort), RAII device and pinned buffers, and launch helpers.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/error.h"

namespace moescope::gpu {

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* expr, const char* func, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t st, const char* expr, const char* func, const char* file, int line);

#define CUDA_CHECK(expr)                                                                        \
    do {                                                                                        \
        const cudaError_t moescope_err_ = (expr);                                               \
        if (moescope_err_ != cudaSuccess)                                                       \
            ::moescope::gpu::throw_cuda_error(moescope_err_, #expr, __func__, __FILE__, __LINE__); \
    } while (0)

#define CUBLAS_CHECK(expr)                                                                        \
    do {                                                                                          \
        const cublasStatus_t moescope_st_ = (expr);                                               \
        if (moescope_st_ != CUBLAS_STATUS_SUCCESS)                                                \
            ::moescope::gpu::throw_cublas_error(moescope_st_, #expr, __func__, __FILE__, __LINE__); \
    } while (0)

// After a kernel launch: launch-configuration errors surface here (asynchronous faults surface at
// the next synchronizing call, which is checked the same way).
#define CUDA_CHECK_LAUNCH(name) CUDA_CHECK(cudaPeekAtLastError())

inline unsigned grid_for(int64_t n, int block) { return static_cast<unsigned>((n + block - 1) / block); }

std::string format_bytes(size_t bytes);

// Device memory owned by one object. Allocation failure is an Error that names what was being
// allocated, the size needed and the free/total memory reported by the device.
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    DeviceBuffer(size_t bytes, const char* what) { alloc(bytes, what); }
    ~DeviceBuffer() { release(); }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    DeviceBuffer(DeviceBuffer&& o) noexcept : p_(o.p_), bytes_(o.bytes_) { o.p_ = nullptr; o.bytes_ = 0; }
    DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
        if (this != &o) {
            release();
            p_ = o.p_;
            bytes_ = o.bytes_;
            o.p_ = nullptr;
            o.bytes_ = 0;
        }
        return *this;
    }
    void alloc(size_t bytes, const char* what);
    // Grow-only: keeps the allocation when it is already large enough.
    void ensure(size_t bytes, const char* what) {
        if (bytes > bytes_) alloc(bytes, what);
    }
    void release() noexcept;
    template <class T>
    T* as() const { return static_cast<T*>(p_); }
    void* get() const { return p_; }
    size_t bytes() const { return bytes_; }

private:
    void* p_ = nullptr;
    size_t bytes_ = 0;
};

// Page-locked host memory so device->host copies are truly asynchronous.
class PinnedBuffer {
public:
    PinnedBuffer() = default;
    ~PinnedBuffer() { release(); }
    PinnedBuffer(const PinnedBuffer&) = delete;
    PinnedBuffer& operator=(const PinnedBuffer&) = delete;
    void ensure(size_t bytes, const char* what);
    void release() noexcept;
    template <class T>
    T* as() const { return static_cast<T*>(p_); }
    size_t bytes() const { return bytes_; }

private:
    void* p_ = nullptr;
    size_t bytes_ = 0;
};

}  // namespace moescope::gpu
