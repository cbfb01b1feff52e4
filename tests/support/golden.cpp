#include "tests/support/golden.h"

#include <QFile>
#include <algorithm>
#include <cmath>
#include <map>

#include "engine/model/model.h"
#include "engine/routing_capture.h"
#include "engine/sampling.h"
#include "engine/session.h"
#include "tests/support/testsupport.h"

namespace moescope::test {

Interventions GoldenCase::interventions() const {
    Interventions iv;
    const auto& j = result["interventions"];
    for (const auto& d : j["disable"]) iv.disable.push_back({d[0].get<int>(), d[1].get<int>()});
    for (const auto& f : j["force"]) iv.force.push_back({f[0].get<int>(), f[1].get<int>()});
    if (!j["top_k"].is_null()) iv.top_k = j["top_k"].get<int>();
    return iv;
}

bool loadGolden(const QString& arch, const QString& setting, GoldenCase& out, QString& error) {
    QFile f(testdataPath("golden/" + arch + "/expected.json"));
    if (!f.open(QIODevice::ReadOnly)) {
        error = "cannot open " + f.fileName();
        return false;
    }
    out.arch = arch;
    out.setting = setting;
    out.expected = nlohmann::json::parse(f.readAll().toStdString());
    out.result = setting == "baseline" ? out.expected["baseline"] : out.expected["interventions"][setting.toStdString()];
    if (out.result.is_null()) {
        error = "no setting " + setting + " in " + f.fileName();
        return false;
    }
    return true;
}

namespace {
QString maxDiff(const nlohmann::json& a, const nlohmann::json& b, double tol, const QString& what) {
    if (a.size() != b.size()) return QString("%1: size %2 vs %3").arg(what).arg(a.size()).arg(b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        if (a[i].is_array()) {
            QString r = maxDiff(a[i], b[i], tol, QString("%1[%2]").arg(what).arg(i));
            if (!r.isEmpty()) return r;
            continue;
        }
        const double d = std::fabs(a[i].get<double>() - b[i].get<double>());
        if (!(d <= tol)) return QString("%1[%2]: %3 vs %4 (diff %5 > %6)").arg(what).arg(i).arg(a[i].get<double>())
                                  .arg(b[i].get<double>()).arg(d).arg(tol);
    }
    return {};
}
}  // namespace

QString compareWithGolden(const nlohmann::json& got, const nlohmann::json& want, bool check_all_logits) {
    QString r = maxDiff(got["logits_last"], want["logits_last"], 1e-4, "logits_last");
    if (!r.isEmpty()) return r;
    if (check_all_logits) {
        r = maxDiff(got["logits_all"], want["logits_all"], 1e-4, "logits_all");
        if (!r.isEmpty()) return r;
    }
    const auto& gr = got["routing"];
    const auto& wr = want["routing"];
    if (gr.size() != wr.size()) return QString("routing: %1 layers vs %2").arg(gr.size()).arg(wr.size());
    for (size_t l = 0; l < wr.size(); ++l) {
        if (gr[l]["layer"] != wr[l]["layer"]) return QString("routing[%1]: layer differs").arg(l);
        const QString L = QString("layer %1").arg(wr[l]["layer"].get<int>());
        r = maxDiff(gr[l]["router_logits"], wr[l]["router_logits"], 1e-5, L + " router_logits");
        if (!r.isEmpty()) return r;
        const auto& ge = gr[l]["experts"];
        const auto& we = wr[l]["experts"];
        if (ge.size() != we.size()) return L + ": token count differs";
        for (size_t t = 0; t < we.size(); ++t) {
            // (expert, weight) pairs compared as unordered sets (README: DeepSeek topk(sorted=False)).
            std::map<int, double> a, b;
            for (size_t j = 0; j < ge[t].size(); ++j) a[ge[t][j].get<int>()] = gr[l]["weights"][t][j].get<double>();
            for (size_t j = 0; j < we[t].size(); ++j) b[we[t][j].get<int>()] = wr[l]["weights"][t][j].get<double>();
            if (a.size() != b.size()) return QString("%1 token %2: %3 experts vs %4").arg(L).arg(t).arg(a.size()).arg(b.size());
            for (const auto& [e, w] : b) {
                if (!a.count(e)) return QString("%1 token %2: expert %3 not selected").arg(L).arg(t).arg(e);
                if (!(std::fabs(a[e] - w) <= 1e-5))
                    return QString("%1 token %2 expert %3: weight %4 vs %5").arg(L).arg(t).arg(e).arg(a[e]).arg(w);
            }
        }
    }
    if (got["greedy"]["new_tokens"] != want["greedy"]["new_tokens"])
        return QString("greedy tokens %1 vs %2").arg(QString::fromStdString(got["greedy"]["new_tokens"].dump()))
            .arg(QString::fromStdString(want["greedy"]["new_tokens"].dump()));
    return {};
}

nlohmann::json runGoldenSession(Session& s, const std::vector<int32_t>& ids, int n_new) {
    RoutingCapture cap(CaptureLevel::Logits);
    s.set_observer(&cap);
    std::vector<float> all;  // [T][V]
    auto last = s.prefill(ids, &all);
    s.set_observer(nullptr);
    const size_t V = s.model().config().vocab_size;
    nlohmann::json out;
    out["logits_last"] = std::vector<float>(last.begin(), last.end());
    nlohmann::json rows = nlohmann::json::array();
    for (size_t t = 0; t < ids.size(); ++t) rows.push_back(std::vector<float>(all.begin() + t * V, all.begin() + (t + 1) * V));
    out["logits_all"] = rows;
    out["routing"] = nlohmann::json::array();
    for (const auto& [l, L] : cap.layers())
        out["routing"].push_back({{"layer", l}, {"router_logits", L.router_logits}, {"experts", L.experts}, {"weights", L.weights}});
    std::vector<int32_t> gen;
    std::span<const float> logits = last;
    for (int i = 0; i < n_new; ++i) {
        gen.push_back(Sampler::argmax(logits));
        if (i + 1 < n_new) logits = s.step(gen.back());
    }
    out["greedy"]["new_tokens"] = gen;
    return out;
}

}  // namespace moescope::test
