#include <exception>
#include <iostream>
#include <new>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "engine/device.h"
#include "engine/error.h"
#include "storage/sqlite_info.h"
#include "moescope/build_info.h"

namespace moescope::cli {

const std::vector<CommandInfo>& commands() {
    static const std::vector<CommandInfo> table = {
        {"info", "print a model's summary (architecture, layers, experts, parameters, memory) as JSON", cmd_info},
        {"tokenize", "tokenize text (or --decode ids) with a model's or a tokenizer.json's tokenizer", cmd_tokenize},
        {"eval", "run a token-id prompt through a model and print logits, routing and greedy tokens as JSON", cmd_eval},
        {"generate", "generate text from a prompt, optionally with expert interventions and recording", cmd_generate},
        {"record", "run a JSONL prompt set through a model and record routing into an activation database", cmd_record},
        {"analyze", "run an analysis (ftri, specialization, super-experts, lrc, importance, ...) on a database", cmd_analyze},
        {"export", "export recorded routing as CSV, JSONL or safetensors", cmd_export},
        {"import", "import routing captured by vLLM or SGLang into an activation database", cmd_import},
        {"prune", "write a pruned Hugging Face checkpoint from an expert-keep plan", cmd_prune},
        {"bench", "benchmark prefill/decode speed against the measured memory-bandwidth bound", cmd_bench},
    };
    return table;
}

int not_implemented(const char* name) {
    std::cerr << "moescope-cli " << name << ": not implemented yet in this version (see README, section Status)\n";
    return 2;
}

static void print_help() {
    std::cout << "moescope-cli " << MOESCOPE_VERSION
              << " — look inside Mixture-of-Experts models and steer them (headless)\n\n"
              << "usage: moescope-cli [--help] [--version] <command> [args]\n\ncommands:\n";
    for (const auto& c : commands()) {
        std::string n = c.name;
        std::cout << "  " << n << std::string(n.size() < 10 ? 10 - n.size() : 1, ' ') << c.summary << "\n";
    }
    std::cout << "\nRun 'moescope-cli <command> --help' for a command's options. A MODEL is a folder in Hugging\n"
                 "Face layout (config.json, *.safetensors, tokenizer.json) or 'demo' for the bundled model.\n";
}

static void print_version() {
    std::cout << "moescope-cli " << MOESCOPE_VERSION << " (" << MOESCOPE_BUILD_TYPE << ")\n"
              << "CUDA backend: " << (cuda_compiled() ? "compiled in" : "not compiled in") << "\n"
              << "GPU: " << (cuda_device_count() > 0 ? cuda_device_description() : std::string("none present"))
              << "\n"
              << "SQLite: " << storage::sqlite_library_version() << "\n";
}

int run(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        print_help();
        return 2;
    }
    const std::string& first = args[0];
    if (first == "--help" || first == "-h" || first == "help") {
        print_help();
        return 0;
    }
    if (first == "--version" || first == "-V") {
        print_version();
        return 0;
    }
    for (const auto& c : commands()) {
        if (first != c.name) continue;
        CommandArgs rest(args.begin() + 1, args.end());
        try {
            return c.run(rest);
        } catch (const UsageError& e) {
            std::cerr << "moescope-cli " << c.name << ": " << e.what() << "\n"
                      << "Run 'moescope-cli " << c.name << " --help' for usage.\n";
            return 2;
        } catch (const Error& e) {
            std::cerr << "moescope-cli " << c.name << ": error: " << e.what() << "\n";
            return 1;
        } catch (const std::bad_alloc&) {
            std::cerr << "moescope-cli " << c.name << ": error: out of memory\n";
            return 1;
        } catch (const std::exception& e) {
            std::cerr << "moescope-cli " << c.name << ": error: " << e.what() << "\n";
            return 1;
        }
    }
    std::cerr << "moescope-cli: unknown command '" << first << "'\nRun 'moescope-cli --help' for the list of commands.\n";
    return 2;
}

}  // namespace moescope::cli
