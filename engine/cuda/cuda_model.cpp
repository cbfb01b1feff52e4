// CudaModel: memory check, upload, unload (see cuda_backend.h).
#include <cuda_runtime.h>

#include "engine/cuda/common.cuh"
#include "engine/cuda/cuda_impl.cuh"

namespace moescope::gpu {

const char* precision_name(Precision p) { return p == Precision::FP32 ? "fp32" : "bf16"; }

Result<std::shared_ptr<CudaModel>> CudaModel::load(const ModelConfig& cfg, const ModelWeights& w,
                                                   const CudaOptions& options, int64_t reserve_context) {
    return try_result([&]() -> std::shared_ptr<CudaModel> {
        if (auto ok = check_supported(cfg); !ok) throw ok.error();
        int n = 0;
        const cudaError_t err = cudaGetDeviceCount(&n);
        if (err != cudaSuccess || n == 0) {
            cudaGetLastError();
            throw Error(std::string("CUDA backend: no usable GPU (") +
                        (err != cudaSuccess ? cudaGetErrorString(err) : "no device") + ")");
        }
        if (options.device < 0 || options.device >= n)
            throw Error("CUDA backend: device " + std::to_string(options.device) + " does not exist (" +
                        std::to_string(n) + " present)");
        CUDA_CHECK(cudaSetDevice(options.device));
        cudaDeviceProp prop{};
        CUDA_CHECK(cudaGetDeviceProperties(&prop, options.device));
        // Refuse before allocating anything when the estimate does not fit.
        const MemoryEstimate est = estimate_memory(cfg, w, reserve_context);
        size_t free_b = 0, total_b = 0;
        CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
        if (est.total() > free_b)
            throw Error("out of GPU memory: " + cfg.model_type + " needs " + est.describe() + ", but " + prop.name +
                        " has only " + format_bytes(free_b) + " free of " + format_bytes(total_b) +
                        " (use a shorter context, another device or --device cpu)");
        std::shared_ptr<CudaModel> m(new CudaModel());
        m->impl_ = std::make_unique<CudaModelImpl>();
        CudaModelImpl& d = *m->impl_;
        d.cfg = cfg;
        d.precision = options.precision;
        d.device = options.device;
        d.name = prop.name;
        upload_weights(cfg, w, d.w);  // on failure the partially filled DevWeights frees itself
        d.loaded = true;
        return m;
    });
}

CudaModel::~CudaModel() = default;
const ModelConfig& CudaModel::config() const { return impl_->cfg; }
Precision CudaModel::precision() const { return impl_->precision; }
void CudaModel::set_precision(Precision p) { impl_->precision = p; }
uint64_t CudaModel::device_bytes() const { return impl_->w.bytes; }
std::string CudaModel::device_name() const { return impl_->name; }
bool CudaModel::loaded() const { return impl_->loaded; }
void CudaModel::unload() {
    impl_->w = DevWeights{};
    impl_->loaded = false;
}

}  // namespace moescope::gpu
