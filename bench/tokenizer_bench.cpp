// Tokenizer benchmark (not a test): load time of real tokenizer.json files and single-threaded
// encode throughput on a few MB of generated mixed text (English prose, code, numbers, CJK,
// Cyrillic, emoji, whitespace runs). Usage:
//   tokenizer_bench [TESTDATA_DIR] [MB] [FAMILY]   (defaults: ../shared/testdata, 4 MB, all)
// Figures measured on the project machines are recorded in bench/README.md.
#include <chrono>
#include <cstdint>
#include <ctime>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
// Process CPU time: on a shared, oversubscribed machine it is a steadier measure than wall time.
double cpu_seconds() { return double(std::clock()) / CLOCKS_PER_SEC; }

// Deterministic mixed text: words and fragments drawn by a fixed LCG.
std::string make_text(std::size_t bytes) {
    static const char* const fragments[] = {
        "the", "of", "and", "a", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are", "as",
        "with", "his", "they", "I", "at", "be", "this", "have", "from", "or", "one", "had", "by", "word",
        "Mixture-of-Experts", "routing", "expert", "gate", "softmax", "token", "layer", "they're", "don't",
        "It's", "WE'LL", "1234567", "3.14159", "2026-11-24", "$100", "(x + y) * z", "foo_bar()", "{\"a\": 1}",
        "if (x) { return y; }", "\n", "\n\n", "    ", "\t", "  ", "\r\n", "Führer", "naïve", "café",
        "Привет мир", "Здравствуйте", "日本語のテキスト", "中文文本测试", "한국어", "مرحبا بالعالم", "नमस्ते",
        "Ελληνικά", "🦙", "👍🏽", "🏳️‍🌈", "…", "—", "https://example.com/a?b=c", "#include <vector>",
    };
    constexpr std::size_t n = sizeof(fragments) / sizeof(fragments[0]);
    std::string out;
    out.reserve(bytes + 64);
    uint64_t state = 0x9E3779B97F4A7C15ull;
    while (out.size() < bytes) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        out += fragments[(state >> 33) % n];
        out += ((state >> 20) & 7) ? " " : ", ";
    }
    return out;
}

void run(const std::string& dir, const char* family, const std::string& text) {
    const std::string path = dir + "/tokenizers/" + family + "/tokenizer.json";
    auto t0 = Clock::now();
    const double l0 = cpu_seconds();
    auto r = moescope::Tokenizer::from_file(path);
    const double load_s = seconds_since(t0), load_cpu = cpu_seconds() - l0;
    if (!r) {
        std::fprintf(stderr, "%s\n", r.message().c_str());
        return;
    }
    const auto& tok = r.value();
    // Cold pass (empty BPE cache), then a warm pass (CPU time).
    double c0 = cpu_seconds();
    const auto ids = tok.encode(text);
    const double cold_s = cpu_seconds() - c0;
    c0 = cpu_seconds();
    const auto ids2 = tok.encode(text);
    const double warm_s = cpu_seconds() - c0;
    c0 = cpu_seconds();
    const std::string back = tok.decode(ids);
    const double dec_s = cpu_seconds() - c0;
    const double mb = double(text.size()) / 1e6;
    std::printf("%-32s load %6.3f s (cpu %6.3f s) | encode %.1f MB: cold %6.1f MB/s, warm %6.1f MB/s, %zu tokens | decode %6.1f MB/s%s\n",
                family, load_s, load_cpu, mb, mb / cold_s, mb / warm_s, ids.size(), mb / dec_s,
                ids == ids2 ? "" : "  (MISMATCH between passes!)");
}

}  // namespace

int main(int argc, char** argv) {
    const std::string dir = argc > 1 ? argv[1] : "../shared/testdata";
    const double mb = argc > 2 ? std::atof(argv[2]) : 4.0;
    const std::string text = make_text(static_cast<std::size_t>(mb * 1e6));
    const std::string only = argc > 3 ? argv[3] : "";
    for (const char* fam : {"qwen3", "mixtral-8x7b", "deepseek-v3", "olmoe-gpt-neox-olmo-dolma-v1_5"})
        if (only.empty() || only == fam) run(dir, fam, text);
    return 0;
}
