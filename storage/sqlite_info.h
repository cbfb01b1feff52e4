#pragma once
#include <string>
namespace moescope::storage {
// Version of the SQLite library linked at run time (shown by --version and recorded in the DB meta).
std::string sqlite_library_version();
}
