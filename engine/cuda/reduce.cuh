#pragma once
// Warp and block reductions used by several kernels (device-only helpers, header-only).
#include <cuda_runtime.h>

#include "engine/cuda/ops_math.h"

namespace moescope::gpu {

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ cudamath::AbsMax warp_absmax(cudamath::AbsMax a) {
    for (int o = 16; o > 0; o >>= 1) {
        cudamath::AbsMax b{__shfl_xor_sync(0xffffffffu, a.v, o), __shfl_xor_sync(0xffffffffu, a.idx, o)};
        a = cudamath::absmax_merge(a, b);
    }
    return a;
}

// Sum over the block (blockDim.x a multiple of 32, <= 1024); every thread gets the result.
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float part[32];
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();  // protects `part` when called twice in a row
    if (lane == 0) part[wid] = v;
    __syncthreads();
    float t = lane < nw ? part[lane] : 0.0f;
    return warp_sum(t);
}

__device__ __forceinline__ cudamath::AbsMax block_absmax(cudamath::AbsMax a) {
    __shared__ float pv[32];
    __shared__ int pi[32];
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    a = warp_absmax(a);
    __syncthreads();
    if (lane == 0) {
        pv[wid] = a.v;
        pi[wid] = a.idx;
    }
    __syncthreads();
    cudamath::AbsMax t = lane < nw ? cudamath::AbsMax{pv[lane], pi[lane]} : cudamath::AbsMax{-1.0f, 0x7fffffff};
    return warp_absmax(t);
}

}  // namespace moescope::gpu
