// AVX-512 BF16 kernels (vdpbf16ps), compiled with -mavx512f -mavx512bw -mavx512vl -mavx512bf16 (see
// engine/CMakeLists.txt). ONLY used for MatmulPrecision::FastBF16, an explicit opt-in: the activations
// are rounded to bf16 (relative error <= 2^-9 per activation), which the faithful default path never
// does. Each product of two bf16 values is exact in float32, so the error is the activation rounding
// plus float32 accumulation; vdpbf16ps also flushes denormals. It doubles the multiply-add rate over
// widening the weights to float32 (32 bf16 pairs per instruction instead of 16 floats).
//
// Order of one dot product: one 16-lane accumulator per (row, token), 32 columns per vdpbf16ps (the
// last block with masked weight loads; the activation rows are zero-padded to a multiple of 32),
// then _mm512_reduce_add_ps. Register tile: 4 rows x 6 tokens.
// GCC 12's _mm512_reduce_add_ps uses deliberately undefined vectors (_mm256_undefined_pd) that
// -Wuninitialized reports at every inlined call; the values are never read.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>

#include "engine/cpu/kernels_internal.h"

namespace moescope::cpu::detail {

namespace {

template <int R, int N>
void tile(const uint16_t* W, int64_t ldw, int64_t cols, const uint16_t* Xb, int64_t ldxb, float* Y,
          int64_t ldy) {
    __m512 acc[R][N];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < N; ++t) acc[r][t] = _mm512_setzero_ps();
    int64_t c = 0;
    for (; c + 32 <= cols; c += 32) {
        __m512i wv[R];
        for (int r = 0; r < R; ++r) wv[r] = _mm512_loadu_si512(W + r * ldw + c);
        for (int t = 0; t < N; ++t) {
            const __m512i xv = _mm512_loadu_si512(Xb + t * ldxb + c);
            for (int r = 0; r < R; ++r) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], (__m512bh)wv[r], (__m512bh)xv);
        }
    }
    if (c < cols) {
        const __mmask32 m = static_cast<__mmask32>((1ull << (cols - c)) - 1ull);
        __m512i wv[R];
        for (int r = 0; r < R; ++r) wv[r] = _mm512_maskz_loadu_epi16(m, W + r * ldw + c);
        for (int t = 0; t < N; ++t) {
            const __m512i xv = _mm512_loadu_si512(Xb + t * ldxb + c);  // zero-padded to ldxb
            for (int r = 0; r < R; ++r) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], (__m512bh)wv[r], (__m512bh)xv);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < N; ++t) Y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
}

template <int R>
void tile_n(int nn, const uint16_t* W, int64_t cols, const uint16_t* Xb, int64_t ldxb, float* Y, int64_t ldy) {
    switch (nn) {
        case 1: return tile<R, 1>(W, cols, cols, Xb, ldxb, Y, ldy);
        case 2: return tile<R, 2>(W, cols, cols, Xb, ldxb, Y, ldy);
        case 3: return tile<R, 3>(W, cols, cols, Xb, ldxb, Y, ldy);
        case 4: return tile<R, 4>(W, cols, cols, Xb, ldxb, Y, ldy);
        case 5: return tile<R, 5>(W, cols, cols, Xb, ldxb, Y, ldy);
        default: return tile<R, 6>(W, cols, cols, Xb, ldxb, Y, ldy);
    }
}

constexpr int kR = 4, kN = 6;

}  // namespace

void rows_avx512bf16_fast(const uint16_t* W, int64_t cols, int64_t r0, int64_t r1, const uint16_t* Xb,
                          int64_t ldxb, int64_t n, float* Y, int64_t ldy) {
    // Token block: bf16 activations (tb x ldxb x 2 bytes) kept within ~256 KiB of L2.
    int64_t tb = (256 * 1024) / std::max<int64_t>(1, ldxb * 2);
    tb = std::clamp<int64_t>(tb / kN * kN, kN, 16 * kN);
    for (int64_t t0 = 0; t0 < n; t0 += tb) {
        const int64_t t1 = std::min(n, t0 + tb);
        for (int64_t r = r0; r < r1; r += kR) {
            const int rr = static_cast<int>(std::min<int64_t>(kR, r1 - r));
            for (int64_t t = t0; t < t1; t += kN) {
                const int nn = static_cast<int>(std::min<int64_t>(kN, t1 - t));
                const uint16_t* w = W + r * cols;
                const uint16_t* x = Xb + t * ldxb;
                float* y = Y + t * ldy + r;
                switch (rr) {
                    case 1: tile_n<1>(nn, w, cols, x, ldxb, y, ldy); break;
                    case 2: tile_n<2>(nn, w, cols, x, ldxb, y, ldy); break;
                    case 3: tile_n<3>(nn, w, cols, x, ldxb, y, ldy); break;
                    default: tile_n<4>(nn, w, cols, x, ldxb, y, ldy); break;
                }
            }
        }
    }
}

void to_bf16_avx512bf16(const float* X, int64_t cols, int64_t i0, int64_t i1, uint16_t* Xb, int64_t ldxb) {
    for (int64_t i = i0; i < i1; ++i) {
        const float* x = X + i * cols;
        uint16_t* xb = Xb + i * ldxb;
        for (int64_t c = 0; c < ldxb; c += 32) {
            const int64_t left = cols - c;
            const __mmask16 m0 = left >= 16 ? __mmask16(0xffff) : left > 0 ? __mmask16((1u << left) - 1u) : __mmask16(0);
            const int64_t left1 = left - 16;
            const __mmask16 m1 = left1 >= 16 ? __mmask16(0xffff) : left1 > 0 ? __mmask16((1u << left1) - 1u) : __mmask16(0);
            const __m512 lo = _mm512_maskz_loadu_ps(m0, x + c);
            const __m512 hi = _mm512_maskz_loadu_ps(m1, x + c + 16);
            // cvtne2ps_pbh(a, b): elements 0..15 come from b, 16..31 from a (round to nearest even).
            _mm512_storeu_si512(xb + c, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
        }
    }
}

}  // namespace moescope::cpu::detail
