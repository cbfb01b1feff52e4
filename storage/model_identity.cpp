#include "storage/model_identity.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

namespace moescope::storage {

namespace fs = std::filesystem;

namespace {
uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
}  // namespace

std::string model_content_hash(const std::string& dir_s) {
    const fs::path dir(dir_s);
    std::ifstream cfg(dir / "config.json", std::ios::binary);
    const std::string config((std::istreambuf_iterator<char>(cfg)), std::istreambuf_iterator<char>());
    uint64_t h = fnv1a(0xcbf29ce484222325ull, config.data(), config.size());
    std::set<std::string> files;  // sorted: the hash does not depend on directory order
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().extension() == ".safetensors") files.insert(e.path().filename().string());
    for (const auto& f : files) {
        uint64_t size = fs::file_size(dir / f, ec);
        h = fnv1a(h, f.data(), f.size());
        h = fnv1a(h, &size, sizeof size);
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

std::optional<std::string> runs_model_mismatch(Database& db, const std::vector<int64_t>& run_ids, const std::string& dir) {
    const std::string have = model_content_hash(dir);
    for (int64_t id : run_ids) {
        const RunInfo r = db.run(id);
        if (r.model_id == 0) continue;  // imported without a model row: nothing to compare
        const auto m = db.model(r.model_id);
        if (!m || m->content_hash.empty() || m->content_hash == have) continue;
        return "run " + std::to_string(id) + " was recorded with model '" + m->name + "' (" + m->path +
               "), not with the model in " + dir + " (their config.json or weight files differ)";
    }
    return std::nullopt;
}

}  // namespace moescope::storage
