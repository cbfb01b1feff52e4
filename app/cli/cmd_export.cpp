// moescope-cli export --db DB --format csv|jsonl|safetensors --out DIR [--run ID]
#include <iostream>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "storage/export.h"

namespace moescope::cli {

int cmd_export(const CommandArgs& argv) {
    Args a;
    a.option("db", "activation database to read")
        .option("format", "csv | jsonl | safetensors")
        .option("out", "output folder (created when missing)")
        .option("run", "export only this run id");
    a.parse(argv);
    if (a.help_requested()) {
        std::cout << a.usage("export")
                  << "\nWrites routing in long form (csv/jsonl: routing.* + tokens.*) or as dense tensors per run\n"
                     "(safetensors: experts I16 [tokens, moe_layers, k], weights F32, logits when captured),\n"
                     "plus runs.json describing runs, models and prompt sets. See docs/database.md.\n";
        return 0;
    }
    auto fmt = storage::parse_export_format(a.get("format"));
    if (!fmt) throw UsageError("--format must be csv, jsonl or safetensors (got '" + a.get("format") + "')");
    std::optional<int64_t> run;
    if (a.has("run")) run = parse_int(a.get("run"), "--run");
    auto db = storage::Database::open(a.get("db"), storage::Access::ReadOnly);
    storage::ExportResult r = storage::export_routing(*db, *fmt, a.get("out"), run);
    std::cout << "exported " << r.runs << " run(s), " << r.tokens << " tokens, " << r.token_layers
              << " token-layer routing records\n";
    for (const auto& f : r.files) std::cout << "  " << f << "\n";
    return 0;
}

}  // namespace moescope::cli
