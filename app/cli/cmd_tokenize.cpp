// moescope-cli tokenize — placeholder until its issue lands; replaced wholesale by the implementation.
#include "app/cli/commands.h"

namespace moescope::cli {

int cmd_tokenize(const CommandArgs&) { return not_implemented("tokenize"); }

}  // namespace moescope::cli
