#pragma once
// safetensors reader (memory-mapped, fully validated) and writer.
//
// File layout (safetensors README): 8-byte little-endian header length N, N bytes of UTF-8 JSON
// {"name": {"dtype": "BF16", "shape": [r, c], "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}},
// then the data section. Offsets are relative to the start of the data section.
//
// The reader checks everything before any tensor is touched, and every error names the file, the
// tensor and the reason: header length beyond the file, malformed JSON, unknown dtype, negative or
// non-integer shape, shape × dtype size overflowing or not matching the offsets, offsets out of the
// data section, overlapping tensors, holes between tensors (the format requires the data section to be
// exactly covered). Known dtypes the engine cannot compute with (F8_E4M3, I64, ...) are accepted by the
// reader (dtype == nullopt) so that loaders can give a precise "not supported" message and prune/export
// can copy them verbatim.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/dtype.h"
#include "engine/error.h"

namespace moescope {

struct TensorInfo {
    std::string name;
    std::string dtype_name;           // as written in the header ("BF16", "F8_E4M3", ...)
    std::optional<DType> dtype;       // set when the engine computes with this dtype (F32, F16, BF16)
    size_t element_size = 0;          // bytes per element
    std::vector<int64_t> shape;
    uint64_t data_begin = 0;          // offsets relative to the data section
    uint64_t data_end = 0;
    const uint8_t* data = nullptr;    // points into the mapping (valid while the file object lives)

    int64_t numel() const {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        return n;
    }
    uint64_t nbytes() const { return data_end - data_begin; }
};

class SafetensorsFile {
public:
    // Memory-maps and validates `path`. Never reads tensor data eagerly.
    static Result<std::shared_ptr<SafetensorsFile>> open(const std::string& path);
    // Validates an in-memory image (used by tests; `label` is used in messages). The bytes are copied.
    static Result<std::shared_ptr<SafetensorsFile>> parse(const std::string& label, std::span<const uint8_t> bytes);

    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::string& path() const { return path_; }
    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find(const std::string& name) const;
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    uint64_t file_size() const { return size_; }

private:
    SafetensorsFile() = default;
    void validate();  // throws Error
    std::string path_;
    const uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
    bool mapped_ = false;
    std::vector<uint8_t> owned_;
    std::vector<TensorInfo> tensors_;
    std::map<std::string, size_t> index_;
    std::map<std::string, std::string> metadata_;
};

// Bytes per element of a safetensors dtype name, or 0 when the name is unknown.
size_t safetensors_dtype_size(const std::string& dtype_name);

// Writes safetensors files: tensors are laid out contiguously in insertion order (8-byte aligned header).
class SafetensorsWriter {
public:
    // Raw bytes in the given dtype; bytes.size() must equal numel × dtype size (throws Error otherwise).
    void add_raw(const std::string& name, const std::string& dtype_name, std::vector<int64_t> shape,
                 std::vector<uint8_t> bytes);
    void add(const std::string& name, DType dtype, std::vector<int64_t> shape, std::vector<uint8_t> bytes);
    // Float32 values stored as `dtype` (rounded to nearest even for BF16/F16).
    void add_f32(const std::string& name, DType dtype, std::vector<int64_t> shape, std::span<const float> values);
    void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
    bool has(const std::string& name) const;
    // Replaces the data of an already added tensor (same byte size), e.g. to plant structure.
    void replace_f32(const std::string& name, std::span<const float> values);

    std::vector<uint8_t> serialize() const;
    void write(const std::string& path) const;  // throws Error naming the path on failure
    size_t size() const { return entries_.size(); }

private:
    struct Entry {
        std::string name, dtype_name;
        std::vector<int64_t> shape;
        std::vector<uint8_t> bytes;
    };
    std::vector<Entry> entries_;
    std::map<std::string, std::string> metadata_;
};

// Encodes float32 values as the storage dtype (little-endian).
std::vector<uint8_t> encode_f32(DType dtype, std::span<const float> values);

}  // namespace moescope
