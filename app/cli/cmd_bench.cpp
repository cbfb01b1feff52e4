// moescope-cli bench — placeholder until its issue lands; replaced wholesale by the implementation.
#include "app/cli/commands.h"

namespace moescope::cli {

int cmd_bench(const CommandArgs&) { return not_implemented("bench"); }

}  // namespace moescope::cli
