#pragma once
// h[r][i] = silu(gu[r][i]) * gu[r][I + i]: the middle of down(silu(gate(x)) * up(x)), reading the
// fused gate|up GEMM output [rows][2I] (gate rows first, as uploaded).
#include <cuda_runtime.h>

#include <cstdint>

namespace moescope::gpu {

void swiglu(const float* gu, float* h, int64_t rows, int inter, cudaStream_t stream);

}  // namespace moescope::gpu
