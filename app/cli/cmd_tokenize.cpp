// moescope-cli tokenize — text to ids (or ids to text with --decode) with a model's tokenizer.
//
//   moescope-cli tokenize MODEL_DIR [--add-special] [--text "..."]      (MODEL_DIR/tokenizer.json)
//   moescope-cli tokenize --tokenizer tokenizer.json [--config tokenizer_config.json] ...
//   moescope-cli tokenize ... --decode [--skip-special] [--text "[1,2,3]"]
//
// Without --text, stdin holds one JSON value per line (a string to encode, or an array of ids to
// decode) and stdout gets one JSON value per line (array of ids, or the decoded string), so a
// script can stream many inputs through one process. Blank lines are skipped.
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "engine/error.h"
#include "engine/tokenizer/tokenizer.h"

namespace moescope::cli {
namespace {

using json = nlohmann::json;

std::string encode_line(const Tokenizer& tok, const std::string& text, bool add_special) {
    return json(tok.encode(text, add_special)).dump();
}

std::string decode_value(const Tokenizer& tok, const json& v, bool skip_special, const std::string& where) {
    if (!v.is_array()) throw Error(where + ": expected a JSON array of token ids");
    std::vector<int32_t> ids;
    for (const auto& x : v) {
        if (!x.is_number_integer()) throw Error(where + ": token ids must be integers");
        const auto id = x.get<int64_t>();
        if (id < 0 || id >= tok.vocab_size())
            throw Error(where + ": token id " + std::to_string(id) + " is outside the vocabulary (size " +
                        std::to_string(tok.vocab_size()) + ")");
        ids.push_back(static_cast<int32_t>(id));
    }
    return json(tok.decode(ids, skip_special)).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

int cmd_tokenize(const CommandArgs& argv) {
    Args args;
    args.positional("MODEL_DIR", "model folder holding tokenizer.json (and tokenizer_config.json)", false)
        .option("tokenizer", "path of a tokenizer.json (instead of MODEL_DIR)")
        .option("config", "path of a tokenizer_config.json to use with --tokenizer (add_bos_token, ...)")
        .option("text", "a single input instead of stdin (a string; with --decode a JSON array of ids)")
        .flag("add-special", "apply the post-processor (BOS/EOS) when encoding")
        .flag("decode", "decode: JSON arrays of ids in, JSON strings out")
        .flag("skip-special", "with --decode, drop special tokens from the text");
    args.parse(argv);
    if (args.help_requested()) {
        std::cout << args.usage("tokenize")
                  << "\nWithout --text, reads one JSON string per line on stdin (one JSON array of ids per line\n"
                     "with --decode) and writes one JSON array of ids (or JSON string) per line.\n";
        return 0;
    }
    const auto dir = args.pos("MODEL_DIR");
    if (dir && args.has("tokenizer")) throw UsageError("give either MODEL_DIR or --tokenizer, not both");
    if (!dir && !args.has("tokenizer")) throw UsageError("missing MODEL_DIR or --tokenizer FILE");
    if (args.has("config") && !args.has("tokenizer")) throw UsageError("--config needs --tokenizer");
    if (args.has("skip-special") && !args.has("decode")) throw UsageError("--skip-special needs --decode");
    if (args.has("add-special") && args.has("decode")) throw UsageError("--add-special is for encoding, not --decode");

    auto loaded = dir ? Tokenizer::from_model_dir(*dir)
                      : Tokenizer::from_file(args.get("tokenizer"), args.get_or("config", ""));
    if (!loaded) throw loaded.error();
    const Tokenizer& tok = loaded.value();
    const bool decode = args.has("decode");
    const bool add_special = args.has("add-special");
    const bool skip_special = args.has("skip-special");

    if (args.has("text")) {
        const std::string text = args.get("text");
        if (decode) {
            json v;
            try {
                v = json::parse(text);
            } catch (const json::parse_error& e) {
                throw UsageError(std::string("--text is not a JSON array of ids: ") + e.what());
            }
            std::cout << decode_value(tok, v, skip_special, "text") << "\n";
        } else {
            std::cout << encode_line(tok, text, add_special) << "\n";
        }
        return 0;
    }

    std::string line;
    long line_no = 0;
    while (std::getline(std::cin, line)) {
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        const std::string where = "stdin line " + std::to_string(line_no);
        json v;
        try {
            v = json::parse(line);
        } catch (const json::parse_error& e) {
            throw Error(where + ": invalid JSON: " + e.what());
        }
        if (decode) {
            std::cout << decode_value(tok, v, skip_special, where) << "\n";
        } else {
            if (!v.is_string()) throw Error(where + ": expected a JSON string");
            try {
                std::cout << encode_line(tok, v.get<std::string>(), add_special) << "\n";
            } catch (const Error& e) {
                throw Error(where + ": " + e.what());
            }
        }
        std::cout.flush();
    }
    return 0;
}

}  // namespace moescope::cli
