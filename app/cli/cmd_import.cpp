// moescope-cli import — placeholder until its issue lands; replaced wholesale by the implementation.
#include "app/cli/commands.h"

namespace moescope::cli {

int cmd_import(const CommandArgs&) { return not_implemented("import"); }

}  // namespace moescope::cli
