// fTRI on hand-built routing with planted structure: tokens 50-59 always go to expert 3 of layer 1.
#include <QtTest>
#include <map>
#include <set>

#include "analysis/ftri.h"
#include "analysis/serialize.h"
#include "routing_builder.h"

using namespace moescope;
using namespace moescope::analysis;
using moescope::test::RoutingBuilder;
using moescope::test::TestRng;

namespace {

// 20 behaviour prompts with 2-4 planted ids (50-59) each and 20 control prompts without; 12 tokens per
// prompt. Layer 0 routes randomly; layer 1 routes planted ids to expert 3 (+1 random), every other id to
// two random experts other than 3. When planted_generated, the planted ids sit in generated tokens.
RoutingArrays planted(bool planted_generated, unsigned long long seed = 7) {
    RoutingBuilder b({0, 1}, 2, 8);
    TestRng rng{seed};
    auto pair_excluding = [&](int excluded) {
        int x, y;
        do x = rng.below(8);
        while (x == excluded);
        do y = rng.below(8);
        while (y == excluded || y == x);
        return std::vector<int>{x, y};
    };
    auto plain_id = [&] {
        int id = rng.below(90);
        return id < 50 ? id : id + 10;  // never 50-59
    };
    for (int p = 0; p < 40; ++p) {
        const bool behaviour = p < 20;
        const int n_planted = behaviour ? 2 + p % 3 : 0;
        const int first = planted_generated ? 12 - n_planted : 3;
        for (int pos = 0; pos < 12; ++pos) {
            const bool is_planted = pos >= first && pos < first + n_planted;
            const int id = is_planted ? 50 + (p + pos) % 10 : plain_id();
            std::vector<int> l1 = is_planted ? std::vector<int>{3, pair_excluding(3)[0]} : pair_excluding(3);
            b.token(p, p, pos, id, pos >= 8, behaviour ? "behavior" : "control", {pair_excluding(-1), l1});
        }
    }
    return b.arrays();
}

FtriOptions options(TokenKind kind, FtriPooling pooling) {
    FtriOptions o;
    o.behavior.sets = {"behavior"};
    o.control.sets = {"control"};
    o.behavior.kind = o.control.kind = kind;
    o.pooling = pooling;
    o.top_n = 5;
    return o;
}

}  // namespace

class TestFtri : public QObject {
    Q_OBJECT
private slots:
    void planted_data() {
        QTest::addColumn<bool>("in_generated");
        QTest::addColumn<int>("kind");
        QTest::addColumn<int>("pooling");
        QTest::addColumn<bool>("found");
        const int prompt = int(TokenKind::Prompt), gen = int(TokenKind::Generated), all = int(TokenKind::All);
        const int tok = int(FtriPooling::Tokens), pr = int(FtriPooling::Prompts);
        QTest::newRow("prompt tokens, token pooling") << false << prompt << tok << true;
        QTest::newRow("prompt tokens, prompt pooling") << false << prompt << pr << true;
        QTest::newRow("all tokens") << false << all << tok << true;
        QTest::newRow("planted in generated, generated tokens") << true << gen << tok << true;
        QTest::newRow("planted in generated, prompt tokens") << true << prompt << tok << false;
    }
    void planted() {
        QFETCH(bool, in_generated);
        QFETCH(int, kind);
        QFETCH(int, pooling);
        QFETCH(bool, found);
        const RoutingArrays a = ::planted(in_generated);
        auto r = ftri(a, options(TokenKind(kind), FtriPooling(pooling)));
        QVERIFY2(r.ok(), qPrintable(QString::fromStdString(r.message())));
        QCOMPARE(static_cast<int>(r->ranked.size()), 2 * 8);
        const FtriRow& top = r->ranked.front();
        const bool top_is_planted = top.layer == 1 && top.expert == 3;
        QCOMPARE(top_is_planted, found);
        if (!found) {
            // Expert 3 of layer 1 is never selected on prompt tokens of either set.
            for (const auto& row : r->ranked)
                if (row.layer == 1 && row.expert == 3) QCOMPARE(row.behavior_freq, 0.0);
            return;
        }
        QVERIFY2(top.q < 0.01, qPrintable(QString::number(top.q)));
        QCOMPARE(top.control_freq, 0.0);
        QVERIFY(top.behavior_freq > 0.1);
        QVERIFY(top.difference > 0);
        // Nothing else is significant at the same level (layer-0 routing is pure noise).
        for (size_t i = 1; i < r->ranked.size(); ++i)
            if (r->ranked[i].layer == 0) QVERIFY(r->ranked[i].q > 0.01);
        QCOMPARE(r->preset.front(), (ExpertRef{1, 3}));
        // Random controls: same size, matched per layer, never containing the preset's experts.
        QCOMPARE(static_cast<int>(r->random_controls.size()), 5);
        std::map<int, int> want;
        for (const auto& e : r->preset) ++want[e.layer];
        for (const auto& ctl : r->random_controls) {
            QCOMPARE(ctl.size(), r->preset.size());
            std::map<int, int> got;
            std::set<std::pair<int, int>> uniq;
            for (const auto& e : ctl) {
                ++got[e.layer];
                uniq.insert({e.layer, e.expert});
                QVERIFY(std::find(r->preset.begin(), r->preset.end(), e) == r->preset.end());
            }
            QCOMPARE(got, want);
            QCOMPARE(uniq.size(), ctl.size());
        }
    }

    void random_control_is_deterministic_and_uniform() {
        const std::vector<ExpertRef> chosen{{1, 3}, {1, 5}, {4, 0}};
        QCOMPARE(random_matched_control(chosen, 8, 11), random_matched_control(chosen, 8, 11));
        // Over many seeds every non-chosen expert of layer 1 is drawn with frequency ~ 2/6.
        std::map<int, int> hits;
        const int n = 6000;
        for (int s = 0; s < n; ++s)
            for (const auto& e : random_matched_control(chosen, 8, s))
                if (e.layer == 1) ++hits[e.expert];
        QVERIFY(!hits.count(3) && !hits.count(5));
        for (int e : {0, 1, 2, 4, 6, 7}) QVERIFY2(std::abs(hits[e] / double(n) - 2.0 / 6) < 0.03, qPrintable(QString::number(hits[e])));
    }

    void json_and_csv() {
        const RoutingArrays a = ::planted(false);
        auto r = ftri(a, options(TokenKind::Prompt, FtriPooling::Tokens));
        QVERIFY(r.ok());
        const auto j = to_json(*r, "refusal");
        QCOMPARE(j.at("analysis").get<std::string>(), std::string("ftri"));
        const auto& first = j.at("ranked").at(0);
        QCOMPARE(first.at("layer").get<int>(), 1);
        QCOMPARE(first.at("expert").get<int>(), 3);
        for (const char* key : {"behavior_freq", "control_freq", "difference", "risk_ratio", "q", "p"})
            QVERIFY2(first.contains(key), key);
        QCOMPARE(j.at("preset").at("name").get<std::string>(), std::string("refusal"));
        QCOMPARE(j.at("preset").at("disable").at(0), (nlohmann::json{1, 3}));
        QCOMPARE(j.at("random_control").at("disable").size(), j.at("preset").at("disable").size());
        const std::string csv = to_csv(*r);
        QCOMPARE(static_cast<int>(std::count(csv.begin(), csv.end(), '\n')), 1 + 16);
        QVERIFY(csv.rfind("rank,layer,expert,behavior_freq", 0) == 0);
        QVERIFY(csv.find("\n1,1,3,") != std::string::npos);
    }

    void separate_arrays_and_mismatch() {
        // Behaviour and control read separately give the same answer as one bundle.
        const RoutingArrays a = ::planted(false);
        auto both = ftri(a, a, options(TokenKind::Prompt, FtriPooling::Tokens));
        QVERIFY(both.ok());
        QCOMPARE(both->ranked.front().expert, 3);
        RoutingArrays other = a;
        other.n_experts = 16;  // a different model
        auto bad = ftri(a, other, options(TokenKind::Prompt, FtriPooling::Tokens));
        QVERIFY(!bad.ok());
        QVERIFY2(bad.message().find("different model layouts") != std::string::npos, bad.message().c_str());
    }
};

QTEST_GUILESS_MAIN(TestFtri)
#include "test_ftri.moc"
