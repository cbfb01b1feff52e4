#pragma once
// Internals shared by cuda_model.cu and cuda_sequence.cu.
#include <string>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_weights.cuh"

namespace moescope::gpu {

class CudaModelImpl {
public:
    ModelConfig cfg;
    DevWeights w;
    Precision precision = Precision::BF16;
    int device = 0;
    std::string name;
    bool loaded = false;
};

}  // namespace moescope::gpu
