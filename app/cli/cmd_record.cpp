// moescope-cli record — placeholder until its issue lands; replaced wholesale by the implementation.
#include "app/cli/commands.h"

namespace moescope::cli {

int cmd_record(const CommandArgs&) { return not_implemented("record"); }

}  // namespace moescope::cli
