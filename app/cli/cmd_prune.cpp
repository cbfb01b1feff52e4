// moescope-cli prune — placeholder until its issue lands; replaced wholesale by the implementation.
#include "app/cli/commands.h"

namespace moescope::cli {

int cmd_prune(const CommandArgs&) { return not_implemented("prune"); }

}  // namespace moescope::cli
