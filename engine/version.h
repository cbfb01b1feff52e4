#pragma once
// Engine version string recorded with every run (storage's run.engine_version).
namespace moescope {
const char* engine_version();
}
