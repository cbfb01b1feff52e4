// safetensors reader/writer: round trip, every malformed-header class named in the error, and
// truncation at every byte offset gives an error (never a crash).
#include <QtTest>

#include <cstring>
#include <string>

#include "engine/model/safetensors.h"

using namespace moescope;

namespace {

std::vector<uint8_t> image(const std::string& header, size_t data_bytes) {
    std::vector<uint8_t> out(8);
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
    out.insert(out.end(), header.begin(), header.end());
    out.resize(out.size() + data_bytes, 0);
    return out;
}

std::vector<uint8_t> sample_file() {
    SafetensorsWriter w;
    std::vector<float> a = {1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, 7.0f};
    w.add_f32("a.weight", DType::BF16, {2, 3}, a);
    std::vector<float> b = {0.5f, 0.25f};
    w.add_f32("b.bias", DType::F32, {2}, b);
    w.add_f32("c", DType::F16, {1, 2}, b);
    w.set_metadata("format", "pt");
    return w.serialize();
}

}  // namespace

class TestSafetensors : public QObject {
    Q_OBJECT
private slots:
    void roundTrip() {
        auto bytes = sample_file();
        QCOMPARE((8 + (bytes[0] | (bytes[1] << 8))) % 8, 0);  // data section 8-aligned
        auto f = SafetensorsFile::parse("mem.safetensors", bytes);
        QVERIFY2(f.ok(), f.message().c_str());
        auto& file = *f.value();
        QCOMPARE(file.tensors().size(), size_t(3));
        QCOMPARE(file.metadata().at("format"), std::string("pt"));
        const TensorInfo* a = file.find("a.weight");
        QVERIFY(a);
        QCOMPARE(a->dtype_name, std::string("BF16"));
        QCOMPARE(a->shape, (std::vector<int64_t>{2, 3}));
        QCOMPARE(load_as_f32(DType::BF16, a->data, 2), 3.25f);  // exact in bf16
        QCOMPARE(load_as_f32(DType::BF16, a->data, 1), -2.5f);
        const TensorInfo* b = file.find("b.bias");
        QCOMPARE(load_as_f32(DType::F32, b->data, 1), 0.25f);
        const TensorInfo* c = file.find("c");
        QCOMPARE(load_as_f32(DType::F16, c->data, 0), 0.5f);
        QVERIFY(!file.find("missing"));
    }

    void fileOnDisk() {
        QTemporaryDir dir;
        SafetensorsWriter w;
        std::vector<float> v(12, 1.5f);
        w.add_f32("x", DType::F32, {3, 4}, v);
        const std::string path = dir.filePath("m.safetensors").toStdString();
        w.write(path);
        auto f = SafetensorsFile::open(path);
        QVERIFY2(f.ok(), f.message().c_str());
        QCOMPARE(load_as_f32(DType::F32, f.value()->find("x")->data, 11), 1.5f);
        auto missing = SafetensorsFile::open(dir.filePath("nope.safetensors").toStdString());
        QVERIFY(!missing.ok());
        QVERIFY(missing.message().find("nope.safetensors") != std::string::npos);
    }

    void badHeaders_data() {
        QTest::addColumn<QByteArray>("header");
        QTest::addColumn<int>("dataBytes");
        QTest::addColumn<QString>("expected");
        QTest::newRow("not json") << QByteArray("{\"a\": ") << 0 << "malformed";
        QTest::newRow("not object") << QByteArray("[1,2]") << 0 << "not an object";
        QTest::newRow("unknown dtype") << QByteArray(R"({"t":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})") << 1
                                       << "tensor 't': unknown dtype 'Q4'";
        QTest::newRow("negative shape") << QByteArray(R"({"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})")
                                        << 4 << "tensor 't': shape entries must be non-negative";
        QTest::newRow("float shape") << QByteArray(R"({"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})") << 4
                                     << "tensor 't': shape entries";
        QTest::newRow("shape overflow")
            << QByteArray(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})") << 4
            << "tensor 't': shape [4294967296,4294967296] overflows";
        QTest::newRow("size overflow")
            << QByteArray(R"({"t":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4]}})") << 4
            << "tensor 't': shape [4611686018427387904] × F64 size overflows";
        QTest::newRow("size mismatch") << QByteArray(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})") << 4
                                       << "tensor 't': data offsets [0, 4) hold 4 bytes but shape [2] × F32 needs 8";
        QTest::newRow("out of bounds") << QByteArray(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})") << 4
                                       << "tensor 't': data offsets [0, 8) exceed the data section (4 bytes)";
        QTest::newRow("reversed") << QByteArray(R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})") << 4
                                  << "reversed";
        QTest::newRow("overlap")
            << QByteArray(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})")
            << 8 << "overlap";
        QTest::newRow("hole")
            << QByteArray(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})")
            << 12 << "tensor 'b': data starts at 8 but the previous tensor ends at 4";
        QTest::newRow("trailing") << QByteArray(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})") << 8
                                  << "trailing bytes";
        QTest::newRow("missing offsets") << QByteArray(R"({"a":{"dtype":"F32","shape":[1]}})") << 4 << "tensor 'a': data_offsets";
        QTest::newRow("negative offset") << QByteArray(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})") << 4
                                         << "non-negative";
        QTest::newRow("bad metadata") << QByteArray(R"({"__metadata__":{"k":1}})") << 0 << "__metadata__ value 'k'";
    }
    void badHeaders() {
        QFETCH(QByteArray, header);
        QFETCH(int, dataBytes);
        QFETCH(QString, expected);
        auto bytes = image(header.toStdString(), static_cast<size_t>(dataBytes));
        auto f = SafetensorsFile::parse("bad.safetensors", bytes);
        QVERIFY(!f.ok());
        const QString msg = QString::fromStdString(f.message());
        QVERIFY2(msg.startsWith("bad.safetensors: "), qPrintable(msg));
        QVERIFY2(msg.contains(expected), qPrintable(msg));
    }

    void headerLengthBeyondFile() {
        std::vector<uint8_t> b(16, 0);
        b[0] = 200;
        auto f = SafetensorsFile::parse("h.safetensors", b);
        QVERIFY(!f.ok());
        QVERIFY2(f.message().find("header length 200 at offset 0 exceeds the file (16 bytes)") != std::string::npos,
                 f.message().c_str());
        auto tiny = SafetensorsFile::parse("t.safetensors", std::span<const uint8_t>(b.data(), 5));
        QVERIFY(tiny.message().find("shorter than the 8-byte header length") != std::string::npos);
    }

    void unsupportedButKnownDtypeIsReadable() {
        SafetensorsWriter w;
        w.add_raw("q.weight", "F8_E4M3", {2, 2}, {1, 2, 3, 4});
        auto bytes = w.serialize();
        auto f = SafetensorsFile::parse("fp8.safetensors", bytes);
        QVERIFY2(f.ok(), f.message().c_str());
        QVERIFY(!f.value()->find("q.weight")->dtype.has_value());
        QCOMPARE(f.value()->find("q.weight")->element_size, size_t(1));
    }

    void writerRejectsBadInput() {
        SafetensorsWriter w;
        QVERIFY_THROWS_EXCEPTION(Error, w.add_raw("x", "F32", {2}, {1, 2, 3}));
        QVERIFY_THROWS_EXCEPTION(Error, w.add_raw("x", "NOPE", {1}, {1}));
        std::vector<float> v(2, 0.0f);
        w.add_f32("x", DType::F32, {2}, v);
        QVERIFY_THROWS_EXCEPTION(Error, w.add_f32("x", DType::F32, {2}, v));
        std::vector<float> v3(3, 0.0f);
        QVERIFY_THROWS_EXCEPTION(Error, w.replace_f32("x", v3));
        std::vector<float> v2 = {4.0f, 5.0f};
        w.replace_f32("x", v2);
        auto f = SafetensorsFile::parse("r", w.serialize());
        QCOMPARE(load_as_f32(DType::F32, f.value()->find("x")->data, 1), 5.0f);
    }

    // Every prefix of a valid file is invalid (the data section must be covered exactly) and is
    // reported as an error.
    void truncationAtEveryOffset() {
        auto bytes = sample_file();
        for (size_t n = 0; n < bytes.size(); ++n) {
            auto f = SafetensorsFile::parse("trunc.safetensors", std::span<const uint8_t>(bytes.data(), n));
            if (f.ok()) QFAIL(qPrintable(QString("truncation at %1 of %2 was accepted").arg(n).arg(bytes.size())));
            QVERIFY(f.message().rfind("trunc.safetensors: ", 0) == 0);
        }
        QVERIFY(SafetensorsFile::parse("full", bytes).ok());
    }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
