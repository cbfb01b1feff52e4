#include "engine/prompt_logits.h"

#include "engine/session.h"

namespace moescope {

std::vector<PromptLogits> prompt_logits(const Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                        const Interventions& iv, int threads, const std::atomic<bool>* stop,
                                        const std::function<void(size_t)>& on_progress, const SessionDevice& device) {
    std::vector<PromptLogits> out;
    for (const auto& p : prompts) {
        if (stop && stop->load()) break;
        Session s(model, SessionOptions{threads}, device);
        if (auto ok = s.set_interventions(iv); !ok.ok()) throw Error("interventions: " + ok.message());
        PromptLogits r;
        r.vocab = model.config().vocab_size;
        s.prefill(p, &r.logits);
        r.targets.assign(p.begin() + 1, p.end());
        r.targets.push_back(-1);
        out.push_back(std::move(r));
        if (on_progress) on_progress(out.size());
    }
    return out;
}

}  // namespace moescope
