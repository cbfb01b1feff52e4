#!/usr/bin/env bash
# Regenerates docs/screenshots/*.png: runs the desktop app offscreen through its main states
# (start page, loading, live generation with the expert grid, finished run with an intervention
# marker, branch side by side, error dialog) and saves one PNG per state.
#   tools/screenshots.sh [model]      model: a Hugging Face folder or "demo" (default: demo, falling
#                                     back to the golden test model when the demo is not bundled)
# Uses QT_QPA_PLATFORM=offscreen (no X server needed); set SCREENSHOT_PLATFORM=xvfb to use xvfb-run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
app=${MOESCOPE_APP:-$root/build/app/moescope}
out=$root/docs/screenshots
model=${1:-demo}
if [ "$model" = demo ] && [ ! -f "$root/resources/models/demo/config.json" ] && [ -z "${MOESCOPE_DEMO_MODEL:-}" ]; then
  model=${MOESCOPE_TESTDATA_DIR:-$root/../shared/testdata}/golden/qwen3_moe
  echo "screenshots: no bundled demo model, using $model"
fi
[ -x "$app" ] || { echo "screenshots: build the app first (cmake --build build --target moescope)" >&2; exit 1; }
mkdir -p "$out"
export QT_SCALE_FACTOR=1
if [ "${SCREENSHOT_PLATFORM:-offscreen}" = xvfb ]; then
  xvfb-run -a -s "-screen 0 1600x1000x24" "$app" --screenshots "$out" "$model"
else
  QT_QPA_PLATFORM=offscreen "$app" --screenshots "$out" "$model"
fi
