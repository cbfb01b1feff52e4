#pragma once
// Storage dtypes of weights and their exact widening to float32.
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

namespace moescope {

// F32/F16/BF16: the float dtypes of checkpoints (one value per element). Q8_0: the CPU backend's opt-in
// 8-bit weights made on load (engine/model/quantize.h): per 32-value block an fp16 scale d and 32 int8
// q, value = d·q (the GGUF Q8_0 quantisation), 34 bytes per block; never a checkpoint dtype.
enum class DType : uint8_t { F32, F16, BF16, Q8_0 };

constexpr int64_t kQ8Block = 32;        // values per Q8_0 block
constexpr int64_t kQ8BlockBytes = 34;   // fp16 scale + 32 int8

// Bytes per element of the float dtypes (Q8_0 has none: use row_bytes).
inline size_t dtype_size(DType t) { return t == DType::F32 ? 4 : t == DType::Q8_0 ? 0 : 2; }
inline const char* dtype_name(DType t) {
    return t == DType::F32 ? "F32" : t == DType::F16 ? "F16" : t == DType::BF16 ? "BF16" : "Q8_0";
}
// Bytes of one row of `cols` values (Q8_0: cols is a multiple of 32).
inline size_t row_bytes(DType t, int64_t cols) {
    return t == DType::Q8_0 ? static_cast<size_t>(cols / kQ8Block * kQ8BlockBytes)
                            : static_cast<size_t>(cols) * dtype_size(t);
}

// BF16 is the top half of an IEEE float32: widening is exact.
inline float bf16_to_f32(uint16_t h) {
    uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Round-to-nearest-even float32 -> bf16 (NaN kept quiet). Used by fixtures and the demo-model tools.
inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}

// IEEE half -> float32, exact (subnormals, inf, NaN handled).
inline float f16_to_f32(uint16_t h) {
    const uint32_t sign = (h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t u;
    if (exp == 0) {
        if (mant == 0) {
            u = sign;
        } else {  // subnormal: normalise
            int e = -1;
            do {
                ++e;
                mant <<= 1;
            } while ((mant & 0x400u) == 0);
            u = sign | ((127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (mant << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// float32 -> IEEE half, round to nearest even.
inline uint16_t f32_to_f16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    const uint32_t sign = (u >> 16) & 0x8000u;
    const int32_t exp = static_cast<int32_t>((u >> 23) & 0xffu) - 127 + 15;
    uint32_t mant = u & 0x7fffffu;
    if (((u >> 23) & 0xffu) == 0xffu) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0));
    if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
    if (exp <= 0) {
        if (exp < -10) return static_cast<uint16_t>(sign);
        mant |= 0x800000u;
        const int shift = 14 - exp;
        uint32_t half = mant >> shift;
        const uint32_t rem = mant & ((1u << shift) - 1);
        const uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1u))) ++half;
        return static_cast<uint16_t>(sign | half);
    }
    uint32_t half = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
    const uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;
    return static_cast<uint16_t>(half);
}

inline float load_as_f32(DType t, const void* base, size_t i) {
    switch (t) {
        case DType::F32: {
            float f;
            std::memcpy(&f, static_cast<const char*>(base) + 4 * i, 4);
            return f;
        }
        case DType::F16: {
            uint16_t h;
            std::memcpy(&h, static_cast<const char*>(base) + 2 * i, 2);
            return f16_to_f32(h);
        }
        case DType::BF16: {
            uint16_t h;
            std::memcpy(&h, static_cast<const char*>(base) + 2 * i, 2);
            return bf16_to_f32(h);
        }
        case DType::Q8_0:  // not addressable by a flat index (rows hold scales, then values): q8_value()
            return std::numeric_limits<float>::quiet_NaN();
    }
    return 0.0f;
}

}  // namespace moescope
