// Synthetic benchmark models: real shapes (parameter counts against the published totals, computed
// independently in ../shared/docs/architectures.md §2.9), a tiny one that really loads, clean-up, errors.
#include <QtTest>

#include <filesystem>

#include "engine/model/config.h"
#include "engine/model/synthetic_model.h"

using namespace moescope;

class TestSyntheticModel : public QObject {
    Q_OBJECT
private slots:
    void shapes_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<double>("total_params");  // published total, all layers
        QTest::addColumn<int>("layers");
        QTest::addColumn<int>("hidden");
        QTest::addColumn<int>("experts");
        QTest::addColumn<int>("top_k");
        QTest::newRow("olmoe") << "olmoe-1b-7b" << 6.92e9 << 16 << 2048 << 64 << 8;
        QTest::newRow("qwen3") << "qwen3-30b-a3b" << 30.5e9 << 48 << 2048 << 128 << 8;
        QTest::newRow("mixtral") << "mixtral-8x7b" << 46.7e9 << 32 << 4096 << 8 << 2;
        QTest::newRow("deepseek-v2-lite") << "deepseek-v2-lite" << 15.7e9 << 27 << 2048 << 64 << 6;
    }
    void shapes() {
        QFETCH(QString, name);
        QFETCH(double, total_params);
        QFETCH(int, layers);
        QFETCH(int, hidden);
        QFETCH(int, experts);
        QFETCH(int, top_k);
        auto text = synthetic_config_json(name.toStdString(), 0);
        QVERIFY2(text.ok(), qPrintable(QString::fromStdString(text.message())));
        auto cfg = parse_model_config(*text, "");
        QVERIFY2(cfg.ok(), qPrintable(QString::fromStdString(cfg.message())));
        QCOMPARE(cfg->n_layers, layers);
        QCOMPARE(cfg->hidden_size, hidden);
        QCOMPARE(cfg->n_experts, experts);
        QCOMPARE(cfg->top_k, top_k);
        auto n = synthetic_param_count(name.toStdString(), 0);
        QVERIFY(n.ok());
        QVERIFY2(std::abs(static_cast<double>(*n) / total_params - 1.0) < 0.01,
                 qPrintable(QString("%1 params, published %2").arg(*n).arg(total_params)));
        // --layers truncates: fewer parameters, same width.
        auto cut = synthetic_param_count(name.toStdString(), 2);
        QVERIFY(cut.ok() && *cut < *n && *cut > 0);
        auto cut_cfg = parse_model_config(*synthetic_config_json(name.toStdString(), 2), "");
        QCOMPARE(cut_cfg->n_layers, 2);
    }

    void tiny_loads_and_cleans_up() {
        std::string dir;
        {
            auto sm = SyntheticModel::create("tiny-olmoe", 0, 7);
            QVERIFY2(sm.ok(), qPrintable(QString::fromStdString(sm.message())));
            const Model& m = (*sm)->model();
            dir = (*sm)->dir();
            QVERIFY(std::filesystem::exists(dir + "/model.safetensors"));
            QCOMPARE(m.config().model_type, std::string("olmoe"));
            QCOMPARE(m.summary().dtype, std::string("BF16"));
            QCOMPARE(m.summary().params_total, *synthetic_param_count("tiny-olmoe", 0));
            // Random weights, not zeros: the first embedding row has non-zero entries.
            const auto* e = static_cast<const uint16_t*>(m.weights().embed.data);
            int nonzero = 0;
            for (int i = 0; i < m.config().hidden_size; ++i) nonzero += (e[i] & 0x7fff) != 0;
            QVERIFY(nonzero > m.config().hidden_size / 2);
        }
        QVERIFY(!std::filesystem::exists(dir));
    }

    void errors() {
        auto bad = synthetic_config_json("gpt-5", 0);
        QVERIFY(!bad.ok());
        QVERIFY(bad.message().find("olmoe-1b-7b") != std::string::npos);  // lists the known names
        auto deep = synthetic_config_json("olmoe-1b-7b", 17);
        QVERIFY(!deep.ok());
        QVERIFY(deep.message().find("1..16") != std::string::npos);
        QVERIFY(!SyntheticModel::create("nope", 0).ok());
    }
};

QTEST_GUILESS_MAIN(TestSyntheticModel)
#include "test_synthetic_model.moc"
