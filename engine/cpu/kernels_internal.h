#pragma once
// Internal interface between the dispatcher (kernels.cpp) and the per-ISA kernel files
// (kernels_avx2.cpp, kernels_avx512.cpp, kernels_avx512bf16.cpp), each compiled with its own -m flags
// (engine/CMakeLists.txt) so that the rest of the engine stays baseline x86-64.
#include <cstddef>
#include <cstdint>

#include "engine/dtype.h"

namespace moescope::cpu::detail {

// Rows [r0, r1) of Y = X · Wᵀ for all n tokens:
//   W: [rows][cols] in dtype wt, X: [n][cols] float32 (contiguous), Y[i * ldy + r] for i < n.
// Each Y element is one dot product whose order of operations depends only on the ISA and cols.
void rows_scalar(DType wt, const void* W, int64_t cols, int64_t r0, int64_t r1, const float* X, int64_t n,
                 float* Y, int64_t ldy);
void rows_avx2(DType wt, const void* W, int64_t cols, int64_t r0, int64_t r1, const float* X, int64_t n,
               float* Y, int64_t ldy);
void rows_avx512(DType wt, const void* W, int64_t cols, int64_t r0, int64_t r1, const float* X, int64_t n,
                 float* Y, int64_t ldy);

// Q8_0 weights (engine/model/quantize.h, rows of 34-byte blocks): rows dequantised exactly to float32,
// kQ8Rows at a time into a per-thread scratch, then multiplied by the level's float32 kernel `f32`
// (so a Q8_0 product equals the float32 product of the dequantised weights on that level). `dequant`
// expands one row. The AVX-512 matvec (n == 1) instead works on the blocks directly (mv_row_q8).
using RowsF32Fn = void (*)(const void* W, int64_t cols, int64_t r0, int64_t r1, const float* X, int64_t n, float* Y,
                           int64_t ldy);
using DequantRowFn = void (*)(const uint8_t* row, int64_t cols, float* out);
constexpr int64_t kQ8Rows = 16;
void rows_q8_dequant(const void* W, int64_t cols, int64_t r0, int64_t r1, const float* X, int64_t n, float* Y,
                     int64_t ldy, RowsF32Fn f32, DequantRowFn dequant);
void dequant_row_q8_avx512(const uint8_t* row, int64_t cols, float* out);
// Q8_0 matvec rows [r0, r1) with the activations quantised to 8 bits per 32-block (AVX512-VNNI,
// kernels_avx512vnni.cpp): y[r] = sum_b d_w,b d_x,b sum_j q_j x_q,j.
void rows_q8_vnni(const uint8_t* W, int64_t cols, int64_t r0, int64_t r1, const float* x, float* y);
bool cpu_has_vnni();

// AVX-512 BF16-weight path used by default for BF16 (exact float32 activations): Xp holds the activations
// permuted by perm_bf16_avx512 ([16 even | 16 odd] columns per 32-column block, zero padding,
// ldxp = cols rounded up to 32), so that the weights widen with one shift / one AND per 32 columns.
void rows_avx512_bf16p(const uint16_t* W, int64_t cols, int64_t r0, int64_t r1, const float* Xp, int64_t ldxp,
                       int64_t n, float* Y, int64_t ldy);
void perm_bf16_avx512(const float* X, int64_t cols, int64_t i0, int64_t i1, float* Xp, int64_t ldxp);

// Opt-in fast path (MatmulPrecision::FastBF16): BF16 weights against activations already rounded to
// bf16, Xb: [n][ldxb] with ldxb = cols rounded up to 32 and zero padding, vdpbf16ps accumulation.
void rows_avx512bf16_fast(const uint16_t* W, int64_t cols, int64_t r0, int64_t r1, const uint16_t* Xb,
                          int64_t ldxb, int64_t n, float* Y, int64_t ldy);
// Round-to-nearest-even float32 -> bf16 of tokens [i0, i1) of X [n][cols] into Xb [n][ldxb] (zero pad).
void to_bf16_avx512bf16(const float* X, int64_t cols, int64_t i0, int64_t i1, uint16_t* Xb, int64_t ldxb);

// FastBF16 prefill GEMM with tokens in the vector lanes (kernels_avx512bf16.cpp): cols even,
// Xq = pack_tokens_bf16(X): [ceil(n/16)][cols/2][16] uint32 bf16 pairs (even column in the low half),
// zero past n; pack_tokens_bf16 fills token blocks [b0, b1). Rows [r0, r1) of Y[i * ldy + r].
void pack_tokens_bf16(const float* X, int64_t cols, int64_t n, int64_t b0, int64_t b1, uint32_t* Xq);
void rows_avx512bf16_tok(const uint16_t* W, int64_t cols, int64_t r0, int64_t r1, const uint32_t* Xq, int64_t n,
                         float* Y, int64_t ldy);

// Attention helpers (AVX-512): bit-identical to m calls of dot_avx512 / zero + m calls of axpy_avx512.
void dot_rows_avx512(const float* q, const float* K, int64_t ldk, int64_t m, int64_t d, float* s);
void weighted_rows_avx512(const float* p, const float* V, int64_t ldv, int64_t m, int64_t d, float* o);
void dot_rows_avx512_bf16kv(const float* q, const uint16_t* K, int64_t ldk, int64_t m, int64_t d, float* s);
void weighted_rows_avx512_bf16kv(const float* p, const uint16_t* V, int64_t ldv, int64_t m, int64_t d, float* o);

// Peak loops: `iters` iterations of 12 independent 512-bit FMAs (float32) / vdpbf16ps (bf16 pairs).
double peak_loop_avx512(int64_t iters);
double peak_loop_avx512bf16(int64_t iters);

float dot_avx2(const float* a, const float* b, int64_t n);
float dot_avx512(const float* a, const float* b, int64_t n);
void axpy_avx2(int64_t n, float a, const float* x, float* y);
void axpy_avx512(int64_t n, float a, const float* x, float* y);

// Reads `bytes` (a multiple of 256) from p and returns a value depending on all of it (so the
// compiler cannot drop the loads).
uint64_t read_sum_scalar(const void* p, size_t bytes);
uint64_t read_sum_avx2(const void* p, size_t bytes);
uint64_t read_sum_avx512(const void* p, size_t bytes);

}  // namespace moescope::cpu::detail
