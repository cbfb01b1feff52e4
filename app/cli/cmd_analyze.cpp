// moescope-cli analyze — placeholder until its issue lands; replaced wholesale by the implementation.
#include "app/cli/commands.h"

namespace moescope::cli {

int cmd_analyze(const CommandArgs&) { return not_implemented("analyze"); }

}  // namespace moescope::cli
