// Preset JSON (de)serialisation with errors that name the file and the offending entry.
#include "app/gui/expert_preset.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>
#include <map>
#include <set>
#include <tuple>

namespace moescope::gui {
namespace {

Error presetError(const QString& source, const QString& what) {
    return Error((source + QStringLiteral(": ") + what).toStdString());
}

bool isInt(const QJsonValue& v) { return v.isDouble() && v.toDouble() == static_cast<double>(v.toInt()); }

// Reads key as an array of integer/number tuples of length n; the last element may be a float when
// lastIsFloat. Throws Error naming the entry.
std::vector<std::vector<double>> tuples(const QJsonObject& o, const char* key, int n, bool lastIsFloat,
                                        const char* shape, const QString& source) {
    std::vector<std::vector<double>> out;
    const QJsonValue v = o.value(QLatin1String(key));
    if (v.isUndefined() || v.isNull()) return out;
    if (!v.isArray()) throw presetError(source, QStringLiteral("'%1' must be an array").arg(key));
    const QJsonArray a = v.toArray();
    for (int i = 0; i < a.size(); ++i) {
        const QJsonArray t = a.at(i).toArray();
        bool ok = a.at(i).isArray() && t.size() == n;
        for (int j = 0; ok && j < n; ++j) {
            const bool floatOk = lastIsFloat && j == n - 1 && t.at(j).isDouble();
            ok = isInt(t.at(j)) || floatOk;
            if (ok && !floatOk && t.at(j).toInt() < 0) ok = false;
        }
        if (!ok) {
            throw presetError(source,
                              QStringLiteral("'%1'[%2]: expected %3").arg(key).arg(i).arg(QLatin1String(shape)));
        }
        std::vector<double> row;
        for (int j = 0; j < n; ++j) row.push_back(t.at(j).toDouble());
        out.push_back(std::move(row));
    }
    return out;
}

}  // namespace

Result<ExpertPreset> parsePreset(const QByteArray& json, const QString& source) {
    return try_result([&]() -> ExpertPreset {
        QJsonParseError err{};
        const QJsonDocument doc = QJsonDocument::fromJson(json, &err);
        if (err.error != QJsonParseError::NoError)
            throw presetError(source, QStringLiteral("invalid JSON at offset %1: %2").arg(err.offset).arg(err.errorString()));
        if (!doc.isObject()) throw presetError(source, QStringLiteral("expected a JSON object"));
        const QJsonObject o = doc.object();
        ExpertPreset p;
        p.name = o.value("name").toString();
        Interventions& iv = p.interventions;
        for (const auto& t : tuples(o, "disable", 2, false, "[layer, expert] (non-negative integers)", source))
            iv.disable.push_back({static_cast<int>(t[0]), static_cast<int>(t[1])});
        for (const auto& t : tuples(o, "force", 2, false, "[layer, expert] (non-negative integers)", source))
            iv.force.push_back({static_cast<int>(t[0]), static_cast<int>(t[1])});
        for (const auto& t : tuples(o, "bias", 3, true, "[layer, expert, bias]", source))
            iv.bias.push_back({static_cast<int>(t[0]), static_cast<int>(t[1]), static_cast<float>(t[2])});
        for (const auto& t : tuples(o, "top_k_per_layer", 2, false, "[layer, k] (non-negative integers)", source)) {
            if (t[1] < 1) throw presetError(source, QStringLiteral("'top_k_per_layer': k must be >= 1"));
            iv.top_k_per_layer.push_back({static_cast<int>(t[0]), static_cast<int>(t[1])});
        }
        const QJsonValue k = o.value("top_k");
        if (!k.isUndefined() && !k.isNull()) {
            if (!isInt(k) || k.toInt() < 1) throw presetError(source, QStringLiteral("'top_k' must be an integer >= 1 or null"));
            iv.top_k = k.toInt();
        }
        const QJsonValue tp = o.value("top_p");
        if (!tp.isUndefined() && !tp.isNull()) {
            if (!tp.isDouble() || tp.toDouble() <= 0.0 || tp.toDouble() > 1.0)
                throw presetError(source, QStringLiteral("'top_p' must be a number in (0, 1]"));
            iv.top_p = static_cast<float>(tp.toDouble());
        }
        const QJsonValue mk = o.value("top_p_max_k");
        if (!mk.isUndefined() && !mk.isNull()) {
            if (!isInt(mk) || mk.toInt() < 0) throw presetError(source, QStringLiteral("'top_p_max_k' must be an integer >= 0"));
            iv.top_p_max_k = mk.toInt();
        }
        // The engine forbids an expert both disabled and forced in one layer: say so here, by name.
        std::set<std::pair<int, int>> off;
        for (const ExpertRef& r : iv.disable) off.insert({r.layer, r.expert});
        for (const ExpertRef& r : iv.force)
            if (off.count({r.layer, r.expert}))
                throw presetError(source, QStringLiteral("layer %1 expert %2 is both disabled and forced").arg(r.layer).arg(r.expert));
        return p;
    });
}

QByteArray presetToJson(const ExpertPreset& preset) {
    const Interventions& iv = preset.interventions;
    QJsonObject o;
    o["name"] = preset.name;
    auto pairs = [](const std::vector<ExpertRef>& v) {
        QJsonArray a;
        for (const ExpertRef& r : v) a.append(QJsonArray{r.layer, r.expert});
        return a;
    };
    o["disable"] = pairs(iv.disable);
    o["force"] = pairs(iv.force);
    QJsonArray bias;
    for (const ExpertBias& b : iv.bias) bias.append(QJsonArray{b.layer, b.expert, static_cast<double>(b.bias)});
    o["bias"] = bias;
    o["top_k"] = iv.top_k ? QJsonValue(*iv.top_k) : QJsonValue(QJsonValue::Null);
    if (!iv.top_k_per_layer.empty()) {
        QJsonArray t;
        for (const LayerTopK& l : iv.top_k_per_layer) t.append(QJsonArray{l.layer, l.k});
        o["top_k_per_layer"] = t;
    }
    if (iv.top_p) {
        o["top_p"] = static_cast<double>(*iv.top_p);
        o["top_p_max_k"] = iv.top_p_max_k;
    }
    return QJsonDocument(o).toJson(QJsonDocument::Indented);
}

Result<ExpertPreset> loadPresetFile(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return presetError(path, QStringLiteral("cannot open: %1").arg(f.errorString()));
    if (f.size() > 64 * 1024 * 1024) return presetError(path, QStringLiteral("file is larger than 64 MiB"));
    return parsePreset(f.readAll(), path);
}

QString savePresetFile(const QString& path, const ExpertPreset& preset) {
    QSaveFile f(path);  // atomic replace: a failed save never leaves half a preset behind
    if (!f.open(QIODevice::WriteOnly)) return path + QStringLiteral(": cannot write: ") + f.errorString();
    f.write(presetToJson(preset));
    if (!f.commit()) return path + QStringLiteral(": cannot write: ") + f.errorString();
    return {};
}

QStringList describeChange(const Interventions& before, const Interventions& after) {
    // Per (layer, expert) state: 0 normal, 1 off, 2 forced; plus bias.
    using Key = std::pair<int, int>;
    auto states = [](const Interventions& iv) {
        std::map<Key, int> m;
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
        static const char* names[] = {"normal", "off", "forced"};
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
