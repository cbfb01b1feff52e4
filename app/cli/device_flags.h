#pragma once
// --device cpu|cuda|auto, --precision fp32|bf16 and --weights native|q8_0 for the model-running
// subcommands (issues 9 and 12).
// cpu (the default) runs the CPU oracle; cuda requires a GPU (error otherwise); auto uses the GPU when
// one is present and the model is supported there, else the CPU (saying why on stderr).
#include <cstdint>

#include "app/cli/args.h"
#include "engine/model/model.h"
#include "engine/session.h"

namespace moescope::cli {

void declare_device_flags(Args& args);
// Loads the model on the chosen device with a KV cache of `context` positions (after quantising it to
// Q8_0 first with --weights q8_0, CPU only). UsageError for bad values, moescope::Error when --device
// cuda cannot be honoured (no GPU, out of memory with numbers).
SessionDevice parse_device_flags(const Args& args, Model& model, int64_t context);

}  // namespace moescope::cli
