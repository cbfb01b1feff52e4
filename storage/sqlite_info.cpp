#include "storage/sqlite_info.h"

#include <sqlite3.h>

namespace moescope::storage {

std::string sqlite_library_version() { return sqlite3_libversion(); }

}  // namespace moescope::storage
