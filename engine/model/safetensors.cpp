// safetensors reader and writer; format per the safetensors README (header length, JSON, data section).
#include "engine/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace moescope {

namespace {

struct DtypeEntry {
    const char* name;
    size_t size;
};
constexpr DtypeEntry kDtypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2}, {"U16", 2},
    {"F16", 2},  {"BF16", 2}, {"I32", 4}, {"U32", 4},    {"F32", 4},     {"F64", 8}, {"I64", 8}, {"U64", 8},
};

// Largest header the reader accepts (the reference implementation uses 100 MB as well).
constexpr uint64_t kMaxHeader = 100ull * 1024 * 1024;

std::optional<DType> compute_dtype(const std::string& n) {
    if (n == "F32") return DType::F32;
    if (n == "F16") return DType::F16;
    if (n == "BF16") return DType::BF16;
    return std::nullopt;
}

}  // namespace

size_t safetensors_dtype_size(const std::string& dtype_name) {
    for (const auto& d : kDtypes)
        if (dtype_name == d.name) return d.size;
    return 0;
}

SafetensorsFile::~SafetensorsFile() {
    if (mapped_ && base_) munmap(const_cast<uint8_t*>(base_), size_);
}

Result<std::shared_ptr<SafetensorsFile>> SafetensorsFile::open(const std::string& path) {
    return try_result([&]() -> std::shared_ptr<SafetensorsFile> {
        std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
        f->path_ = path;
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
        struct stat st {};
        if (fstat(fd, &st) != 0) {
            ::close(fd);
            throw Error(path + ": cannot stat: " + std::strerror(errno));
        }
        if (!S_ISREG(st.st_mode)) {
            ::close(fd);
            throw Error(path + ": not a regular file");
        }
        f->size_ = static_cast<uint64_t>(st.st_size);
        if (f->size_ > 0) {
            void* p = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) {
                ::close(fd);
                throw Error(path + ": cannot memory-map: " + std::strerror(errno));
            }
            f->base_ = static_cast<const uint8_t*>(p);
            f->mapped_ = true;
        }
        ::close(fd);
        f->validate();
        return f;
    });
}

Result<std::shared_ptr<SafetensorsFile>> SafetensorsFile::parse(const std::string& label, std::span<const uint8_t> bytes) {
    return try_result([&]() -> std::shared_ptr<SafetensorsFile> {
        std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
        f->path_ = label;
        f->owned_.assign(bytes.begin(), bytes.end());
        f->base_ = f->owned_.data();
        f->size_ = f->owned_.size();
        f->validate();
        return f;
    });
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

void SafetensorsFile::validate() {
    const std::string& p = path_;
    if (size_ < 8)
        throw Error(p + ": file is " + std::to_string(size_) + " bytes, shorter than the 8-byte header length");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | base_[i];
    if (n > kMaxHeader) throw Error(p + ": header length " + std::to_string(n) + " exceeds the 100 MB limit");
    if (n > size_ - 8)
        throw Error(p + ": header length " + std::to_string(n) + " at offset 0 exceeds the file (" +
                    std::to_string(size_) + " bytes)");
    const char* hdr = reinterpret_cast<const char*>(base_ + 8);
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(hdr, hdr + n);
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(p + ": header JSON is malformed (byte " + std::to_string(e.byte + 8) + "): " + e.what());
    }
    if (!j.is_object()) throw Error(p + ": header JSON is not an object");
    const uint64_t data_size = size_ - 8 - n;
    const uint8_t* data = base_ + 8 + n;

    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& name = it.key();
        const auto& v = it.value();
        if (name == "__metadata__") {
            if (!v.is_object()) throw Error(p + ": __metadata__ is not an object");
            for (auto m = v.begin(); m != v.end(); ++m) {
                if (!m.value().is_string()) throw Error(p + ": __metadata__ value '" + m.key() + "' is not a string");
                metadata_[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        const std::string where = p + ": tensor '" + name + "': ";
        if (!v.is_object()) throw Error(where + "entry is not an object");
        if (!v.contains("dtype") || !v["dtype"].is_string()) throw Error(where + "missing or non-string dtype");
        if (!v.contains("shape") || !v["shape"].is_array()) throw Error(where + "missing or non-array shape");
        if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
            throw Error(where + "data_offsets must be an array of two integers");
        TensorInfo t;
        t.name = name;
        t.dtype_name = v["dtype"].get<std::string>();
        t.element_size = safetensors_dtype_size(t.dtype_name);
        if (t.element_size == 0) throw Error(where + "unknown dtype '" + t.dtype_name + "'");
        t.dtype = compute_dtype(t.dtype_name);
        uint64_t count = 1;
        for (const auto& d : v["shape"]) {
            if (!d.is_number_integer() || (d.is_number_integer() && !d.is_number_unsigned() && d.get<int64_t>() < 0))
                throw Error(where + "shape entries must be non-negative integers");
            uint64_t dim = d.get<uint64_t>();
            if (dim > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(count, dim, &count))
                throw Error(where + "shape " + v["shape"].dump() + " overflows the element count");
            t.shape.push_back(static_cast<int64_t>(dim));
        }
        uint64_t bytes = 0;
        if (__builtin_mul_overflow(count, static_cast<uint64_t>(t.element_size), &bytes) ||
            bytes > static_cast<uint64_t>(INT64_MAX))
            throw Error(where + "shape " + v["shape"].dump() + " × " + t.dtype_name + " size overflows");
        for (const auto& o : v["data_offsets"])
            if (!o.is_number_unsigned() && !(o.is_number_integer() && o.get<int64_t>() >= 0))
                throw Error(where + "data_offsets must be non-negative integers");
        t.data_begin = v["data_offsets"][0].get<uint64_t>();
        t.data_end = v["data_offsets"][1].get<uint64_t>();
        if (t.data_end < t.data_begin)
            throw Error(where + "data offsets [" + std::to_string(t.data_begin) + ", " + std::to_string(t.data_end) +
                        ") are reversed");
        if (t.data_end > data_size)
            throw Error(where + "data offsets [" + std::to_string(t.data_begin) + ", " + std::to_string(t.data_end) +
                        ") exceed the data section (" + std::to_string(data_size) + " bytes)");
        if (t.data_end - t.data_begin != bytes)
            throw Error(where + "data offsets [" + std::to_string(t.data_begin) + ", " + std::to_string(t.data_end) +
                        ") hold " + std::to_string(t.data_end - t.data_begin) + " bytes but shape " +
                        v["shape"].dump() + " × " + t.dtype_name + " needs " + std::to_string(bytes));
        t.data = data + t.data_begin;
        tensors_.push_back(std::move(t));
    }
    // The data section must be covered exactly, without overlaps or holes.
    std::vector<size_t> order(tensors_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        if (tensors_[a].data_begin != tensors_[b].data_begin) return tensors_[a].data_begin < tensors_[b].data_begin;
        return tensors_[a].data_end < tensors_[b].data_end;
    });
    uint64_t expected = 0;
    const TensorInfo* prev = nullptr;
    for (size_t i : order) {
        const TensorInfo& t = tensors_[i];
        if (t.data_begin < expected)
            throw Error(p + ": tensor '" + t.name + "': data offsets [" + std::to_string(t.data_begin) + ", " +
                        std::to_string(t.data_end) + ") overlap tensor '" + (prev ? prev->name : "") + "'");
        if (t.data_begin > expected)
            throw Error(p + ": tensor '" + t.name + "': data starts at " + std::to_string(t.data_begin) +
                        " but the previous tensor ends at " + std::to_string(expected) +
                        " (non-contiguous data section)");
        expected = t.data_end;
        prev = &t;
    }
    if (expected != data_size)
        throw Error(p + ": tensors cover " + std::to_string(expected) + " bytes but the data section has " +
                    std::to_string(data_size) + " bytes (trailing bytes after the last tensor)");
    for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
}

// ---- writer ----------------------------------------------------------------------------------------

std::vector<uint8_t> encode_f32(DType dtype, std::span<const float> values) {
    std::vector<uint8_t> out(values.size() * dtype_size(dtype));
    for (size_t i = 0; i < values.size(); ++i) {
        if (dtype == DType::F32) {
            std::memcpy(out.data() + 4 * i, &values[i], 4);
        } else {
            uint16_t h = dtype == DType::BF16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
            out[2 * i] = static_cast<uint8_t>(h & 0xff);
            out[2 * i + 1] = static_cast<uint8_t>(h >> 8);
        }
    }
    return out;
}

void SafetensorsWriter::add_raw(const std::string& name, const std::string& dtype_name, std::vector<int64_t> shape,
                                std::vector<uint8_t> bytes) {
    size_t es = safetensors_dtype_size(dtype_name);
    if (es == 0) throw Error("safetensors writer: tensor '" + name + "': unknown dtype '" + dtype_name + "'");
    uint64_t n = 1;
    for (int64_t d : shape) {
        if (d < 0) throw Error("safetensors writer: tensor '" + name + "': negative dimension");
        n *= static_cast<uint64_t>(d);
    }
    if (n * es != bytes.size())
        throw Error("safetensors writer: tensor '" + name + "': " + std::to_string(bytes.size()) +
                    " bytes given but shape × dtype needs " + std::to_string(n * es));
    if (has(name)) throw Error("safetensors writer: tensor '" + name + "' added twice");
    entries_.push_back({name, dtype_name, std::move(shape), std::move(bytes)});
}

void SafetensorsWriter::add(const std::string& name, DType dtype, std::vector<int64_t> shape, std::vector<uint8_t> bytes) {
    add_raw(name, dtype_name(dtype), std::move(shape), std::move(bytes));
}

void SafetensorsWriter::add_f32(const std::string& name, DType dtype, std::vector<int64_t> shape,
                                std::span<const float> values) {
    add(name, dtype, std::move(shape), encode_f32(dtype, values));
}

bool SafetensorsWriter::has(const std::string& name) const {
    return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.name == name; });
}

void SafetensorsWriter::replace_f32(const std::string& name, std::span<const float> values) {
    for (auto& e : entries_) {
        if (e.name != name) continue;
        auto dt = compute_dtype(e.dtype_name);
        if (!dt) throw Error("safetensors writer: tensor '" + name + "' has non-float dtype " + e.dtype_name);
        auto bytes = encode_f32(*dt, values);
        if (bytes.size() != e.bytes.size())
            throw Error("safetensors writer: tensor '" + name + "': replacement has " + std::to_string(values.size()) +
                        " values, tensor has " + std::to_string(e.bytes.size() / dtype_size(*dt)));
        e.bytes = std::move(bytes);
        return;
    }
    throw Error("safetensors writer: no tensor '" + name + "' to replace");
}

std::vector<uint8_t> SafetensorsWriter::serialize() const {
    nlohmann::ordered_json h = nlohmann::ordered_json::object();
    if (!metadata_.empty()) h["__metadata__"] = metadata_;
    uint64_t off = 0;
    for (const auto& e : entries_) {
        h[e.name] = {{"dtype", e.dtype_name}, {"shape", e.shape}, {"data_offsets", {off, off + e.bytes.size()}}};
        off += e.bytes.size();
    }
    std::string hs = h.dump();
    while ((hs.size() + 8) % 8 != 0) hs.push_back(' ');  // pad with spaces so the data section is 8-aligned
    std::vector<uint8_t> out;
    out.reserve(8 + hs.size() + off);
    uint64_t n = hs.size();
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
    out.insert(out.end(), hs.begin(), hs.end());
    for (const auto& e : entries_) out.insert(out.end(), e.bytes.begin(), e.bytes.end());
    return out;
}

void SafetensorsWriter::write(const std::string& path) const {
    auto bytes = serialize();
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) throw Error(path + ": cannot open for writing");
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!f) throw Error(path + ": write failed");
}

}  // namespace moescope
