#pragma once
// moescope-cli subcommands. Each lives in its own cmd_<name>.cpp and receives the arguments after the
// subcommand name. Return value is the process exit code: 0 success, 1 runtime failure (bad model,
// bad database: message on stderr), 2 usage error (throw UsageError from args.h).
#include <string>
#include <vector>

namespace moescope::cli {

using CommandArgs = std::vector<std::string>;

int cmd_info(const CommandArgs& args);
int cmd_tokenize(const CommandArgs& args);
int cmd_eval(const CommandArgs& args);
int cmd_generate(const CommandArgs& args);
int cmd_record(const CommandArgs& args);
int cmd_analyze(const CommandArgs& args);
int cmd_export(const CommandArgs& args);
int cmd_import(const CommandArgs& args);
int cmd_prune(const CommandArgs& args);
int cmd_bench(const CommandArgs& args);

struct CommandInfo {
    const char* name;
    const char* summary;
    int (*run)(const CommandArgs&);
};

// The table `--help` prints and main() dispatches on.
const std::vector<CommandInfo>& commands();

// Entry point used by main(): parses global flags, dispatches, converts errors to exit codes.
int run(int argc, char** argv);

// For subcommands not built yet: a clear message and exit code 2.
int not_implemented(const char* name);

}  // namespace moescope::cli
