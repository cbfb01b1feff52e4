// moescope-cli generate — placeholder until its issue lands; replaced wholesale by the implementation.
#include "app/cli/commands.h"

namespace moescope::cli {

int cmd_generate(const CommandArgs&) { return not_implemented("generate"); }

}  // namespace moescope::cli
