#include "engine/version.h"

#include "moescope/build_info.h"

namespace moescope {

const char* engine_version() {
#if MOESCOPE_HAVE_CUDA
    return "moescope-engine " MOESCOPE_VERSION " (cpu+cuda)";
#else
    return "moescope-engine " MOESCOPE_VERSION " (cpu)";
#endif
}

}  // namespace moescope
