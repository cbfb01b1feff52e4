#include "engine/cuda/dispatch.cuh"

#include <vector>

#include "engine/cuda/convert.cuh"
#include "engine/cuda/gemm.cuh"
#include "engine/cuda/moe.cuh"
#include "engine/cuda/residual.cuh"
#include "engine/cuda/swiglu.cuh"

namespace moescope::gpu {

Dispatcher::Dispatcher() {
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    const cublasStatus_t st = cublasCreate(&cublas_);
    if (st != CUBLAS_STATUS_SUCCESS) {
        cudaStreamDestroy(stream_);
        CUBLAS_CHECK(st);
    }
    CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    // FP32 accumulate is requested per call (CUBLAS_COMPUTE_32F); allow tensor-core BF16 paths.
    CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
}

Dispatcher::~Dispatcher() {
    if (cublas_) cublasDestroy(cublas_);
    if (stream_) cudaStreamDestroy(stream_);
}

void Dispatcher::gemm_bf16_rows(const uint16_t* W, int64_t rows, int64_t cols, const float* X, int64_t n, float* Y) {
    xbf16_.ensure(size_t(n) * size_t(cols) * 2, "BF16 activations");
    f32_to_bf16(X, xbf16_.as<uint16_t>(), n * cols, stream_);
    gemm_cublas_bf16(cublas_, W, rows, cols, xbf16_.as<uint16_t>(), n, Y);
}

void Dispatcher::linear(const DevMat& W, const float* X, int64_t n, float* Y, const float* bias) {
    if (n <= 0) return;
    if (n <= kGemvMaxRows) gemv_bf16(W.p(), W.rows, W.cols, X, n, Y, stream_);
    else if (precision_ == Precision::FP32) gemm_bf16w_f32(W.p(), W.rows, W.cols, X, n, Y, stream_);
    else gemm_bf16_rows(W.p(), W.rows, W.cols, X, n, Y);
    if (bias) add_bias(Y, bias, n, int(W.rows), stream_);
}

void Dispatcher::linear_fp32(const DevMat& W, const float* X, int64_t n, float* Y) {
    if (n <= 0) return;
    if (n <= kGemvMaxRows) gemv_bf16(W.p(), W.rows, W.cols, X, n, Y, stream_);
    else gemm_bf16w_f32(W.p(), W.rows, W.cols, X, n, Y, stream_);
}

ExpertOutputs Dispatcher::experts(const DevLayer& L, const float* xn, int n_tok, int k, const int32_t* ids) {
    const int E = L.n_experts;
    const int64_t H = L.experts_gu.cols, I = L.expert_inter;
    const int64_t n_slots = int64_t(n_tok) * k;
    const int64_t gu_stride = 2 * I * H, down_stride = H * I;
    if (n_slots <= kGemvMaxSlots) {
        // Decode: each slot reads its own expert's rows; no bucketing, no host round trip.
        gu_.ensure(size_t(n_slots) * 2 * I * 4, "expert gate/up outputs");
        h_.ensure(size_t(n_slots) * I * 4, "expert hidden");
        y_.ensure(size_t(n_slots) * H * 4, "expert outputs");
        moe_gemv_ids(L.experts_gu.p(), gu_stride, 2 * I, H, xn, k, ids, n_slots, gu_.as<float>(), stream_);
        swiglu(gu_.as<float>(), h_.as<float>(), n_slots, int(I), stream_);
        moe_gemv_ids(L.experts_down.p(), down_stride, H, I, h_.as<float>(), 1, ids, n_slots, y_.as<float>(), stream_);
        return {y_.as<float>(), nullptr};
    }
    // Prefill: bucket slots by expert on the device.
    const int64_t max_rows = moe_max_rows(n_slots, E), max_tiles = moe_max_tiles(n_slots, E);
    counts_.ensure(size_t(E) * 4, "MoE counts");
    cursor_.ensure(size_t(E) * 4, "MoE cursors");
    offsets_.ensure(size_t(E + 1) * 4, "MoE offsets");
    tile_expert_.ensure(size_t(max_tiles) * 4, "MoE tile map");
    sorted_slot_.ensure(size_t(max_rows) * 4, "MoE sorted slots");
    slot_row_.ensure(size_t(n_slots) * 4, "MoE slot rows");
    xs_.ensure(size_t(max_rows) * H * 4, "MoE gathered activations");
    gu_.ensure(size_t(max_rows) * 2 * I * 4, "expert gate/up outputs");
    h_.ensure(size_t(max_rows) * I * 4, "expert hidden");
    y_.ensure(size_t(max_rows) * H * 4, "expert outputs");
    MoeBuckets b{counts_.as<int32_t>(),      cursor_.as<int32_t>(),      offsets_.as<int32_t>(),
                 tile_expert_.as<int32_t>(), sorted_slot_.as<int32_t>(), slot_row_.as<int32_t>()};
    moe_bucket(ids, n_slots, E, b, stream_);
    moe_gather(xn, k, b.sorted_slot, max_rows, int(H), xs_.as<float>(), stream_);
    if (precision_ == Precision::FP32) {
        moe_grouped_gemm_f32(L.experts_gu.p(), gu_stride, 2 * I, H, xs_.as<float>(), b.tile_expert, max_tiles,
                             gu_.as<float>(), stream_);
        swiglu(gu_.as<float>(), h_.as<float>(), max_rows, int(I), stream_);
        moe_grouped_gemm_f32(L.experts_down.p(), down_stride, H, I, h_.as<float>(), b.tile_expert, max_tiles,
                             y_.as<float>(), stream_);
        return {y_.as<float>(), b.slot_row};
    }
    // BF16: one GEMM per active expert on its contiguous segment. cuBLAS needs the segment sizes on
    // the host: one synchronisation per MoE layer during prefill (never during decode).
    host_offsets_.ensure(size_t(2 * E + 1) * 4, "MoE offsets (host)");
    int32_t* ho = host_offsets_.as<int32_t>();
    CUDA_CHECK(cudaMemcpyAsync(ho, b.offsets, size_t(E + 1) * 4, cudaMemcpyDeviceToHost, stream_));
    CUDA_CHECK(cudaMemcpyAsync(ho + E + 1, b.counts, size_t(E) * 4, cudaMemcpyDeviceToHost, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    const int32_t* counts = ho + E + 1;
    const int64_t total_rows = ho[E];
    xbf16_.ensure(size_t(total_rows) * size_t(H > I ? H : I) * 2, "BF16 activations");
    uint16_t* xb = xbf16_.as<uint16_t>();
    f32_to_bf16(xs_.as<float>(), xb, total_rows * H, stream_);
    for (int e = 0; e < E; ++e)
        if (counts[e] > 0)
            gemm_cublas_bf16(cublas_, L.experts_gu.p() + size_t(e) * gu_stride, 2 * I, H, xb + size_t(ho[e]) * H,
                             counts[e], gu_.as<float>() + size_t(ho[e]) * 2 * I);
    swiglu(gu_.as<float>(), h_.as<float>(), total_rows, int(I), stream_);
    f32_to_bf16(h_.as<float>(), xb, total_rows * I, stream_);
    for (int e = 0; e < E; ++e)
        if (counts[e] > 0)
            gemm_cublas_bf16(cublas_, L.experts_down.p() + size_t(e) * down_stride, H, I, xb + size_t(ho[e]) * I,
                             counts[e], y_.as<float>() + size_t(ho[e]) * H);
    return {y_.as<float>(), b.slot_row};
}

}  // namespace moescope::gpu
