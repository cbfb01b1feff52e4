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
#include <vector>

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

// ---- token-lane panel GEMM (the prefill kernel of FastBF16 for n >= 16 tokens) ----
// Here a vector's 16 lanes are 16 TOKENS, not 16 columns: each vdpbf16ps multiplies one weight pair
// W[r][2k], W[r][2k+1] (a 32-bit broadcast straight from the row-major weights: no weight repacking,
// no copy) with the same column pair of 16 tokens (the packed activations, pack_tokens_bf16), so an
// accumulator holds 16 finished partial sums and no horizontal reduction is needed. Register tile:
// 8 rows x 32 tokens (16 accumulators, 2 activation loads + 8 broadcasts per 16 vdpbf16ps).
// Blocking: tokens in chunks whose packed activations stay in L2, columns in K blocks of 512 whose
// 8 weight rows (8 KiB) stay in L1 while every token tile of the chunk passes over them; partial sums
// are parked in a small [8][tokens] scratch between K blocks.
// Order of one output element: k pairs in increasing order, one vdpbf16ps each (K blocks only
// park/reload the exact float32 partial sum) — fixed by `cols`, independent of rows, tokens, threads.
namespace {

constexpr int kTR = 8;           // rows per register tile
constexpr int64_t kKC = 256;     // column pairs per K block (512 columns)

// HALF: the last of the NV token vectors holds at most 8 real tokens (the tail of n), so it runs on
// 256-bit vectors (tokens 0..7 of its block): half the cost of the padded lanes on this core, whose
// 512-bit operations are two 256-bit halves. Each lane's arithmetic is the same at either width.
template <int R, int NV, bool HALF>
void tok_tile(const uint32_t* const* w, int64_t k0, int64_t k1, const uint32_t* Xq, int64_t KP, float* acc_buf,
              int64_t ld_acc, bool first) {
    constexpr int NF = HALF ? NV - 1 : NV;  // full 16-token vectors
    __m512 acc[R][NV];
    __m256 acch[R];
    for (int r = 0; r < R; ++r) {
        for (int v = 0; v < NF; ++v)
            acc[r][v] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc_buf + r * ld_acc + v * 16);
        if constexpr (HALF) acch[r] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(acc_buf + r * ld_acc + NF * 16);
    }
    for (int64_t k = k0; k < k1; ++k) {
        __m512i xv[NV];
        __m256i xh = _mm256_setzero_si256();
        for (int v = 0; v < NF; ++v) xv[v] = _mm512_loadu_si512(Xq + (v * KP + k) * 16);
        if constexpr (HALF) xh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(Xq + (NF * KP + k) * 16));
        for (int r = 0; r < R; ++r) {
            const __m512i wb = _mm512_set1_epi32(static_cast<int>(w[r][k]));
            for (int v = 0; v < NF; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], (__m512bh)xv[v], (__m512bh)wb);
            if constexpr (HALF)
                acch[r] = _mm256_dpbf16_ps(acch[r], (__m256bh)xh, (__m256bh)_mm512_castsi512_si256(wb));
        }
    }
    for (int r = 0; r < R; ++r) {
        for (int v = 0; v < NF; ++v) _mm512_storeu_ps(acc_buf + r * ld_acc + v * 16, acc[r][v]);
        if constexpr (HALF) _mm256_storeu_ps(acc_buf + r * ld_acc + NF * 16, acch[r]);
    }
}

template <int R>
void tok_tile_v(int nv, bool half, const uint32_t* const* w, int64_t k0, int64_t k1, const uint32_t* Xq, int64_t KP,
                float* acc_buf, int64_t ld_acc, bool first) {
    if (nv == 2) {
        if (half) tok_tile<R, 2, true>(w, k0, k1, Xq, KP, acc_buf, ld_acc, first);
        else tok_tile<R, 2, false>(w, k0, k1, Xq, KP, acc_buf, ld_acc, first);
    } else {
        if (half) tok_tile<R, 1, true>(w, k0, k1, Xq, KP, acc_buf, ld_acc, first);
        else tok_tile<R, 1, false>(w, k0, k1, Xq, KP, acc_buf, ld_acc, first);
    }
}

thread_local std::vector<float> t_acc;

}  // namespace

void pack_tokens_bf16(const float* X, int64_t cols, int64_t n, int64_t b0, int64_t b1, uint32_t* Xq) {
    const int64_t KP = cols / 2;
    thread_local std::vector<uint32_t> row;
    row.resize(static_cast<size_t>((KP + 15) / 16 * 16));
    for (int64_t b = b0; b < b1; ++b) {
        uint32_t* blk = Xq + b * KP * 16;
        for (int i = 0; i < 16; ++i) {
            const int64_t t = b * 16 + i;
            if (t >= n) {
                for (int64_t k = 0; k < KP; ++k) blk[k * 16 + i] = 0;
                continue;
            }
            const float* x = X + t * cols;
            for (int64_t k = 0; k < KP; k += 16) {  // 32 columns -> 16 bf16 pairs (round to nearest even)
                const int64_t left = std::min<int64_t>(16, KP - k);
                // Two float pairs -> one 32-bit (even column low, odd column high): the bf16 results of
                // cvtne2ps come out in memory order, so no deinterleave is needed.
                const __mmask16 m0 = static_cast<__mmask16>(left >= 8 ? 0xffffu : (1u << (2 * left)) - 1u);
                const __mmask16 m1 = static_cast<__mmask16>(left >= 16 ? 0xffffu : left > 8 ? (1u << (2 * left - 16)) - 1u : 0u);
                const __m512 a = _mm512_maskz_loadu_ps(m0, x + 2 * k);
                const __m512 b2 = _mm512_maskz_loadu_ps(m1, x + 2 * k + 16);
                const __m512i packed = (__m512i)_mm512_cvtne2ps_pbh(b2, a);
                _mm512_storeu_si512(row.data() + k, packed);
            }
            for (int64_t k = 0; k < KP; ++k) blk[k * 16 + i] = row[static_cast<size_t>(k)];
        }
    }
}

void rows_avx512bf16_tok(const uint16_t* W, int64_t cols, int64_t r0, int64_t r1, const uint32_t* Xq, int64_t n,
                         float* Y, int64_t ldy) {
    const int64_t KP = cols / 2, nb = (n + 15) / 16;
    // Token chunk: packed activations (16 * KP * 4 bytes per block) within ~384 KiB of L2.
    int64_t cb = (384 * 1024) / std::max<int64_t>(1, 16 * KP * 4);
    cb = std::max<int64_t>(2, cb / 2 * 2);
    if (t_acc.size() < static_cast<size_t>(kTR * cb * 16)) t_acc.resize(static_cast<size_t>(kTR * cb * 16));
    float* acc = t_acc.data();
    for (int64_t b0 = 0; b0 < nb; b0 += cb) {
        const int64_t b1 = std::min(nb, b0 + cb), ld_acc = (b1 - b0) * 16;
        const int64_t t_end = std::min(n, b1 * 16);
        for (int64_t r = r0; r < r1; r += kTR) {
            const int rr = static_cast<int>(std::min<int64_t>(kTR, r1 - r));
            const uint32_t* w[kTR];
            for (int i = 0; i < kTR; ++i)
                w[i] = reinterpret_cast<const uint32_t*>(W + (r + std::min(i, rr - 1)) * cols);
            for (int64_t k0 = 0; k0 < KP; k0 += kKC) {
                const int64_t k1 = std::min(KP, k0 + kKC);
                for (int64_t b = b0; b < b1; b += 2) {
                    const int nv = static_cast<int>(std::min<int64_t>(2, b1 - b));
                    const bool half = b + nv == nb && n - (nb - 1) * 16 <= 8;  // tail block of <= 8 tokens
                    const uint32_t* xq = Xq + b * KP * 16;
                    float* ab = acc + (b - b0) * 16;
                    switch (rr) {
                        case 1: tok_tile_v<1>(nv, half, w, k0, k1, xq, KP, ab, ld_acc, k0 == 0); break;
                        case 2: tok_tile_v<2>(nv, half, w, k0, k1, xq, KP, ab, ld_acc, k0 == 0); break;
                        case 3: tok_tile_v<3>(nv, half, w, k0, k1, xq, KP, ab, ld_acc, k0 == 0); break;
                        case 4: tok_tile_v<4>(nv, half, w, k0, k1, xq, KP, ab, ld_acc, k0 == 0); break;
                        case 5: tok_tile_v<5>(nv, half, w, k0, k1, xq, KP, ab, ld_acc, k0 == 0); break;
                        case 6: tok_tile_v<6>(nv, half, w, k0, k1, xq, KP, ab, ld_acc, k0 == 0); break;
                        case 7: tok_tile_v<7>(nv, half, w, k0, k1, xq, KP, ab, ld_acc, k0 == 0); break;
                        default: tok_tile_v<8>(nv, half, w, k0, k1, xq, KP, ab, ld_acc, k0 == 0); break;
                    }
                }
            }
            for (int i = 0; i < rr; ++i)
                for (int64_t t = b0 * 16; t < t_end; ++t) Y[t * ldy + r + i] = acc[i * ld_acc + (t - b0 * 16)];
        }
    }
}

double peak_loop_avx512bf16(int64_t iters) {
    // 12 independent vdpbf16ps chains (more than latency x throughput): the core's BF16 dot-product peak.
    // Named registers, not an array: GCC kept an array of accumulators on the stack.
    __m512 a0 = _mm512_set1_ps(0e-3f), a1 = _mm512_set1_ps(1e-3f), a2 = _mm512_set1_ps(2e-3f), a3 = _mm512_set1_ps(3e-3f),
           a4 = _mm512_set1_ps(4e-3f), a5 = _mm512_set1_ps(5e-3f), a6 = _mm512_set1_ps(6e-3f), a7 = _mm512_set1_ps(7e-3f),
           a8 = _mm512_set1_ps(8e-3f), a9 = _mm512_set1_ps(9e-3f), a10 = _mm512_set1_ps(10e-3f), a11 = _mm512_set1_ps(11e-3f);
    const __m512i x = _mm512_set1_epi32(0x3f803f80), y = _mm512_set1_epi32(0x00010001);  // 1.0 pairs, tiny
    for (int64_t it = 0; it < iters; ++it) {
        a0 = _mm512_dpbf16_ps(a0, (__m512bh)x, (__m512bh)y);
        a1 = _mm512_dpbf16_ps(a1, (__m512bh)x, (__m512bh)y);
        a2 = _mm512_dpbf16_ps(a2, (__m512bh)x, (__m512bh)y);
        a3 = _mm512_dpbf16_ps(a3, (__m512bh)x, (__m512bh)y);
        a4 = _mm512_dpbf16_ps(a4, (__m512bh)x, (__m512bh)y);
        a5 = _mm512_dpbf16_ps(a5, (__m512bh)x, (__m512bh)y);
        a6 = _mm512_dpbf16_ps(a6, (__m512bh)x, (__m512bh)y);
        a7 = _mm512_dpbf16_ps(a7, (__m512bh)x, (__m512bh)y);
        a8 = _mm512_dpbf16_ps(a8, (__m512bh)x, (__m512bh)y);
        a9 = _mm512_dpbf16_ps(a9, (__m512bh)x, (__m512bh)y);
        a10 = _mm512_dpbf16_ps(a10, (__m512bh)x, (__m512bh)y);
        a11 = _mm512_dpbf16_ps(a11, (__m512bh)x, (__m512bh)y);
    }
    const __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                   _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)),
                                                 _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11))));
    return static_cast<double>(_mm512_reduce_add_ps(s));
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
