// moescope-cli info — placeholder until its issue lands; replaced wholesale by the implementation.
#include "app/cli/commands.h"

namespace moescope::cli {

int cmd_info(const CommandArgs&) { return not_implemented("info"); }

}  // namespace moescope::cli
