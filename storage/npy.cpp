#include "storage/npy.h"

#include <cctype>
#include <cstring>
#include <fstream>
#include <iterator>

#include "engine/error.h"

namespace moescope::storage {

namespace {

[[noreturn]] void fail(const std::string& label, size_t offset, const std::string& why) {
    throw Error(label + ": offset " + std::to_string(offset) + ": not a usable .npy file: " + why);
}

// Value of `key` in the header dict: the text after "'key':" up to the next top-level ',' or '}'.
std::string dict_value(const std::string& label, const std::string& h, const std::string& key, size_t base) {
    size_t k = h.find("'" + key + "'");
    if (k == std::string::npos) k = h.find("\"" + key + "\"");
    if (k == std::string::npos) fail(label, base, "header has no '" + key + "' entry");
    size_t c = h.find(':', k);
    if (c == std::string::npos) fail(label, base + k, "malformed header entry '" + key + "'");
    size_t i = c + 1;
    int depth = 0;
    std::string v;
    for (; i < h.size(); ++i) {
        char ch = h[i];
        if (ch == '(' || ch == '[') ++depth;
        if (ch == ')' || ch == ']') --depth;
        if (depth == 0 && (ch == ',' || ch == '}')) break;
        v += ch;
    }
    size_t a = v.find_first_not_of(" \t"), b = v.find_last_not_of(" \t");
    return a == std::string::npos ? std::string() : v.substr(a, b - a + 1);
}

}  // namespace

NpyArray parse_npy(const std::string& label, const std::vector<uint8_t>& bytes) {
    static const uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0) fail(label, 0, "missing \\x93NUMPY magic");
    const int major = bytes[6];
    size_t header_len = 0, pos = 0;
    if (major == 1) {
        header_len = bytes[8] | (static_cast<size_t>(bytes[9]) << 8);
        pos = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12) fail(label, 8, "truncated header length");
        header_len = bytes[8] | (static_cast<size_t>(bytes[9]) << 8) | (static_cast<size_t>(bytes[10]) << 16) |
                     (static_cast<size_t>(bytes[11]) << 24);
        pos = 12;
    } else {
        fail(label, 6, "unsupported format version " + std::to_string(major));
    }
    if (header_len > bytes.size() - pos) fail(label, pos, "header length " + std::to_string(header_len) + " beyond the file");
    std::string h(reinterpret_cast<const char*>(bytes.data() + pos), header_len);
    NpyArray a;
    std::string descr = dict_value(label, h, "descr", pos);
    if (descr.size() < 2 || (descr.front() != '\'' && descr.front() != '"')) fail(label, pos, "descr is not a simple dtype string");
    a.descr = descr.substr(1, descr.size() - 2);
    std::string fo = dict_value(label, h, "fortran_order", pos);
    if (fo != "True" && fo != "False") fail(label, pos, "fortran_order is '" + fo + "'");
    a.fortran_order = fo == "True";
    std::string shape = dict_value(label, h, "shape", pos);
    if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')') fail(label, pos, "shape is not a tuple");
    {
        std::string num;
        for (size_t i = 1; i + 1 <= shape.size(); ++i) {
            char ch = i + 1 == shape.size() ? ',' : shape[i];
            if (std::isdigit(static_cast<unsigned char>(ch))) {
                num += ch;
            } else if (ch == ',') {
                if (!num.empty()) {
                    if (num.size() > 15) fail(label, pos, "dimension too large");
                    a.shape.push_back(std::stoll(num));
                }
                num.clear();
            } else if (ch != ' ' && ch != 'L') {
                fail(label, pos, "shape has a non-integer entry");
            }
        }
    }
    if (a.descr.find('O') != std::string::npos) fail(label, pos, "object arrays (pickles) are refused");
    if (a.descr.size() < 3) fail(label, pos, "unsupported dtype '" + a.descr + "'");
    const char order = a.descr[0];
    const char kind = a.descr[1];
    int size = 0;
    try {
        size = std::stoi(a.descr.substr(2));
    } catch (...) {
        fail(label, pos, "unsupported dtype '" + a.descr + "'");
    }
    if (kind == 'O') fail(label, pos, "object arrays (pickles) are refused");
    if ((kind != 'i' && kind != 'u') || !(size == 1 || size == 2 || size == 4 || size == 8) ||
        (order != '<' && order != '>' && order != '|' && order != '='))
        fail(label, pos, "dtype '" + a.descr + "' is not an integer type (expected e.g. '<i2' for int16 expert ids)");
    uint64_t n = 1;
    for (int64_t d : a.shape) {
        if (d < 0 || (d > 0 && n > (uint64_t(1) << 40) / static_cast<uint64_t>(d))) fail(label, pos, "shape too large");
        n *= static_cast<uint64_t>(d);
    }
    const size_t data = pos + header_len;
    if (bytes.size() - data != n * static_cast<uint64_t>(size))
        fail(label, data, "data has " + std::to_string(bytes.size() - data) + " bytes, shape and dtype need " +
                              std::to_string(n * static_cast<uint64_t>(size)));
    a.values.resize(n);
    const bool big = order == '>';
    for (uint64_t i = 0; i < n; ++i) {
        const uint8_t* p = bytes.data() + data + i * static_cast<uint64_t>(size);
        uint64_t u = 0;
        for (int b = 0; b < size; ++b) u |= static_cast<uint64_t>(p[big ? size - 1 - b : b]) << (8 * b);
        int64_t v;
        if (kind == 'i' && size < 8 && (u >> (8 * size - 1)) & 1) v = static_cast<int64_t>(u | (~uint64_t(0) << (8 * size)));
        else v = static_cast<int64_t>(u);
        a.values[i] = v;
    }
    if (a.fortran_order && a.shape.size() > 1) {  // column-major on disk: reorder to C order
        std::vector<int64_t> c(a.values.size());
        const size_t r = a.shape.size();
        std::vector<int64_t> idx(r, 0);
        for (uint64_t i = 0; i < n; ++i) {
            // idx is the C-order multi-index of element i; its Fortran-order offset:
            uint64_t f = 0, stride = 1;
            for (size_t d = 0; d < r; ++d) {
                f += static_cast<uint64_t>(idx[d]) * stride;
                stride *= static_cast<uint64_t>(a.shape[d]);
            }
            c[i] = a.values[f];
            for (size_t d = r; d-- > 0;) {
                if (++idx[d] < a.shape[d]) break;
                idx[d] = 0;
            }
        }
        a.values.swap(c);
    }
    return a;
}

NpyArray read_npy(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(path + ": cannot open");
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return parse_npy(path, bytes);
}

}  // namespace moescope::storage
