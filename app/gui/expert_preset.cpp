// Preset files (via engine/presets.h) and the change markers shown in transcripts.
#include "app/gui/expert_preset.h"

#include "engine/presets.h"

#include <map>
#include <set>
#include <tuple>

namespace moescope::gui {

// One preset format for the app and the CLI: the engine's parser (engine/presets.h) does the work.
Result<ExpertPreset> parsePreset(const QByteArray& json, const QString& source) {
    auto p = parse_preset(json.toStdString(), source.toStdString());
    if (!p) return p.error();
    return ExpertPreset{QString::fromStdString(p->name), p->interventions};
}

QByteArray presetToJson(const ExpertPreset& preset) {
    return QByteArray::fromStdString(preset_to_json(Preset{preset.name.toStdString(), preset.interventions}));
}

Result<ExpertPreset> loadPresetFile(const QString& path) {
    auto p = load_preset_file(path.toStdString());
    if (!p) return p.error();
    return ExpertPreset{QString::fromStdString(p->name), p->interventions};
}

QString savePresetFile(const QString& path, const ExpertPreset& preset) {
    auto r = save_preset_file(path.toStdString(), Preset{preset.name.toStdString(), preset.interventions});
    return r ? QString() : QString::fromStdString(r.message());
}

QStringList describeChange(const Interventions& before, const Interventions& after) {
    // Per (layer, expert) state: 0 normal, 1 off, 2 forced, 3 zeroed (zero_output); plus bias.
    using Key = std::pair<int, int>;
    auto states = [](const Interventions& iv) {
        std::map<Key, int> m;
        for (const ExpertRef& r : iv.zero_output) m[{r.layer, r.expert}] = 3;
        for (const ExpertRef& r : iv.disable) m[{r.layer, r.expert}] = 1;
        for (const ExpertRef& r : iv.force) m[{r.layer, r.expert}] = 2;
        return m;
    };
    auto biases = [](const Interventions& iv) {
        std::map<Key, float> m;
        for (const ExpertBias& b : iv.bias) m[{b.layer, b.expert}] = b.bias;
        return m;
    };
    auto topks = [](const Interventions& iv) {
        std::map<int, int> m;
        for (const LayerTopK& t : iv.top_k_per_layer) m[t.layer] = t.k;
        return m;
    };
    // Collect (layer, order, text) so that changes sort by layer, then expert.
    std::vector<std::tuple<int, int, QString>> out;
    const auto sa = states(before), sb = states(after);
    std::set<Key> keys;
    for (const auto& [k, v] : sa) keys.insert(k);
    for (const auto& [k, v] : sb) keys.insert(k);
    for (const Key& k : keys) {
        const int a = sa.count(k) ? sa.at(k) : 0, b = sb.count(k) ? sb.at(k) : 0;
        if (a == b) continue;
        static const char* names[] = {"normal", "off", "forced", "zeroed"};
        out.emplace_back(k.first, k.second, QStringLiteral("L%1 E%2 %3").arg(k.first).arg(k.second).arg(names[b]));
    }
    const auto ba = biases(before), bb = biases(after);
    std::set<Key> bkeys;
    for (const auto& [k, v] : ba) bkeys.insert(k);
    for (const auto& [k, v] : bb) bkeys.insert(k);
    for (const Key& k : bkeys) {
        const float a = ba.count(k) ? ba.at(k) : 0.0f, b = bb.count(k) ? bb.at(k) : 0.0f;
        if (a == b) continue;
        out.emplace_back(k.first, k.second,
                         b == 0.0f ? QStringLiteral("L%1 E%2 bias off").arg(k.first).arg(k.second)
                                   : QStringLiteral("L%1 E%2 bias %3%4").arg(k.first).arg(k.second).arg(b > 0 ? "+" : "").arg(b, 0, 'g', 3));
    }
    const auto ta = topks(before), tb = topks(after);
    std::set<int> layers;
    for (const auto& [l, k] : ta) layers.insert(l);
    for (const auto& [l, k] : tb) layers.insert(l);
    for (int l : layers) {
        const int a = ta.count(l) ? ta.at(l) : 0, b = tb.count(l) ? tb.at(l) : 0;
        if (a == b) continue;
        out.emplace_back(l, 1 << 30, b > 0 ? QStringLiteral("L%1 top-k %2").arg(l).arg(b) : QStringLiteral("L%1 top-k default").arg(l));
    }
    std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
        return std::tie(std::get<0>(x), std::get<1>(x)) < std::tie(std::get<0>(y), std::get<1>(y));
    });
    QStringList result;
    if (before.top_k != after.top_k)
        result << (after.top_k ? QStringLiteral("top-k %1").arg(*after.top_k) : QStringLiteral("top-k default"));
    if (before.top_p != after.top_p)
        result << (after.top_p ? QStringLiteral("top-p %1").arg(*after.top_p, 0, 'g', 3) : QStringLiteral("top-p off"));
    if (before.rank_only != after.rank_only || before.rank_only_layers != after.rank_only_layers) {
        // SCMoE-style weak routing (engine/interventions.h P5): only the r-th ranked expert is used.
        QString layers;
        for (int l : after.rank_only_layers) layers += (layers.isEmpty() ? QString() : QStringLiteral(",")) + QString::number(l);
        result << (after.rank_only ? QStringLiteral("rank-%1 only%2").arg(*after.rank_only).arg(layers.isEmpty() ? QString() : QStringLiteral(" (L%1)").arg(layers))
                                   : QStringLiteral("rank-only off"));
    }
    for (const auto& t : out) result << std::get<2>(t);
    return result;
}

QString markerText(int fromToken, const QStringList& changes) {
    return QStringLiteral("from token %1: %2").arg(fromToken).arg(changes.join(QStringLiteral(", ")));
}

QStringList pushRecent(QStringList list, const QString& item, int max) {
    list.removeAll(item);
    list.prepend(item);
    while (list.size() > max) list.removeLast();
    return list;
}

}  // namespace moescope::gui
