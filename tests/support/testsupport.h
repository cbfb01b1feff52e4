#pragma once
// Helpers shared by the Qt Test executables.
#include <QString>
#include <QStringList>

namespace moescope::test {

// ../shared/testdata (or -DMOESCOPE_TESTDATA_DIR); tests QFAIL with a clear message when missing.
QString testdataDir();
// A path inside the test data folder, e.g. testdataPath("golden/mixtral").
QString testdataPath(const QString& relative);
// The repository root (for resources/ and the bundled demo model).
QString sourceDir();

struct CliResult {
    int exitCode = -1;
    QString out;
    QString err;
    bool finished = false;  // false when the process could not start or timed out
};
// Runs the built moescope-cli with the given arguments (and optional stdin), waiting for it to finish.
CliResult runCli(const QStringList& args, const QByteArray& stdinData = {}, int timeoutMs = 120000);

}  // namespace moescope::test
