// Q8_0 decode matvec with 8-bit activations (AVX512-VNNI vpdpbusd), compiled with
// -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mf16c (engine/CMakeLists.txt). Used for Q8_0 weights
// (engine/model/quantize.h) at SIMD level avx512bf16 on a CPU with VNNI; the avx512 level keeps the
// float32-activation Q8_0 matvec (kernels_avx512.cpp mv_row_q8).
//
// Like the GGUF engines' Q8_0 x Q8_0 dot product, the activation vector is quantised too, per 32-value
// block: d_x = max|x| / 127, x_q = round(x / d_x) (relative error <= 1/254 of the block's largest
// value, on top of the weights' own); then per block b
//   s_b = sum_j q_j x_q,j          exact in int32 (vpdpbusd: 4 products per lane, 8 lanes)
//   y  += (d_w,b * d_x,b) * s_b    float32, two accumulators (even / odd blocks)
// vpdpbusd multiplies UNSIGNED by signed bytes: the weights are biased to q + 128 (an XOR of the sign
// bit) and the accumulator starts at -128·sum_j x_q,j (per lane, precomputed once per vector), so the
// lanes hold exactly sum q·x_q. Per block ~7 operations on 256-bit vectors instead of ~9 on 512-bit
// ones: decode with Q8_0 weights stays bandwidth-bound on one thread.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/cpu/kernels_internal.h"

namespace moescope::cpu::detail {

namespace {

inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// x [nb*32] -> xq [nb*32] int8, dx [nb] scales, ncorr [nb][8] = -(vpdpbusd of 128s with the block).
void quantize_x(const float* x, int64_t nb, int8_t* xq, float* dx, int32_t* ncorr) {
    const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80));
    for (int64_t b = 0; b < nb; ++b) {
        const __m512 lo = _mm512_loadu_ps(x + b * 32), hi = _mm512_loadu_ps(x + b * 32 + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
        const float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
        dx[b] = d;
        // round to nearest even (the default MXCSR mode), saturate to int8 (|x·id| <= 127 anyway)
        const __m128i q0 = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(lo, _mm512_set1_ps(id))));
        const __m128i q1 = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(hi, _mm512_set1_ps(id))));
        const __m256i q = _mm256_set_m128i(q1, q0);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(xq + b * 32), q);
        const __m256i corr = _mm256_dpbusd_epi32(_mm256_setzero_si256(), bias, q);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(ncorr + b * 8), _mm256_sub_epi32(_mm256_setzero_si256(), corr));
    }
}

// sum_j q_j x_q,j of one block as 8 int32 lanes (exact), converted to float32.
inline __m256 block(const int8_t* q, const int8_t* xq, const int32_t* ncorr) {
    const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80));
    const __m256i qu = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)), bias);
    const __m256i s = _mm256_dpbusd_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ncorr)), qu,
                                          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq)));
    return _mm256_cvtepi32_ps(s);
}

}  // namespace

void rows_q8_vnni(const uint8_t* W, int64_t cols, int64_t r0, int64_t r1, const float* x, float* y) {
    const int64_t nb = cols / kQ8Block;
    thread_local std::vector<int8_t> xq;
    thread_local std::vector<float> dx;
    thread_local std::vector<int32_t> nc;
    xq.resize(static_cast<size_t>(nb * 32));
    dx.resize(static_cast<size_t>(nb + 16));
    nc.resize(static_cast<size_t>(nb * 8));
    quantize_x(x, nb, xq.data(), dx.data(), nc.data());
    const size_t rb = static_cast<size_t>(nb * kQ8BlockBytes);
    alignas(64) float sc[16];
    for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* row = W + r * rb;
        const uint16_t* dh = reinterpret_cast<const uint16_t*>(row);
        const int8_t* q = reinterpret_cast<const int8_t*>(row + 2 * nb);
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        for (int64_t b0 = 0; b0 < nb; b0 += 16) {
            // d_w,b · d_x,b for 16 blocks at once
            const int64_t nd = std::min<int64_t>(16, nb - b0);
            const __mmask16 m = static_cast<__mmask16>(nd >= 16 ? 0xffffu : (1u << nd) - 1u);
            _mm512_store_ps(sc, _mm512_mul_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, dh + b0)),
                                              _mm512_maskz_loadu_ps(m, dx.data() + b0)));
            int64_t j = 0;  // b0 is even: block parity = parity of j
            for (; j + 2 <= nd; j += 2) {
                const int64_t b = b0 + j;
                acc0 = _mm256_fmadd_ps(block(q + b * 32, xq.data() + b * 32, nc.data() + b * 8), _mm256_set1_ps(sc[j]), acc0);
                acc1 = _mm256_fmadd_ps(block(q + (b + 1) * 32, xq.data() + (b + 1) * 32, nc.data() + (b + 1) * 8),
                                       _mm256_set1_ps(sc[j + 1]), acc1);
            }
            if (j < nd) {
                const int64_t b = b0 + j;
                acc0 = _mm256_fmadd_ps(block(q + b * 32, xq.data() + b * 32, nc.data() + b * 8), _mm256_set1_ps(sc[j]), acc0);
            }
        }
        y[r] = hsum8(_mm256_add_ps(acc0, acc1));
    }
}

}  // namespace moescope::cpu::detail
