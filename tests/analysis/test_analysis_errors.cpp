// Every analysis on degenerate input: empty sets, one token, malformed arrays, mismatched models,
// missing capture levels -> a clear error (or a valid result), never a crash.
#include <QtTest>
#include <functional>

#include "analysis/coactivation.h"
#include "analysis/dynamic_k.h"
#include "analysis/ftri.h"
#include "analysis/importance.h"
#include "analysis/lrc.h"
#include "analysis/router_stats.h"
#include "analysis/sinks.h"
#include "analysis/specialization.h"
#include "analysis/super_experts.h"
#include "routing_builder.h"

using namespace moescope;
using namespace moescope::analysis;
using moescope::test::RoutingBuilder;

namespace {

using Outcome = std::pair<bool, std::string>;  // ok, message
template <class T>
Outcome outcome(const Result<T>& r) {
    return {r.ok(), r.message()};
}

// n tokens, 2 MoE layers (HF 0, 1), E = 4, k = 2, one set "s" (+ "t" for the second half); with_captures adds
// logits, activations and layer statistics.
RoutingArrays make(int n, bool with_captures) {
    RoutingBuilder b({0, 1}, 2, 4, 2);
    b.set("s");
    for (int t = 0; t < n; ++t) b.token(0, 0, t, 50 + t, false, t < (n + 1) / 2 ? "s" : "t", {{0, 1}, {2, 3}});
    RoutingArrays a = b.arrays();
    if (with_captures) {
        a.router_logits.assign(static_cast<size_t>(n) * 2 * 4, 0.0f);
        a.expert_out_norm.assign(static_cast<size_t>(n) * 2 * 2, 1.0f);
        a.down_proj_max.assign(static_cast<size_t>(n) * 2 * 2, 1.0f);
        a.down_proj_channel.assign(static_cast<size_t>(n) * 2 * 2, 0);
        a.hidden_max_abs.assign(static_cast<size_t>(n) * 2, 1.0f);
        a.hidden_max_channel.assign(static_cast<size_t>(n) * 2, 0);
        a.hidden_norm.assign(static_cast<size_t>(n) * 2, 2.0f);
        a.sink_mass.assign(static_cast<size_t>(n) * 2, 0.5f);
    }
    return a;
}

const std::map<std::string, std::function<Outcome(const RoutingArrays&, const RoutingArrays&)>>& analyses() {
    static const std::map<std::string, std::function<Outcome(const RoutingArrays&, const RoutingArrays&)>> table = {
        {"ftri", [](auto& a, auto& b) {
             FtriOptions o;
             o.behavior.sets = {"s"};
             o.control.sets = {"s"};
             return outcome(ftri(a, b, o));
         }},
        {"load", [](auto& a, auto&) { return outcome(expert_load(a, {})); }},
        {"domain", [](auto& a, auto&) { return outcome(domain_specialization(a, {})); }},
        {"tokens", [](auto& a, auto&) { return outcome(token_specialization(a, {})); }},
        {"coactivation", [](auto& a, auto&) { return outcome(coactivation(a, {})); }},
        {"transitions", [](auto& a, auto&) { return outcome(transitions(a, {})); }},
        {"router", [](auto& a, auto&) { return outcome(router_stats(a, {})); }},
        {"saturation", [](auto& a, auto& b) { return outcome(router_saturation(a, b, {})); }},
        {"dynamic-k", [](auto& a, auto&) { return outcome(dynamic_k(a, {})); }},
        {"super-experts", [](auto& a, auto&) { return outcome(super_experts(a, {})); }},
        {"massive", [](auto& a, auto&) { return outcome(massive_activations(a, 8, {}, {})); }},
        {"sinks", [](auto& a, auto&) { return outcome(attention_sinks(a, {}, {})); }},
        {"lrc", [](auto& a, auto&) { return outcome(local_routing_consistency(a, {})); }},
        {"importance", [](auto& a, auto&) {
             ImportanceOptions o;
             o.method = ImportanceMethod::Output;
             return outcome(expert_importance(a, o));
         }},
    };
    return table;
}

}  // namespace

class TestAnalysisErrors : public QObject {
    Q_OBJECT
private slots:
    void degenerate_data() {
        QTest::addColumn<QString>("analysis");
        QTest::addColumn<QString>("condition");
        QTest::addColumn<bool>("ok");
        QTest::addColumn<QString>("message");  // substring of the error ("" when ok)
        const QStringList capture_needed{"router", "super-experts", "massive", "sinks", "importance"};
        for (const auto& [name, fn] : analyses()) {
            const QString n = QString::fromStdString(name);
            const QByteArray tag = n.toUtf8();
            // Empty data: no tokens
            QTest::newRow((tag + "/empty").constData()) << n << "empty" << false << "";
            // One token: works except where the method needs two sets (domain, and ftri's single-set
            // control with identical rows still works).
            const bool one_ok = name != "domain";
            QTest::newRow((tag + "/one token").constData()) << n << "one" << one_ok << (one_ok ? "" : "at least two");
            QTest::newRow((tag + "/malformed").constData()) << n << "malformed" << false << "expected";
            if (name == "ftri" || name == "saturation")
                QTest::newRow((tag + "/mismatched models").constData()) << n << "mismatch" << false << "different model layouts";
            const bool needs = capture_needed.contains(n);
            QTest::newRow((tag + "/routing only").constData())
                << n << "routing-only" << !needs << (needs ? "capture level" : "");
        }
    }
    void degenerate() {
        QFETCH(QString, analysis);
        QFETCH(QString, condition);
        QFETCH(bool, ok);
        QFETCH(QString, message);
        RoutingArrays a, b;
        if (condition == "empty") {
            a = b = make(0, true);
        } else if (condition == "one") {
            a = b = make(1, true);
        } else if (condition == "malformed") {
            a = b = make(4, true);
            a.experts.pop_back();
        } else if (condition == "mismatch") {
            a = make(4, true);
            b = make(4, true);
            b.n_experts = 8;
            b.router_logits.assign(4 * 2 * 8, 0.0f);
        } else {
            a = b = make(4, false);
            a.set_names.push_back("u");  // a third, empty set for domain (still >= 2 non-empty: s, t)
        }
        const Outcome got = analyses().at(analysis.toStdString())(a, b);
        QVERIFY2(got.first == ok, qPrintable(QString("ok=%1 message: %2").arg(got.first).arg(QString::fromStdString(got.second))));
        if (!ok) {
            QVERIFY(!got.second.empty());
            QVERIFY2(got.second.find(message.toStdString()) != std::string::npos, got.second.c_str());
        }
    }
};

QTEST_GUILESS_MAIN(TestAnalysisErrors)
#include "test_analysis_errors.moc"
