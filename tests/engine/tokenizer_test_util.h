#pragma once
// Shared by the tokenizer tests: loads each real tokenizer once per test process.
#include <QString>
#include <QtTest>
#include <map>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"
#include "tests/support/testsupport.h"

namespace moescope::test {

// family: a folder under testdata/tokenizers. with_config: also read tokenizer_config.json.
inline const Tokenizer& real_tokenizer(const QString& family, bool with_config = false) {
    static std::map<std::pair<QString, bool>, Tokenizer> cache;
    auto key = std::make_pair(family, with_config);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    const std::string dir = testdataPath("tokenizers/" + family).toStdString();
    auto r = with_config ? Tokenizer::from_model_dir(dir) : Tokenizer::from_file(dir + "/tokenizer.json");
    if (!r) qFatal("loading %s: %s", dir.c_str(), r.message().c_str());
    return cache.emplace(key, std::move(r.value())).first->second;
}

inline QString ids_str(const std::vector<int32_t>& ids) {
    QStringList parts;
    for (int32_t id : ids) parts << QString::number(id);
    return "[" + parts.join(",") + "]";
}

}  // namespace moescope::test
