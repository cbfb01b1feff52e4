// AVX2 + FMA + F16C kernels, compiled with -mavx2 -mfma -mf16c (see engine/CMakeLists.txt) and only
// called when the CPU has them (kernels.cpp dispatches).
//
// Order of operations of one matmul dot product (identical for every tile shape, see kernels.h
// "Determinism"; matvec has its own order, see mv_row): one 8-lane float32 accumulator per (row, token); per block of 8 columns the weights
// are widened in registers (BF16: zero-extend + shift 16, exact; F16: vcvtph2ps, exact) and FMA'd with
// the activations; the last partial block is copied into zero-padded stack buffers (AVX2 has no
// 16-bit masked loads); the 8 lanes are summed as (lo128 + hi128), then pairwise.
// Register tiles: matmul 2 rows x 6 tokens (12 of the 16 ymm registers accumulate).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/cpu/kernels_internal.h"
#include "engine/model/quantize.h"

namespace moescope::cpu::detail {

namespace {

template <DType WT>
struct Ld;

template <>
struct Ld<DType::BF16> {
    using T = uint16_t;
    static __m256 full(const T* p) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
};

template <>
struct Ld<DType::F16> {
    using T = uint16_t;
    static __m256 full(const T* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
};

template <>
struct Ld<DType::F32> {
    using T = float;
    static __m256 full(const T* p) { return _mm256_loadu_ps(p); }
};

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}


// matvec streams one row at a time (several rows in flight alias in L1 when rows are 4 KiB apart and
// compete for the prefetchers) with four accumulators so the FMA latency is hidden: 8-column block b
// goes to acc[b % 4], the zero-padded partial last block included; result hsum((a0 + a1) + (a2 + a3)).
template <DType WT>
float mv_row(const typename Ld<WT>::T* w, int64_t cols, const float* x) {
    using L = Ld<WT>;
    using T = typename L::T;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t c = 0;
    for (; c + 32 <= cols; c += 32)
        for (int u = 0; u < 4; ++u)
            acc[u] = _mm256_fmadd_ps(L::full(w + c + 8 * u), _mm256_loadu_ps(x + c + 8 * u), acc[u]);
    int u = 0;
    for (; c + 8 <= cols; c += 8, ++u) acc[u] = _mm256_fmadd_ps(L::full(w + c), _mm256_loadu_ps(x + c), acc[u]);
    if (c < cols) {
        const size_t rem = static_cast<size_t>(cols - c);
        T wb[8] = {};
        float xb[8] = {};
        std::memcpy(wb, w + c, rem * sizeof(T));
        std::memcpy(xb, x + c, rem * sizeof(float));
        acc[u] = _mm256_fmadd_ps(L::full(wb), _mm256_loadu_ps(xb), acc[u]);
    }
    return hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
}

template <DType WT, int R, int N>
void tile(const typename Ld<WT>::T* W, int64_t ldw, int64_t cols, const float* X, int64_t ldx, float* Y,
          int64_t ldy) {
    using L = Ld<WT>;
    using T = typename L::T;
    __m256 acc[R][N];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < N; ++t) acc[r][t] = _mm256_setzero_ps();
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8) {
        __m256 wv[R];
        for (int r = 0; r < R; ++r) wv[r] = L::full(W + r * ldw + c);
        for (int t = 0; t < N; ++t) {
            const __m256 xv = _mm256_loadu_ps(X + t * ldx + c);
            for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    if (c < cols) {
        const size_t rem = static_cast<size_t>(cols - c);
        __m256 wv[R];
        for (int r = 0; r < R; ++r) {
            T buf[8] = {};
            std::memcpy(buf, W + r * ldw + c, rem * sizeof(T));
            wv[r] = L::full(buf);
        }
        for (int t = 0; t < N; ++t) {
            float xb[8] = {};
            std::memcpy(xb, X + t * ldx + c, rem * sizeof(float));
            const __m256 xv = _mm256_loadu_ps(xb);
            for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < N; ++t) Y[t * ldy + r] = hsum(acc[r][t]);
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

constexpr int kR = 2, kN = 6;

template <DType WT>
void rows_t(const void* Wv, int64_t cols, int64_t r0, int64_t r1, const float* X, int64_t n, float* Y,
            int64_t ldy) {
    using T = typename Ld<WT>::T;
    const T* W = static_cast<const T*>(Wv);
    if (n == 1) {
        for (int64_t r = r0; r < r1; ++r) Y[r] = mv_row<WT>(W + r * cols, cols, X);
        return;
    }
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
                if (rr == 1) tile_n<WT, 1>(nn, w, cols, x, y, ldy);
                else tile_n<WT, 2>(nn, w, cols, x, y, ldy);
            }
        }
    }
}

}  // namespace

void rows_avx2(DType wt, const void* W, int64_t cols, int64_t r0, int64_t r1, const float* X, int64_t n,
               float* Y, int64_t ldy) {
    switch (wt) {
        case DType::BF16: return rows_t<DType::BF16>(W, cols, r0, r1, X, n, Y, ldy);
        case DType::F16: return rows_t<DType::F16>(W, cols, r0, r1, X, n, Y, ldy);
        case DType::F32: return rows_t<DType::F32>(W, cols, r0, r1, X, n, Y, ldy);
        case DType::Q8_0: return rows_q8_dequant(W, cols, r0, r1, X, n, Y, ldy, rows_t<DType::F32>, dequantize_row_q8_0);
    }
}

float dot_avx2(const float* a, const float* b, int64_t n) {
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    if (i < n) {
        float ab[8] = {}, bb[8] = {};
        std::memcpy(ab, a + i, static_cast<size_t>(n - i) * 4);
        std::memcpy(bb, b + i, static_cast<size_t>(n - i) * 4);
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(ab), _mm256_loadu_ps(bb), acc);
    }
    return hsum(acc);
}

void axpy_avx2(int64_t n, float a, const float* x, float* y) {
    const __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; ++i) y[i] = std::fma(a, x[i], y[i]);
}

uint64_t read_sum_avx2(const void* p, size_t bytes) {
    const char* b = static_cast<const char*>(p);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 128 <= bytes; i += 128) {
        a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i)));
        a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i + 32)));
        a2 = _mm256_add_epi64(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i + 64)));
        a3 = _mm256_add_epi64(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i + 96)));
    }
    a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    alignas(32) uint64_t v[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(v), a0);
    return v[0] + v[1] + v[2] + v[3];
}

}  // namespace moescope::cpu::detail
