#pragma once
// Linear-algebra kernels of the CPU backend. Weights stay in their storage dtype (BF16/F16/F32) and are
// widened in registers; activations and accumulation are float32. Every entry point dispatches at run
// time to the best SIMD path the CPU offers (see simd_level()); MOESCOPE_SIMD=scalar|avx2|avx512|
// avx512bf16 forces one (tests use it). The scalar path is the reference the others are tested against.
//
// Determinism: every output element y[r] (or Y[i][r]) is computed by one thread, in an order of
// operations that depends only on the SIMD level, `cols`, and whether n == 1 (matvec order: one row
// streamed with two accumulators) or n >= 2 (register-tile order) — not on the thread count, the tile
// or token block it falls in, or whether it came from matvec, matmul or matmul_batch. So results are
// bit-identical across thread counts, and matmul(n=1) == matvec, on a given SIMD level; a token's row
// from a multi-token matmul may differ from its matvec in the last bits.
//
// FastBF16 matmul with n >= 16 tokens and an even `cols` uses a token-lane panel GEMM (16 tokens per
// vector, see kernels_avx512bf16.cpp) whose order differs from the n < 16 tile order: a row's result is
// fixed for (SIMD level, precision, cols, n class: 1 / 2..15 / >= 16), never for the thread count.
//
// Accuracy: the default (Exact) precision keeps float32 activations on every level. The opt-in
// MatmulPrecision::FastBF16 (or MOESCOPE_FAST_BF16=1) lets matmul with BF16 weights on an AVX512-BF16 CPU
// round the activations to bf16 and use vdpbf16ps — about twice the prefill FLOP rate, relative error
// ~2^-9 of sum|w·x| — and is never used unless asked for. See docs/cpu_kernels.md.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/dtype.h"

namespace moescope::cpu {

class ThreadPool;

enum class SimdLevel : int { Scalar = 0, AVX2 = 1, AVX512 = 2, AVX512BF16 = 3 };
const char* simd_name(SimdLevel level);
SimdLevel simd_detected();          // what this CPU supports
SimdLevel simd_level();             // what the kernels use now (env override, else detected)
void set_simd_level(SimdLevel level);  // clamps to simd_detected()

enum class MatmulPrecision : int { Exact = 0, FastBF16 = 1 };
MatmulPrecision matmul_precision();          // MOESCOPE_FAST_BF16=1 in the environment, else Exact
void set_matmul_precision(MatmulPrecision p);

// Matrix-vector product for decode.
//   W: [rows][cols] row-major in dtype wt (an nn.Linear weight: out_features x in_features)
//   x: [cols] float32, y: [rows] float32
//   y[r] = sum_c W[r][c] * x[c]        (threaded over rows when pool != nullptr)
void matvec(DType wt, const void* W, int64_t rows, int64_t cols, const float* x, float* y, ThreadPool* pool);

// Matrix product for prefill / gathered expert tokens.
//   W: [rows][cols] in dtype wt, X: [n][cols] float32, Y: [n][rows] float32
//   Y[i][r] = sum_c W[r][c] * X[i][c]   (Y = X · Wᵀ)
void matmul(DType wt, const void* W, int64_t rows, int64_t cols, const float* X, int64_t n, float* Y,
            ThreadPool* pool);

// Several independent products in ONE pool dispatch (e.g. an expert's gate_proj and up_proj, or all k
// selected experts of a decode token): saves the wake-up cost of one pool dispatch per matrix. Work is
// cut into row blocks of similar cost that the pool's threads claim as they come free; the values do not
// depend on which thread computes a block.
//   each task: Y[i][r] = sum_c W[r][c] * X[i][c] for i < n, r < rows   (n = 1 is a matvec)
struct MatTask {
    DType wt = DType::BF16;
    const void* W = nullptr;  // [rows][cols]
    int64_t rows = 0, cols = 0;
    const float* X = nullptr;  // [n][cols]
    int64_t n = 1;
    float* Y = nullptr;  // [n][rows]
};
void matmul_batch(const MatTask* tasks, int n_tasks, ThreadPool* pool);

// Products (or batches) of fewer multiply-adds than this run on the calling thread: waking the pool
// costs a few microseconds, about what 256K multiply-adds take on one core (tiny models' matrices,
// routers). Callers use it for their own hand-offs too.
constexpr int64_t kMinParallelMacs = int64_t{1} << 18;

// Dot product of float32 vectors of length n (attention scores).
float dot_f32(const float* a, const float* b, int64_t n);
// y[i] += a * x[i] (attention value accumulation).
void axpy_f32(int64_t n, float a, const float* x, float* y);

// Attention over a KV cache (rows of keys/values `ld` floats apart):
//   dot_rows_f32:      s[j] = dot_f32(q, K + j*ld, d)                    for j < m
//   weighted_rows_f32: o[i] = sum_{j<m} p[j] * V[j*ld + i]  (j in order)  for i < d
// Bit-identical to the loops over dot_f32 / (zero o, then axpy_f32 per j) they replace, on every SIMD
// level; the AVX-512 versions keep several keys in flight and o in registers.
void dot_rows_f32(const float* q, const float* K, int64_t ld, int64_t m, int64_t d, float* s);
void weighted_rows_f32(const float* p, const float* V, int64_t ld, int64_t m, int64_t d, float* o);
// The same over a BF16 KV cache (values widened exactly to float32; same order of operations).
void dot_rows_bf16(const float* q, const uint16_t* K, int64_t ld, int64_t m, int64_t d, float* s);
void weighted_rows_bf16(const float* p, const uint16_t* V, int64_t ld, int64_t m, int64_t d, float* o);

// Arithmetic peak of this machine with the pool's threads, GFLOP/s (1 multiply-add = 2 FLOP): a tight
// in-register loop of independent 512-bit FMAs (float32) and vdpbf16ps (bf16 pairs), best of a few
// repeats, each thread timed in its own CPU time (so a busy machine does not lower it) and the
// threads' rates summed. 0 where the CPU (or the forced SIMD level) lacks the instruction. Used by `bench`.
struct PeakSample {
    double fp32_gflops = 0, bf16_gflops = 0;
    int threads = 1;
};
PeakSample measure_peak_gflops(ThreadPool* pool);

// Streaming-read bandwidth of this machine, GB/s (1e9 bytes/s): each of the pool's threads sums its
// contiguous share of a `bytes`-long buffer (make it much larger than the last-level cache) with the
// widest loads the current SIMD level has. Returns one figure per repeat (the first pass, which also
// faults the pages in, is not counted). Used by `moescope-cli bench` and bench/kernels_bench.
struct BandwidthSample {
    double gbps_median = 0, gbps_min = 0, gbps_max = 0;
    int repeats = 0;
    size_t bytes = 0;
    int threads = 1;
};
BandwidthSample measure_read_bandwidth(ThreadPool* pool, size_t bytes, int repeats);

}  // namespace moescope::cpu
