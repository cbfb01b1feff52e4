#pragma once
// --device cpu|cuda|auto and --precision fp32|bf16 for the model-running subcommands (issue 9).
// cpu (the default) runs the CPU oracle; cuda requires a GPU (error otherwise); auto uses the GPU when
// one is present and the model is supported there, else the CPU (saying why on stderr).
#include <cstdint>

#include "app/cli/args.h"
#include "engine/model/model.h"
#include "engine/session.h"

namespace moescope::cli {

void declare_device_flags(Args& args);
// Loads the model on the chosen device with a KV cache of `context` positions. UsageError for bad
// values, moescope::Error when --device cuda cannot be honoured (no GPU, out of memory with numbers).
SessionDevice parse_device_flags(const Args& args, const Model& model, int64_t context);

}  // namespace moescope::cli
