#pragma once
// Minimal NumPy .npy reader (format versions 1.0-3.0) for integer arrays, written from the format
// description in numpy/lib/format.py's docstring: magic "\x93NUMPY", major/minor version, a little-endian
// header length (u16 for v1, u32 for v2/v3), an ASCII Python dict literal
// {'descr': '<i2', 'fortran_order': False, 'shape': (T, L, K), } padded with spaces and '\n', then the
// raw data. Object arrays (pickles) are refused: nothing here ever unpickles.
#include <cstdint>
#include <string>
#include <vector>

namespace moescope::storage {

struct NpyArray {
    std::string descr;            // e.g. "<i2"
    bool fortran_order = false;
    std::vector<int64_t> shape;
    std::vector<int64_t> values;  // widened integers, C order (Fortran-order files are transposed)
};

// Parses an in-memory .npy image. Throws Error naming `label`, the byte offset and the reason.
NpyArray parse_npy(const std::string& label, const std::vector<uint8_t>& bytes);
NpyArray read_npy(const std::string& path);

}  // namespace moescope::storage
