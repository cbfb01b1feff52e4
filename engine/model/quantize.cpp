// Q8_0 quantisation (quantize.h) and Model::quantize_q8_0: which matrices, threads, bookkeeping.
#include "engine/model/quantize.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#include "engine/model/model.h"

namespace moescope {

void quantize_row_q8_0(DType src, const void* row, int64_t cols, uint8_t* out) {
    float v[kQ8Block];
    for (int64_t b = 0; b < cols / kQ8Block; ++b) {
        float amax = 0.0f;
        for (int j = 0; j < kQ8Block; ++j) {
            v[j] = load_as_f32(src, row, static_cast<size_t>(b * kQ8Block + j));
            amax = std::max(amax, std::fabs(v[j]));
        }
        const uint16_t dh = f32_to_f16(amax / 127.0f);
        const float d = f16_to_f32(dh);
        std::memcpy(out + 2 * b, &dh, 2);
        int8_t* q = reinterpret_cast<int8_t*>(out + 2 * (cols / kQ8Block) + b * kQ8Block);
        for (int j = 0; j < kQ8Block; ++j) {
            // Against the stored (fp16) d, so that d·q is the nearest multiple of the scale actually used.
            const float qj = d > 0.0f ? std::nearbyint(v[j] / d) : 0.0f;
            q[j] = static_cast<int8_t>(std::clamp(qj, -127.0f, 127.0f));
        }
    }
}

void dequantize_row_q8_0(const uint8_t* row, int64_t cols, float* out) {
    const int8_t* q = q8_values(row, cols);
    for (int64_t b = 0; b < cols / kQ8Block; ++b) {
        uint16_t dh;
        std::memcpy(&dh, row + 2 * b, 2);
        const float d = f16_to_f32(dh);
        for (int j = 0; j < kQ8Block; ++j) out[b * kQ8Block + j] = d * static_cast<float>(q[b * kQ8Block + j]);
    }
}

Result<int> Model::quantize_q8_0(Progress progress) {
    // The big products: attention projections, dense / expert / shared MLPs, lm_head. The router and the
    // shared-expert gate stay in their checkpoint dtype (routing decisions are what moescope records;
    // they are small), and so do the embeddings (one row read per token).
    std::vector<MatrixView*> todo;
    auto add = [&](MatrixView& m) {
        if (m.present() && m.dtype != DType::Q8_0 && m.cols % kQ8Block == 0) todo.push_back(&m);
    };
    auto add_mlp = [&](MlpWeights& w) {
        add(w.gate);
        add(w.up);
        add(w.down);
    };
    for (LayerWeights& L : weights_.layers) {
        for (MatrixView* m : {&L.attn.q, &L.attn.k, &L.attn.v, &L.attn.o, &L.attn.q_a, &L.attn.q_b, &L.attn.kv_a,
                              &L.attn.kv_b})
            add(*m);
        if (L.is_moe) {
            for (MlpWeights& e : L.moe.experts) add_mlp(e);
            add_mlp(L.moe.shared);
        } else {
            add_mlp(L.dense);
        }
    }
    const bool tied = weights_.lm_head.data == weights_.embed.data;
    add(weights_.lm_head);  // a tied lm_head gets its own quantised copy; embed keeps the checkpoint rows

    uint64_t before = 0, after = 0;
    // Each copy starts on a 64-byte boundary: with rows of 34·nb bytes (a multiple of 64 when cols is a
    // multiple of 1024: OLMoE, Mixtral, the 2048-wide projections of Qwen3) the 32-byte value loads never straddle a cache line.
    std::vector<std::vector<uint8_t>> bufs(todo.size());
    std::vector<uint8_t*> base(todo.size());
    for (size_t i = 0; i < todo.size(); ++i) {
        const MatrixView& m = *todo[i];
        // A tied lm_head shares the embedding's bytes, which stay: its copy only adds.
        if (!(tied && &m == &weights_.lm_head)) before += static_cast<uint64_t>(m.rows) * row_bytes(m.dtype, m.cols);
        const size_t n = static_cast<size_t>(m.rows) * row_bytes(DType::Q8_0, m.cols);
        try {
            bufs[i].resize(n + 64);
        } catch (const std::bad_alloc&) {
            return Error("Q8_0: out of memory allocating " + std::to_string(n) + " bytes for tensor '" + m.name + "'");
        }
        const auto addr = reinterpret_cast<uintptr_t>(bufs[i].data());
        base[i] = bufs[i].data() + (64 - addr % 64) % 64;
        after += n;
    }
    // Matrices in parallel (each is independent); the result does not depend on the thread count.
    std::atomic<size_t> next{0}, done{0};
    auto work = [&] {
        for (size_t i; (i = next.fetch_add(1)) < todo.size();) {
            const MatrixView& m = *todo[i];
            const size_t in = row_bytes(m.dtype, m.cols), out = row_bytes(DType::Q8_0, m.cols);
            for (int64_t r = 0; r < m.rows; ++r)
                quantize_row_q8_0(m.dtype, static_cast<const char*>(m.data) + r * in, m.cols, base[i] + r * out);
            done.fetch_add(1);
        }
    };
    const unsigned nt = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), 16));
    std::vector<std::thread> threads;
    for (unsigned t = 1; t < nt; ++t) threads.emplace_back(work);
    work();
    for (auto& t : threads) t.join();
    if (progress) progress(1.0, "quantised " + std::to_string(todo.size()) + " matrices to Q8_0");

    for (size_t i = 0; i < todo.size(); ++i) {
        todo[i]->dtype = DType::Q8_0;
        todo[i]->data = base[i];
        owned_.push_back(std::move(bufs[i]));
    }
    if (!todo.empty()) {
        summary_.dtype = "Q8_0";
        summary_.weight_bytes = summary_.weight_bytes - before + after;
    }
    return static_cast<int>(todo.size());
}

}  // namespace moescope
