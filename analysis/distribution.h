#pragma once
// Small statistics over discrete distributions used by several analyses.
#include <span>

namespace moescope::analysis {

// Shannon entropy in nats of counts/weights (normalised internally; zeros contribute 0; all-zero -> 0).
double entropy_nats(std::span<const double> weights);
// Entropy divided by log(n): 1 = uniform over all n bins, 0 = all mass in one bin. n < 2 -> 0.
double normalized_entropy(std::span<const double> weights);

}  // namespace moescope::analysis
