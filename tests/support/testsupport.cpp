#include "tests/support/testsupport.h"

#include <QDir>
#include <QFileInfo>
#include <QProcess>

namespace moescope::test {

QString testdataDir() {
    QString dir = qEnvironmentVariable("MOESCOPE_TESTDATA_DIR", QStringLiteral(MOESCOPE_TESTDATA_DIR));
    return QDir(dir).absolutePath();
}

QString testdataPath(const QString& relative) { return QDir(testdataDir()).filePath(relative); }

QString sourceDir() { return QStringLiteral(MOESCOPE_TEST_SOURCE_DIR); }

CliResult runCli(const QStringList& args, const QByteArray& stdinData, int timeoutMs) {
    CliResult r;
    QProcess p;
    p.start(QStringLiteral(MOESCOPE_CLI_PATH), args);
    if (!p.waitForStarted(10000)) return r;
    if (!stdinData.isEmpty()) p.write(stdinData);
    p.closeWriteChannel();
    r.finished = p.waitForFinished(timeoutMs);
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    r.exitCode = (r.finished && p.exitStatus() == QProcess::NormalExit) ? p.exitCode() : -1;
    return r;
}

}  // namespace moescope::test
