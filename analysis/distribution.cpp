#include "analysis/distribution.h"

#include <cmath>

namespace moescope::analysis {

double entropy_nats(std::span<const double> weights) {
    double total = 0.0;
    for (double w : weights) total += w > 0 ? w : 0.0;
    if (total <= 0.0) return 0.0;
    double h = 0.0;
    for (double w : weights) {
        if (w <= 0) continue;
        const double p = w / total;
        h -= p * std::log(p);
    }
    return h;
}

double normalized_entropy(std::span<const double> weights) {
    if (weights.size() < 2) return 0.0;
    return entropy_nats(weights) / std::log(static_cast<double>(weights.size()));
}

}  // namespace moescope::analysis
