// moescope-cli bench on a tiny synthetic shape (seconds): the JSON report has every field, with
// positive values; usage and runtime errors give the documented exit codes and messages. Figures
// themselves are not asserted (they belong to bench/README.md).
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include "tests/support/testsupport.h"

using moescope::test::runCli;

class TestCliBench : public QObject {
    Q_OBJECT
private slots:
    void json_report_data() {
        QTest::addColumn<QStringList>("extra");
        QTest::addColumn<bool>("with_capture");
        QTest::newRow("1 thread") << QStringList{"--threads", "1"} << false;
        QTest::newRow("2 threads + capture") << QStringList{"--threads", "2", "--capture", "routing"} << true;
        QTest::newRow("1 thread fast-bf16") << QStringList{"--threads", "1", "--precision", "fast-bf16"} << false;
        QTest::newRow("1 thread bf16 kv") << QStringList{"--threads", "1", "--kv-dtype", "bf16"} << false;
        QTest::newRow("2 threads q8_0") << QStringList{"--threads", "2", "--weights", "q8_0"} << false;
    }
    void json_report() {
        QFETCH(QStringList, extra);
        QFETCH(bool, with_capture);
        QStringList args{"bench", "--synthetic", "tiny-olmoe", "--prompt-len", "8", "--gen-len", "4",
                         "--repeats", "2", "--bw-mib", "16", "--json"};
        args += extra;
        const auto r = runCli(args);
        QVERIFY2(r.finished && r.exitCode == 0, qPrintable(r.err));
        QJsonParseError perr;
        const QJsonObject j = QJsonDocument::fromJson(r.out.toUtf8(), &perr).object();
        QVERIFY2(perr.error == QJsonParseError::NoError, qPrintable(r.out));
        QCOMPARE(j["architecture"].toString(), QString("olmoe"));
        QCOMPARE(j["prompt_len"].toInt(), 8);
        QCOMPARE(j["gen_len"].toInt(), 4);
        QCOMPARE(j["threads"].toInt(), extra[1].toInt());
        QVERIFY(j.contains("weights_fit_in_cache"));  // tiny-olmoe: true wherever sysfs names the cache size
        // a model that fits in the cache is measured against the read bandwidth of a buffer its size
        QCOMPARE(j.contains("decode_fraction_of_cache_bound"), j["weights_fit_in_cache"].toBool());
        if (j["weights_fit_in_cache"].toBool()) {
            QVERIFY(j["decode_fraction_of_cache_bound"].toDouble() > 0);
            QVERIFY(j["cache_bandwidth_gbps"].toObject()["median"].toDouble() > 0);
        }
        QCOMPARE(j["kv_dtype"].toString(), QString(extra.contains("--kv-dtype") ? "bf16" : "f32"));
        const bool q8 = extra.contains("q8_0");
        QCOMPARE(j["weights"].toString(), QString(q8 ? "q8_0" : "native"));
        QCOMPARE(j["weights_dtype"].toString(), QString(q8 ? "Q8_0" : "BF16"));
        const bool fast_asked = extra.contains("fast-bf16");
        if (!fast_asked) QCOMPARE(j["matmul_precision"].toString(), QString("exact"));
        if (fast_asked && j["simd"].toString() == "avx512bf16") QCOMPARE(j["matmul_precision"].toString(), QString("fast-bf16"));
        for (const char* key : {"active_bytes_per_token", "active_weight_bytes_per_token", "prefill_gflops",
                                "decode_bound_tok_s", "decode_fraction_of_bound"})
            QVERIFY2(j[key].toDouble() > 0, key);
        for (const char* key : {"bandwidth_gbps", "prefill_tok_s", "decode_tok_s", "decode_fraction_of_bound_per_repeat"}) {
            const QJsonObject s = j[key].toObject();
            QVERIFY2(s["min"].toDouble() > 0 && s["min"].toDouble() <= s["median"].toDouble() &&
                         s["median"].toDouble() <= s["max"].toDouble(),
                     key);
        }
        QCOMPARE(j["bandwidth_gbps"].toObject()["threads"].toInt(), extra[1].toInt());
        // the machine peak, measured with the same threads (0 only where the SIMD level lacks the op)
        const QJsonObject peak = j["peak_gflops"].toObject();
        QCOMPARE(peak["threads"].toInt(), extra[1].toInt());
        if (j["simd"].toString().startsWith("avx512")) QVERIFY(peak["fp32_fma"].toDouble() > 0);
        if (j["simd"].toString() == "avx512bf16") QVERIFY(peak["bf16_dot"].toDouble() > 0);
        QCOMPARE(j.contains("capture"), with_capture);
        if (with_capture) {
            const QJsonObject c = j["capture"].toObject();
            QCOMPARE(c["level"].toString(), QString("routing"));
            QVERIFY(c["decode_tok_s"].toObject()["median"].toDouble() > 0);
            QVERIFY(c.contains("decode_overhead_pct"));
            // recorded through the storage Recorder into a real (temporary) database file
            QVERIFY(c["recorder"].toString().contains("Recorder"));
            QVERIFY(c["db_bytes_last_repeat"].toDouble() > 0);
        }
    }

    // Q8_0 weights: the bytes a decode token reads drop to 34/64 of BF16 for every quantised matrix; the
    // router and the embedding row stay BF16 (tiny-olmoe: H=128, I=64, E=8, k=2, 2 layers, V=512).
    void q8_weights_bytes() {
        const auto run = [](const QString& w) {
            const auto r = runCli({"bench", "--synthetic", "tiny-olmoe", "--prompt-len", "4", "--gen-len", "2",
                                   "--repeats", "1", "--bw-mib", "16", "--json", "--weights", w});
            return QJsonDocument::fromJson(r.out.toUtf8()).object()["active_weight_bytes_per_token"].toDouble();
        };
        const double native = run("native"), q8 = run("q8_0");
        const double H = 128, I = 64, E = 8, k = 2, L = 2, V = 512;
        const double quantised = L * (4 * H * H + k * 3 * I * H) + V * H;  // attention, k experts, lm_head
        const double kept = L * E * H + H;                                  // routers + one embedding row
        QCOMPARE(native, 2 * (quantised + kept));
        QCOMPARE(q8, quantised * 34.0 / 32.0 + 2 * kept);
    }

    void text_report() {
        const auto r = runCli({"bench", "--synthetic", "tiny-olmoe", "--prompt-len", "4", "--gen-len", "2",
                               "--repeats", "1", "--bw-mib", "8", "--threads", "1"});
        QVERIFY2(r.finished && r.exitCode == 0, qPrintable(r.err));
        for (const char* word : {"bandwidth", "prefill", "decode", "of bound"}) QVERIFY2(r.out.contains(word), word);
    }

    void errors_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("message");
        QTest::newRow("no model") << QStringList{"bench"} << 2 << "--synthetic";
        QTest::newRow("both") << QStringList{"bench", "demo", "--synthetic", "tiny-olmoe"} << 2 << "either";
        QTest::newRow("layers without synthetic") << QStringList{"bench", "demo", "--layers", "2"} << 2 << "--layers";
        QTest::newRow("bad capture") << QStringList{"bench", "--synthetic", "tiny-olmoe", "--capture", "all"} << 2
                                     << "--capture";
        QTest::newRow("bad device") << QStringList{"bench", "--synthetic", "tiny-olmoe", "--device", "tpu"} << 2
                                    << "--device";
        QTest::newRow("bad precision") << QStringList{"bench", "--synthetic", "tiny-olmoe", "--precision", "fp8"} << 2
                                       << "--precision";
        QTest::newRow("bad kv dtype") << QStringList{"bench", "--synthetic", "tiny-olmoe", "--kv-dtype", "f16"} << 2
                                      << "--kv-dtype";
        QTest::newRow("bad weights") << QStringList{"bench", "--synthetic", "tiny-olmoe", "--weights", "q4"} << 2
                                     << "--weights";
        QTest::newRow("q8 on cuda") << QStringList{"bench", "--synthetic", "tiny-olmoe", "--device", "cuda", "--weights",
                                                   "q8_0"} << 2 << "CPU";
        QTest::newRow("zero gen") << QStringList{"bench", "--synthetic", "tiny-olmoe", "--gen-len", "0"} << 2
                                  << "--gen-len";
        QTest::newRow("unknown synthetic") << QStringList{"bench", "--synthetic", "gpt-9"} << 1 << "olmoe-1b-7b";
        QTest::newRow("too many layers") << QStringList{"bench", "--synthetic", "olmoe-1b-7b", "--layers", "40"} << 1
                                         << "1..16";
    }
    void errors() {
        QFETCH(QStringList, args);
        QFETCH(int, code);
        QFETCH(QString, message);
        const auto r = runCli(args);
        QVERIFY(r.finished);
        QCOMPARE(r.exitCode, code);
        QVERIFY2(r.err.contains(message), qPrintable(r.err));
    }
};

QTEST_GUILESS_MAIN(TestCliBench)
#include "test_cli_bench.moc"
