// CPU-only builds: the CUDA backend's interface exists (engine/cuda/cuda_backend.h) so callers need
// no #ifdefs, but loading reports that the backend was not compiled in. Nothing else is reachable
// because no CudaModel or CudaSequence can be created.
#include "engine/cuda/cuda_backend.h"

namespace moescope::gpu {

class CudaModelImpl {};
class CudaSequenceImpl {};

namespace {
[[noreturn]] void not_compiled() { throw Error("CUDA backend not compiled in (CPU-only build; use --device cpu)"); }
}  // namespace

const char* precision_name(Precision p) { return p == Precision::FP32 ? "fp32" : "bf16"; }

Result<std::shared_ptr<CudaModel>> CudaModel::load(const ModelConfig&, const ModelWeights&, const CudaOptions&, int64_t) {
    return Error("CUDA backend not compiled in (CPU-only build; use --device cpu)");
}
CudaModel::~CudaModel() = default;
const ModelConfig& CudaModel::config() const { not_compiled(); }
Precision CudaModel::precision() const { not_compiled(); }
void CudaModel::set_precision(Precision) { not_compiled(); }
uint64_t CudaModel::device_bytes() const { return 0; }
std::string CudaModel::device_name() const { return {}; }
void CudaModel::unload() {}
bool CudaModel::loaded() const { return false; }

Result<std::unique_ptr<CudaSequence>> CudaSequence::create(std::shared_ptr<CudaModel>, int64_t) {
    return Error("CUDA backend not compiled in (CPU-only build; use --device cpu)");
}
CudaSequence::~CudaSequence() = default;
void CudaSequence::forward(std::span<const int32_t>, const Interventions&, RoutingObserver*, int, std::vector<float>*,
                           std::vector<float>&) {
    not_compiled();
}
int64_t CudaSequence::n_past() const { return 0; }
int64_t CudaSequence::max_context() const { return 0; }
void CudaSequence::truncate(int64_t) {}
std::unique_ptr<CudaSequence> CudaSequence::fork() const { not_compiled(); }

}  // namespace moescope::gpu

// ---- benchmark (engine/cuda/cuda_bench.h) ----
#include "engine/cuda/cuda_bench.h"

namespace moescope::gpu {
std::string CudaBenchResult::to_json() const { return "{}"; }
Result<CudaBenchResult> cuda_bench(const ModelConfig&, const ModelWeights&, const CudaBenchOptions&) {
    return Error("CUDA backend not compiled in (CPU-only build; use --device cpu)");
}
uint64_t active_weight_bytes(const ModelConfig&, const ModelWeights&) { return 0; }
}  // namespace moescope::gpu
