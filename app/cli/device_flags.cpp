#include "app/cli/device_flags.h"

#include <iostream>

#include "engine/cuda/cuda_backend.h"

namespace moescope::cli {

void declare_device_flags(Args& args) {
    args.option("device", "cpu (default), cuda or auto (GPU when present)")
        .option("precision", "GPU compute precision: fp32 (faithful) or bf16 (default, fast)")
        .option("weights", "CPU weights: native (default, the checkpoint's dtype) or q8_0 (8-bit, quantised on "
                           "load; about half the memory traffic, not faithful)");
}

SessionDevice parse_device_flags(const Args& args, Model& model, int64_t context) {
    auto choice = gpu::parse_device(args.get_or("device", "cpu"));
    if (!choice) throw UsageError("--device: " + choice.message());
    const std::string weights = args.get_or("weights", "native");
    if (weights != "native" && weights != "q8_0") throw UsageError("--weights must be native or q8_0");
    if (weights == "q8_0") {
        if (args.get_or("device", "cpu") != "cpu") throw UsageError("--weights q8_0 is a CPU option: use --device cpu");
        auto q = model.quantize_q8_0();
        if (!q) throw q.error();
    }
    auto precision = gpu::parse_precision(args.get_or("precision", "bf16"));
    if (!precision) throw UsageError("--precision: " + precision.message());
    SessionDevice d;
    d.max_context = context < 1 ? 1 : context;
    gpu::CudaOptions o;
    o.precision = precision.value();
    std::string note;
    auto cuda = gpu::select_device(choice.value(), model.config(), model.weights(), o, d.max_context, &note);
    if (!cuda) throw cuda.error();
    if (!note.empty()) std::cerr << note << "\n";
    d.cuda = cuda.value();
    return d;
}

}  // namespace moescope::cli
