#!/usr/bin/env bash
# Starts the desktop app on the bundled demo model (or, until it exists, the golden test model).
set -euo pipefail
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
model=demo
if [ ! -f "$root/resources/models/demo/config.json" ]; then
  model="$root/../shared/testdata/golden/qwen3_moe"
fi
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
  echo "No display found. To see the app, run it under a virtual display:"
  echo "    xvfb-run -a $BUILD/app/moescope $model"
  echo "or use the headless CLI:"
  echo "    $BUILD/app/moescope-cli --help"
  exit 0
fi
exec "$root/$BUILD/app/moescope" "$model"
