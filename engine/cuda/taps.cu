#include "engine/cuda/taps.cuh"

#include "engine/cuda/common.cuh"
#include "engine/cuda/ops_math.h"
#include "engine/cuda/reduce.cuh"

namespace moescope::gpu {

namespace {
__global__ void row_stats_kernel(const float* x, int width, const int32_t* row_map, float* out_max,
                                 int32_t* out_channel, float* out_norm, const int32_t* ids, const uint8_t* zeroed) {
    const int64_t i = blockIdx.x;
    const int64_t row = row_map ? row_map[i] : i;
    const bool zero = zeroed && ids[i] >= 0 && zeroed[ids[i]];  // zero_output: report the zeroed output
    if (row < 0 || zero) {
        if (threadIdx.x == 0) {
            out_max[i] = 0.0f;
            out_channel[i] = 0;
            out_norm[i] = 0.0f;
        }
        return;
    }
    const float* r = x + row * width;
    cudamath::AbsMax best{-1.0f, 0x7fffffff};
    float ss = 0.0f;
    for (int c = threadIdx.x; c < width; c += blockDim.x) {
        const float v = r[c];
        ss += v * v;
        best = cudamath::absmax_merge(best, cudamath::AbsMax{fabsf(v), c});
    }
    ss = block_sum(ss);
    best = block_absmax(best);
    if (threadIdx.x == 0) {
        out_max[i] = best.v;
        out_channel[i] = best.idx;
        out_norm[i] = sqrtf(ss);
    }
}
__global__ void contribution_kernel(const float* h, const float* r, int width, float* out) {
    const int64_t i = blockIdx.x;
    const float* hp = h + i * width;
    const float* rp = r + i * width;
    float hh = 0.0f, hr = 0.0f, rr = 0.0f;
    for (int c = threadIdx.x; c < width; c += blockDim.x) {
        const float hv = hp[c], rv = rp[c];
        hh += hv * hv;
        hr += hv * rv;
        rr += rv * rv;
    }
    hh = block_sum(hh);
    hr = block_sum(hr);
    rr = block_sum(rr);
    if (threadIdx.x == 0) {
        const float den = sqrtf(hh) * sqrtf(fmaxf(0.0f, hh + 2.0f * hr + rr));
        const float cs = den > 0.0f ? (hh + hr) / den : 0.0f;
        out[i] = fmaxf(0.0f, 1.0f - cs);
    }
}
}  // namespace

void token_contribution(const float* h, const float* r, int width, int64_t n_rows, float* out, cudaStream_t stream) {
    if (n_rows <= 0) return;
    contribution_kernel<<<unsigned(n_rows), 128, 0, stream>>>(h, r, width, out);
    CUDA_CHECK_LAUNCH("token_contribution");
}

void row_stats(const float* x, int width, const int32_t* row_map, int64_t n_rows, float* out_max, int32_t* out_channel,
               float* out_norm, cudaStream_t stream, const int32_t* ids, const uint8_t* zeroed) {
    if (n_rows <= 0) return;
    row_stats_kernel<<<unsigned(n_rows), 128, 0, stream>>>(x, width, row_map, out_max, out_channel, out_norm, ids,
                                                           zeroed);
    CUDA_CHECK_LAUNCH("row_stats");
}

}  // namespace moescope::gpu
