// AVX-512 (F+BW+VL) kernels, compiled with -mavx512f -mavx512bw -mavx512vl -mfma -mf16c (see
// engine/CMakeLists.txt) and only called when the CPU has them (kernels.cpp dispatches).
//
// How a matmul dot product is computed here (see kernels.h "Determinism"):
// one 16-lane float32 accumulator per (row, token); for each block of 16 columns the weights are widened
// in registers (BF16: zero-extend to 32 bits and shift left 16 — exact; F16: vcvtph2ps — exact) and
// fused-multiply-added with the 16 activations; the last partial block uses masked loads (zeros beyond
// cols); the 16 lanes are then summed by _mm512_reduce_add_ps. No FP32 copy of the weights is made.
//
// Register tiles: matmul computes R=4 rows x N=6 tokens at once (24 accumulators), so each widened
// weight vector is reused by 6 tokens and each activation vector by 4 rows; tokens are processed in
// blocks that keep their activations in L2 while the 4 weight rows stay in L1. matvec (n = 1) streams
// one row at a time with two accumulators (see mv_row). So a row's result for n = 1 (matvec order)
// and n >= 2 (tile order) differ in rounding; each is fixed for its n class and the SIMD level.
// GCC 12's _mm512_reduce_add_ps uses deliberately undefined vectors (_mm256_undefined_pd) that
// -Wuninitialized reports at every inlined call; the values are never read.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "engine/cpu/kernels_internal.h"

namespace moescope::cpu::detail {

namespace {

constexpr int kR = 4, kN = 6;  // matmul register tile

template <DType WT>
struct Ld;

template <>
struct Ld<DType::BF16> {
    using T = uint16_t;
    static __m512 full(const T* p) {
        const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    static __m512 part(const T* p, __mmask16 m) {
        const __m256i h = _mm256_maskz_loadu_epi16(m, p);
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
};

template <>
struct Ld<DType::F16> {
    using T = uint16_t;
    static __m512 full(const T* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
    static __m512 part(const T* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
};

template <>
struct Ld<DType::F32> {
    using T = float;
    static __m512 full(const T* p) { return _mm512_loadu_ps(p); }
    static __m512 part(const T* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};


// ---- matvec: one row at a time ----
// Measured on the reference machine (Zen 4): streaming ONE weight row at a time reads at the
// streaming-read bandwidth, while several rows in flight (rows of 2048 bf16 are 4 KiB apart, so they
// alias in L1 and compete for the prefetchers) lose 15-45%. One FMA chain would be latency-bound
// (2 FMAs of 4 cycles per 64 bytes), so each row uses two independent accumulators.
// Order: acc0 takes even 16-column blocks, acc1 odd ones (the partial last block, masked, goes to
// the accumulator whose turn it is); result = reduce_add(acc0 + acc1).
template <DType WT>
float mv_row(const typename Ld<WT>::T* w, int64_t cols, const float* x) {
    using L = Ld<WT>;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t c = 0;
    for (; c + 32 <= cols; c += 32) {
        acc0 = _mm512_fmadd_ps(L::full(w + c), _mm512_loadu_ps(x + c), acc0);
        acc1 = _mm512_fmadd_ps(L::full(w + c + 16), _mm512_loadu_ps(x + c + 16), acc1);
    }
    if (c + 16 <= cols) {
        acc0 = _mm512_fmadd_ps(L::full(w + c), _mm512_loadu_ps(x + c), acc0);
        c += 16;
        if (c < cols) {
            const __mmask16 m = static_cast<__mmask16>((1u << (cols - c)) - 1u);
            acc1 = _mm512_fmadd_ps(L::part(w + c, m), _mm512_maskz_loadu_ps(m, x + c), acc1);
        }
    } else if (c < cols) {
        const __mmask16 m = static_cast<__mmask16>((1u << (cols - c)) - 1u);
        acc0 = _mm512_fmadd_ps(L::part(w + c, m), _mm512_maskz_loadu_ps(m, x + c), acc0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

// Y[t*ldy + r] = dot(W row r, X row t) for r < R, t < N.  W: R rows of `cols` (stride ldw elements).
template <DType WT, int R, int N>
void tile(const typename Ld<WT>::T* W, int64_t ldw, int64_t cols, const float* X, int64_t ldx, float* Y,
          int64_t ldy) {
    using L = Ld<WT>;
    __m512 acc[R][N];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < N; ++t) acc[r][t] = _mm512_setzero_ps();
    int64_t c = 0;
    for (; c + 16 <= cols; c += 16) {
        __m512 wv[R];
        for (int r = 0; r < R; ++r) wv[r] = L::full(W + r * ldw + c);
        for (int t = 0; t < N; ++t) {
            const __m512 xv = _mm512_loadu_ps(X + t * ldx + c);
            for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    if (c < cols) {
        const __mmask16 m = static_cast<__mmask16>((1u << (cols - c)) - 1u);
        __m512 wv[R];
        for (int r = 0; r < R; ++r) wv[r] = L::part(W + r * ldw + c, m);
        for (int t = 0; t < N; ++t) {
            const __m512 xv = _mm512_maskz_loadu_ps(m, X + t * ldx + c);
            for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < N; ++t) Y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
}

template <DType WT, int R>
void tile_n(int nn, const typename Ld<WT>::T* W, int64_t cols, const float* X, float* Y, int64_t ldy) {
    switch (nn) {
        case 1: return tile<WT, R, 1>(W, cols, cols, X, cols, Y, ldy);
        case 2: return tile<WT, R, 2>(W, cols, cols, X, cols, Y, ldy);
        case 3: return tile<WT, R, 3>(W, cols, cols, X, cols, Y, ldy);
        case 4: return tile<WT, R, 4>(W, cols, cols, X, cols, Y, ldy);
        case 5: return tile<WT, R, 5>(W, cols, cols, X, cols, Y, ldy);
        default: return tile<WT, R, 6>(W, cols, cols, X, cols, Y, ldy);
    }
}


template <DType WT>
void rows_t(const void* Wv, int64_t cols, int64_t r0, int64_t r1, const float* X, int64_t n, float* Y,
            int64_t ldy) {
    using T = typename Ld<WT>::T;
    const T* W = static_cast<const T*>(Wv);
    if (n == 1) {
        for (int64_t r = r0; r < r1; ++r) Y[r] = mv_row<WT>(W + r * cols, cols, X);
        return;
    }
    // Token block: its activations (tb x cols float32) should stay in L2 (~256 KiB of it).
    int64_t tb = (256 * 1024) / std::max<int64_t>(1, cols * 4);
    tb = std::clamp<int64_t>(tb / kN * kN, kN, 16 * kN);
    for (int64_t t0 = 0; t0 < n; t0 += tb) {
        const int64_t t1 = std::min(n, t0 + tb);
        for (int64_t r = r0; r < r1; r += kR) {
            const int rr = static_cast<int>(std::min<int64_t>(kR, r1 - r));
            for (int64_t t = t0; t < t1; t += kN) {
                const int nn = static_cast<int>(std::min<int64_t>(kN, t1 - t));
                const T* w = W + r * cols;
                const float* x = X + t * cols;
                float* y = Y + t * ldy + r;
                switch (rr) {
                    case 1: tile_n<WT, 1>(nn, w, cols, x, y, ldy); break;
                    case 2: tile_n<WT, 2>(nn, w, cols, x, y, ldy); break;
                    case 3: tile_n<WT, 3>(nn, w, cols, x, y, ldy); break;
                    default: tile_n<WT, 4>(nn, w, cols, x, y, ldy); break;
                }
            }
        }
    }
}


// BF16 weights, 32 columns per 512-bit load. A 32-bit lane j of the load holds columns c+2j (low half)
// and c+2j+1 (high half), so the exact float32 values are one shift (even columns) and one AND (odd
// columns) away — no cross-lane widening shuffle. The activations come pre-permuted (perm_bf16_avx512)
// as [16 even | 16 odd] per 32-column block and zero-padded to a multiple of 32.
// Order per (row, token): acc = fma(w_even, x_even, acc); acc = fma(w_odd, x_odd, acc) per block.
template <int R, int N>
void tile_eo(const uint16_t* W, int64_t ldw, int64_t cols, const float* Xp, int64_t ldxp, float* Y,
             int64_t ldy) {
    const __m512i himask = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
    __m512 acc[R][N];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < N; ++t) acc[r][t] = _mm512_setzero_ps();
    auto step = [&](const __m512i* raw, int64_t c) {
        __m512 we[R], wo[R];
        for (int r = 0; r < R; ++r) {
            we[r] = _mm512_castsi512_ps(_mm512_slli_epi32(raw[r], 16));
            wo[r] = _mm512_castsi512_ps(_mm512_and_si512(raw[r], himask));
        }
        for (int t = 0; t < N; ++t) {
            const __m512 xe = _mm512_loadu_ps(Xp + t * ldxp + c);
            for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(we[r], xe, acc[r][t]);
            const __m512 xo = _mm512_loadu_ps(Xp + t * ldxp + c + 16);
            for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wo[r], xo, acc[r][t]);
        }
    };
    int64_t c = 0;
    for (; c + 32 <= cols; c += 32) {
        __m512i raw[R];
        for (int r = 0; r < R; ++r) {
            raw[r] = _mm512_loadu_si512(W + r * ldw + c);
        }
        step(raw, c);
    }
    if (c < cols) {
        const __mmask32 m = static_cast<__mmask32>((1ull << (cols - c)) - 1ull);
        __m512i raw[R];
        for (int r = 0; r < R; ++r) raw[r] = _mm512_maskz_loadu_epi16(m, W + r * ldw + c);
        step(raw, c);
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < N; ++t) Y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
}


// matvec row for BF16 against permuted activations: acc_e collects the even columns, acc_o the odd
// ones (the two independent chains); result = reduce_add(acc_e + acc_o).
float mv_row_eo(const uint16_t* w, int64_t cols, const float* xp) {
    const __m512i himask = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
    __m512 ae = _mm512_setzero_ps(), ao = _mm512_setzero_ps();
    int64_t c = 0;
    for (; c + 32 <= cols; c += 32) {
        const __m512i v = _mm512_loadu_si512(w + c);
        ae = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), _mm512_loadu_ps(xp + c), ae);
        ao = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v, himask)), _mm512_loadu_ps(xp + c + 16), ao);
    }
    if (c < cols) {
        const __mmask32 m = static_cast<__mmask32>((1ull << (cols - c)) - 1ull);
        const __m512i v = _mm512_maskz_loadu_epi16(m, w + c);
        ae = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), _mm512_loadu_ps(xp + c), ae);
        ao = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v, himask)), _mm512_loadu_ps(xp + c + 16), ao);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(ae, ao));
}

// Four matvec rows at once for SHORT rows (cols <= kShortRow; the demo model's are 128-160 wide), where
// the horizontal reduction costs about as much as the row itself. Each row's accumulators follow
// mv_row_eo exactly, and the four reductions are done together with the very tree of GCC's
// _mm512_reduce_add_ps (t3[i] = a[i+8] + a[i]; t6[i] = t3[i+4] + t3[i]; t8[j] = t6[j] + t6[j+2];
// t8[0] + t8[1]), lanes of four rows side by side: bit-identical to four mv_row_eo calls (tested),
// ~15 instructions for the four reductions instead of ~36.
constexpr int64_t kShortRow = 512;
void mv4_rows_eo(const uint16_t* w, int64_t cols, const float* xp, float* y) {
    const __m512i himask = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
    __m512 ae[4], ao[4];
    for (int r = 0; r < 4; ++r) ae[r] = ao[r] = _mm512_setzero_ps();
    auto block = [&](int64_t c, __mmask32 m, bool masked) {
        const __m512 xe = _mm512_loadu_ps(xp + c), xo = _mm512_loadu_ps(xp + c + 16);
        for (int r = 0; r < 4; ++r) {
            const __m512i v = masked ? _mm512_maskz_loadu_epi16(m, w + r * cols + c) : _mm512_loadu_si512(w + r * cols + c);
            ae[r] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), xe, ae[r]);
            ao[r] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v, himask)), xo, ao[r]);
        }
    };
    int64_t c = 0;
    for (; c + 32 <= cols; c += 32) block(c, 0, false);
    if (c < cols) block(c, static_cast<__mmask32>((1ull << (cols - c)) - 1ull), true);
    __m512 a[4];
    for (int r = 0; r < 4; ++r) a[r] = _mm512_add_ps(ae[r], ao[r]);
    // t3 of rows (0,1) and (2,3): [hi256 + lo256 of row 0 | of row 1]
    const __m512 s01 = _mm512_add_ps(_mm512_shuffle_f32x4(a[0], a[1], 0xEE), _mm512_shuffle_f32x4(a[0], a[1], 0x44));
    const __m512 s23 = _mm512_add_ps(_mm512_shuffle_f32x4(a[2], a[3], 0xEE), _mm512_shuffle_f32x4(a[2], a[3], 0x44));
    // t6: 128-bit chunk r = t3_r[4..8) + t3_r[0..4)
    const __m512 u = _mm512_add_ps(_mm512_shuffle_f32x4(s01, s23, 0xDD), _mm512_shuffle_f32x4(s01, s23, 0x88));
    // t8 = t6 + t6[2,3,0,1] within each chunk, then t8[0] + t8[1]
    const __m512 t8 = _mm512_add_ps(u, _mm512_permute_ps(u, 0x4E));
    const __m512 res = _mm512_add_ps(t8, _mm512_permute_ps(t8, 0xB1));
    alignas(64) float out[16];
    _mm512_store_ps(out, res);
    for (int r = 0; r < 4; ++r) y[r] = out[4 * r];
}

template <int R>
void tile_eo_n(int nn, const uint16_t* W, int64_t cols, const float* Xp, int64_t ldxp, float* Y, int64_t ldy) {
    switch (nn) {
        case 1: return tile_eo<R, 1>(W, cols, cols, Xp, ldxp, Y, ldy);
        case 2: return tile_eo<R, 2>(W, cols, cols, Xp, ldxp, Y, ldy);
        case 3: return tile_eo<R, 3>(W, cols, cols, Xp, ldxp, Y, ldy);
        case 4: return tile_eo<R, 4>(W, cols, cols, Xp, ldxp, Y, ldy);
        case 5: return tile_eo<R, 5>(W, cols, cols, Xp, ldxp, Y, ldy);
        default: return tile_eo<R, 6>(W, cols, cols, Xp, ldxp, Y, ldy);
    }
}

}  // namespace

namespace {

// ---- Q8_0 weights (engine/model/quantize.h): row = nb fp16 scales, then cols int8 values; w = d·q ----
inline __m512 q8_16(const int8_t* q) {  // 16 values widened exactly to float32
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q))));
}

// Decode matvec straight from the quantised row (1.06 bytes per weight streamed instead of 2): per
// block b,
//   p_b = q[0:16]·x[0:16] + q[16:32]·x[16:32]   (16 lanes),   acc_{b % 2} += d_b · p_b
// and reduce_add(acc0 + acc1); the scales are widened 16 at a time. The scale is applied per block, so
// the rounding differs from the float32 product of the dequantised weights (the n >= 2 path), within
// the same bound.
float mv_row_q8(const uint8_t* row, int64_t cols, const float* x) {
    const int64_t nb = cols / kQ8Block;
    const uint16_t* dh = reinterpret_cast<const uint16_t*>(row);
    const int8_t* q = reinterpret_cast<const int8_t*>(row + 2 * nb);
    alignas(64) float d[16];
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (int64_t b0 = 0; b0 < nb; b0 += 16) {
        const int64_t nd = std::min<int64_t>(16, nb - b0);
        const __mmask16 m = static_cast<__mmask16>(nd >= 16 ? 0xffffu : (1u << nd) - 1u);
        _mm512_store_ps(d, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, dh + b0)));
        auto blk = [&](int64_t j) {  // q·x of block b0 + j, 16 lanes
            const int64_t c = (b0 + j) * kQ8Block;
            const __m512 s = _mm512_mul_ps(q8_16(q + c), _mm512_loadu_ps(x + c));
            return _mm512_fmadd_ps(q8_16(q + c + 16), _mm512_loadu_ps(x + c + 16), s);
        };
        int64_t j = 0;  // b0 is even: block parity = parity of j
        for (; j + 2 <= nd; j += 2) {
            acc0 = _mm512_fmadd_ps(blk(j), _mm512_set1_ps(d[j]), acc0);
            acc1 = _mm512_fmadd_ps(blk(j + 1), _mm512_set1_ps(d[j + 1]), acc1);
        }
        if (j < nd) acc0 = _mm512_fmadd_ps(blk(j), _mm512_set1_ps(d[j]), acc0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

}  // namespace

void dequant_row_q8_avx512(const uint8_t* row, int64_t cols, float* out) {
    const int64_t nb = cols / kQ8Block;
    const uint16_t* dh = reinterpret_cast<const uint16_t*>(row);
    const int8_t* q = reinterpret_cast<const int8_t*>(row + 2 * nb);
    for (int64_t b = 0; b < nb; ++b) {
        const __m512 d = _mm512_set1_ps(_cvtsh_ss(dh[b]));
        const int64_t c = b * kQ8Block;
        _mm512_storeu_ps(out + c, _mm512_mul_ps(d, q8_16(q + c)));  // exact: an 11 x 8-bit product
        _mm512_storeu_ps(out + c + 16, _mm512_mul_ps(d, q8_16(q + c + 16)));
    }
}

void rows_avx512(DType wt, const void* W, int64_t cols, int64_t r0, int64_t r1, const float* X, int64_t n,
                 float* Y, int64_t ldy) {
    switch (wt) {
        case DType::BF16: return rows_t<DType::BF16>(W, cols, r0, r1, X, n, Y, ldy);
        case DType::F16: return rows_t<DType::F16>(W, cols, r0, r1, X, n, Y, ldy);
        case DType::F32: return rows_t<DType::F32>(W, cols, r0, r1, X, n, Y, ldy);
        case DType::Q8_0:
            if (n == 1) {
                const uint8_t* Wq = static_cast<const uint8_t*>(W);
                const size_t rb = row_bytes(DType::Q8_0, cols);
                for (int64_t r = r0; r < r1; ++r) Y[r] = mv_row_q8(Wq + r * rb, cols, X);
                return;
            }
            return rows_q8_dequant(W, cols, r0, r1, X, n, Y, ldy, rows_t<DType::F32>, dequant_row_q8_avx512);
    }
}

void rows_avx512_bf16p(const uint16_t* W, int64_t cols, int64_t r0, int64_t r1, const float* Xp, int64_t ldxp,
                       int64_t n, float* Y, int64_t ldy) {
    if (n == 1) {
        int64_t r = r0;
        if (cols <= kShortRow)
            for (; r + 4 <= r1; r += 4) mv4_rows_eo(W + r * cols, cols, Xp, Y + r);
        for (; r < r1; ++r) Y[r] = mv_row_eo(W + r * cols, cols, Xp);
        return;
    }
    int64_t tb = (256 * 1024) / std::max<int64_t>(1, ldxp * 4);
    tb = std::clamp<int64_t>(tb / kN * kN, kN, 16 * kN);
    for (int64_t t0 = 0; t0 < n; t0 += tb) {
        const int64_t t1 = std::min(n, t0 + tb);
        for (int64_t r = r0; r < r1; r += kR) {
            const int rr = static_cast<int>(std::min<int64_t>(kR, r1 - r));
            for (int64_t t = t0; t < t1; t += kN) {
                const int nn = static_cast<int>(std::min<int64_t>(kN, t1 - t));
                const uint16_t* w = W + r * cols;
                const float* x = Xp + t * ldxp;
                float* y = Y + t * ldy + r;
                switch (rr) {
                    case 1: tile_eo_n<1>(nn, w, cols, x, ldxp, y, ldy); break;
                    case 2: tile_eo_n<2>(nn, w, cols, x, ldxp, y, ldy); break;
                    case 3: tile_eo_n<3>(nn, w, cols, x, ldxp, y, ldy); break;
                    default: tile_eo_n<4>(nn, w, cols, x, ldxp, y, ldy); break;
                }
            }
        }
    }
}

void perm_bf16_avx512(const float* X, int64_t cols, int64_t i0, int64_t i1, float* Xp, int64_t ldxp) {
    // Per 32-column block: [x0 x2 ... x30 | x1 x3 ... x31], zeros past cols.
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (int64_t i = i0; i < i1; ++i) {
        const float* x = X + i * cols;
        float* xp = Xp + i * ldxp;
        for (int64_t c = 0; c < ldxp; c += 32) {
            const int64_t left = cols - c, left1 = left - 16;
            const __mmask16 m0 = left >= 16 ? __mmask16(0xffff) : left > 0 ? __mmask16((1u << left) - 1u) : __mmask16(0);
            const __mmask16 m1 = left1 >= 16 ? __mmask16(0xffff) : left1 > 0 ? __mmask16((1u << left1) - 1u) : __mmask16(0);
            const __m512 a = _mm512_maskz_loadu_ps(m0, x + c);
            const __m512 b = _mm512_maskz_loadu_ps(m1, x + c + 16);
            _mm512_storeu_ps(xp + c, _mm512_permutex2var_ps(a, even, b));
            _mm512_storeu_ps(xp + c + 16, _mm512_permutex2var_ps(a, odd, b));
        }
    }
}

float dot_avx512(const float* a, const float* b, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
    if (i < n) {
        const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

void axpy_avx512(int64_t n, float a, const float* x, float* y) {
    const __m512 av = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(y + i, m,
                              _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

// Attention over the KV cache. dot_rows: s[j] = dot(q, K row j), each row in exactly dot_avx512's
// order (one accumulator over 16-column blocks, masked tail, reduce_add), four rows interleaved for
// instruction-level parallelism — so the scores are bit-identical to m calls of dot_f32.
void dot_rows_avx512(const float* q, const float* K, int64_t ldk, int64_t m, int64_t d, float* s) {
    const __mmask16 tail = static_cast<__mmask16>((1u << (d % 16)) - 1u);
    const int64_t dfull = d / 16 * 16;
    int64_t j = 0;
    for (; j + 4 <= m; j += 4) {
        const float* k0 = K + j * ldk;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int64_t i = 0;
        for (; i < dfull; i += 16) {
            const __m512 qv = _mm512_loadu_ps(q + i);
            a0 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k0 + i), a0);
            a1 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k0 + ldk + i), a1);
            a2 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k0 + 2 * ldk + i), a2);
            a3 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k0 + 3 * ldk + i), a3);
        }
        if (tail) {
            const __m512 qv = _mm512_maskz_loadu_ps(tail, q + i);
            a0 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(tail, k0 + i), a0);
            a1 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(tail, k0 + ldk + i), a1);
            a2 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(tail, k0 + 2 * ldk + i), a2);
            a3 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(tail, k0 + 3 * ldk + i), a3);
        }
        s[j] = _mm512_reduce_add_ps(a0);
        s[j + 1] = _mm512_reduce_add_ps(a1);
        s[j + 2] = _mm512_reduce_add_ps(a2);
        s[j + 3] = _mm512_reduce_add_ps(a3);
    }
    for (; j < m; ++j) s[j] = dot_avx512(q, K + j * ldk, d);
}

// o[i] = sum_j p[j] * V[j*ldv + i], accumulated j = 0, 1, ... with one FMA each starting from zero:
// the same values as zeroing o and calling axpy_avx512(d, p[j], V row j, o) for each j in order, but
// with o held in registers (up to 8 vectors = 128 columns at a time) instead of reloaded per row.
template <int NV>
void wsum_chunk(const float* p, const float* V, int64_t ldv, int64_t m, int64_t d, float* o) {
    const int64_t rem = d - (NV - 1) * 16;  // 1..16 columns in the last vector
    const __mmask16 last = static_cast<__mmask16>(rem >= 16 ? 0xffffu : (1u << rem) - 1u);
    __m512 acc[NV];
    for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_ps();
    for (int64_t j = 0; j < m; ++j) {
        const __m512 pj = _mm512_set1_ps(p[j]);
        const float* vr = V + j * ldv;
        for (int v = 0; v < NV - 1; ++v) acc[v] = _mm512_fmadd_ps(pj, _mm512_loadu_ps(vr + v * 16), acc[v]);
        acc[NV - 1] = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(last, vr + (NV - 1) * 16), acc[NV - 1]);
    }
    for (int v = 0; v < NV - 1; ++v) _mm512_storeu_ps(o + v * 16, acc[v]);
    _mm512_mask_storeu_ps(o + (NV - 1) * 16, last, acc[NV - 1]);
}

void weighted_rows_avx512(const float* p, const float* V, int64_t ldv, int64_t m, int64_t d, float* o) {
    for (int64_t c = 0; c < d; c += 128) {
        const int64_t w = std::min<int64_t>(128, d - c);
        switch ((w + 15) / 16) {
            case 1: wsum_chunk<1>(p, V + c, ldv, m, w, o + c); break;
            case 2: wsum_chunk<2>(p, V + c, ldv, m, w, o + c); break;
            case 3: wsum_chunk<3>(p, V + c, ldv, m, w, o + c); break;
            case 4: wsum_chunk<4>(p, V + c, ldv, m, w, o + c); break;
            case 5: wsum_chunk<5>(p, V + c, ldv, m, w, o + c); break;
            case 6: wsum_chunk<6>(p, V + c, ldv, m, w, o + c); break;
            case 7: wsum_chunk<7>(p, V + c, ldv, m, w, o + c); break;
            default: wsum_chunk<8>(p, V + c, ldv, m, w, o + c); break;
        }
    }
}

// BF16 KV cache: the same two operations with the cached rows widened in registers (exact).
void dot_rows_avx512_bf16kv(const float* q, const uint16_t* K, int64_t ldk, int64_t m, int64_t d, float* s) {
    using L = Ld<DType::BF16>;
    const __mmask16 tail = static_cast<__mmask16>((1u << (d % 16)) - 1u);
    const int64_t dfull = d / 16 * 16;
    for (int64_t j = 0; j < m; ++j) {
        const uint16_t* k = K + j * ldk;
        __m512 a = _mm512_setzero_ps();
        int64_t i = 0;
        for (; i < dfull; i += 16) a = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), L::full(k + i), a);
        if (tail) a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, q + i), L::part(k + i, tail), a);
        s[j] = _mm512_reduce_add_ps(a);
    }
}

void weighted_rows_avx512_bf16kv(const float* p, const uint16_t* V, int64_t ldv, int64_t m, int64_t d, float* o) {
    using L = Ld<DType::BF16>;
    for (int64_t c = 0; c < d; c += 16) {
        const int64_t w = std::min<int64_t>(16, d - c);
        const __mmask16 mk = static_cast<__mmask16>(w >= 16 ? 0xffffu : (1u << w) - 1u);
        __m512 acc = _mm512_setzero_ps();
        for (int64_t j = 0; j < m; ++j) acc = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), L::part(V + j * ldv + c, mk), acc);
        _mm512_mask_storeu_ps(o + c, mk, acc);
    }
}

double peak_loop_avx512(int64_t iters) {
    // 12 independent FMA chains (more than latency x throughput): the core's float32 FMA peak.
    // Named registers, not an array: GCC kept an array of accumulators on the stack.
    __m512 a0 = _mm512_set1_ps(0e-3f), a1 = _mm512_set1_ps(1e-3f), a2 = _mm512_set1_ps(2e-3f), a3 = _mm512_set1_ps(3e-3f),
           a4 = _mm512_set1_ps(4e-3f), a5 = _mm512_set1_ps(5e-3f), a6 = _mm512_set1_ps(6e-3f), a7 = _mm512_set1_ps(7e-3f),
           a8 = _mm512_set1_ps(8e-3f), a9 = _mm512_set1_ps(9e-3f), a10 = _mm512_set1_ps(10e-3f), a11 = _mm512_set1_ps(11e-3f);
    const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    for (int64_t it = 0; it < iters; ++it) {
        a0 = _mm512_fmadd_ps(a0, x, y);
        a1 = _mm512_fmadd_ps(a1, x, y);
        a2 = _mm512_fmadd_ps(a2, x, y);
        a3 = _mm512_fmadd_ps(a3, x, y);
        a4 = _mm512_fmadd_ps(a4, x, y);
        a5 = _mm512_fmadd_ps(a5, x, y);
        a6 = _mm512_fmadd_ps(a6, x, y);
        a7 = _mm512_fmadd_ps(a7, x, y);
        a8 = _mm512_fmadd_ps(a8, x, y);
        a9 = _mm512_fmadd_ps(a9, x, y);
        a10 = _mm512_fmadd_ps(a10, x, y);
        a11 = _mm512_fmadd_ps(a11, x, y);
    }
    const __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                   _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)),
                                                 _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11))));
    return static_cast<double>(_mm512_reduce_add_ps(s));
}

uint64_t read_sum_avx512(const void* p, size_t bytes) {
    const char* b = static_cast<const char*>(p);
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 256 <= bytes; i += 256) {
        a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(b + i));
        a1 = _mm512_add_epi64(a1, _mm512_loadu_si512(b + i + 64));
        a2 = _mm512_add_epi64(a2, _mm512_loadu_si512(b + i + 128));
        a3 = _mm512_add_epi64(a3, _mm512_loadu_si512(b + i + 192));
    }
    a0 = _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3));
    return static_cast<uint64_t>(_mm512_reduce_add_epi64(a0));
}

}  // namespace moescope::cpu::detail
