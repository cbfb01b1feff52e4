// moescope-cli: the headless front end. Links the same libraries as the desktop app.
#include "app/cli/commands.h"

int main(int argc, char** argv) { return moescope::cli::run(argc, argv); }
