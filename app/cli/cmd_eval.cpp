// moescope-cli eval — placeholder until its issue lands; replaced wholesale by the implementation.
#include "app/cli/commands.h"

namespace moescope::cli {

int cmd_eval(const CommandArgs&) { return not_implemented("eval"); }

}  // namespace moescope::cli
