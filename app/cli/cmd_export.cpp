// moescope-cli export — placeholder until its issue lands; replaced wholesale by the implementation.
#include "app/cli/commands.h"

namespace moescope::cli {

int cmd_export(const CommandArgs&) { return not_implemented("export"); }

}  // namespace moescope::cli
