// Streaming generation loop over a Session.
#include "engine/generate.h"

#include <algorithm>

#include "engine/model/model.h"

namespace moescope {

namespace {

// Forwards every event to the user's observer and keeps the routing of the last position of each
// forward pass (that is the routing whose logits choose the next token).
class LastPositionTap : public RoutingObserver {
public:
    RoutingObserver* inner = nullptr;
    bool capture = true;
    int64_t last_pos = -1;
    std::vector<LayerRouting> current;  // routing at the highest position seen in this forward
    int64_t step_last = -1;             // last position of the current forward (from on_step_end)
    std::vector<LayerRouting> done;     // routing of the last finished forward's last position

    CaptureLevel capture_level() const override {
        CaptureLevel mine = capture ? CaptureLevel::Routing : CaptureLevel::None;
        CaptureLevel theirs = inner ? inner->capture_level() : CaptureLevel::None;
        return std::max(mine, theirs);
    }
    void on_routing(const RoutingEvent& ev) override {
        if (inner && inner->capture_level() >= CaptureLevel::Routing) inner->on_routing(ev);
        if (!capture) return;
        if (ev.position > last_pos) {
            last_pos = ev.position;
            current.clear();
        }
        if (ev.position == last_pos)
            current.push_back({ev.layer, {ev.experts.begin(), ev.experts.end()}, {ev.weights.begin(), ev.weights.end()},
                               ev.shared_gate});
    }
    void on_layer_stats(const LayerStatsEvent& ev) override {
        if (inner && inner->capture_level() >= CaptureLevel::Activations) inner->on_layer_stats(ev);
    }
    void on_step_end(const StepEvent& ev) override {
        if (inner && inner->capture_level() > CaptureLevel::None) inner->on_step_end(ev);
        done.swap(current);
        current.clear();
        last_pos = -1;
    }
};

}  // namespace

GenerateResult generate(Session& session, std::span<const int32_t> prompt, const GenerateOptions& options,
                        const std::function<bool(const GeneratedToken&)>& on_token) {
    if (auto ok = options.sampling.validate(); !ok.ok()) throw ok.error();
    GenerateResult result;
    std::vector<int32_t> eos = options.eos_ids;
    if (eos.empty())
        for (int e : session.model().config().eos_token_ids) eos.push_back(e);
    Sampler sampler(options.sampling);
    LastPositionTap tap;
    tap.inner = session.observer();
    tap.capture = options.capture_routing;
    RoutingObserver* saved = session.observer();
    session.set_observer(&tap);
    struct Restore {
        Session& s;
        RoutingObserver* o;
        ~Restore() { s.set_observer(o); }
    } restore{session, saved};

    auto apply_schedule = [&](int step) {
        for (const auto& ch : options.schedule)
            if (ch.step == step)
                if (auto ok = session.set_interventions(ch.interventions); !ok.ok()) throw ok.error();
    };
    std::span<const float> logits;
    if (!prompt.empty()) apply_schedule(-1);
    if (!prompt.empty()) logits = session.prefill(prompt);
    else if (session.n_past() == 0) throw Error("generate: empty prompt and empty session");
    else logits = session.last_logits();

    for (int i = 0; i < options.max_new_tokens; ++i) {
        if (session.cancel_requested()) {
            result.stop_reason = "cancelled";
            return result;
        }
        const int32_t id = sampler.sample(logits, session.tokens());
        GeneratedToken tok;
        tok.index = i;
        tok.id = id;
        tok.logprob = Sampler::logprob(logits, id);
        tok.top = Sampler::top_n(logits, options.top_alternatives);
        tok.routing = tap.done;
        tok.timeline_index = static_cast<int>(session.timeline().size()) - 1;
        if (options.detokenize) tok.piece = options.detokenize(id);
        result.tokens.push_back(id);
        const bool is_eos = options.stop_on_eos && std::find(eos.begin(), eos.end(), id) != eos.end();
        if (on_token && !on_token(tok)) {
            result.stop_reason = "callback";
            return result;
        }
        if (is_eos) {
            result.stop_reason = "eos";
            return result;
        }
        if (i + 1 == options.max_new_tokens) break;
        apply_schedule(session.next_step());
        logits = session.step(id);
    }
    result.stop_reason = "max_new_tokens";
    return result;
}

}  // namespace moescope
