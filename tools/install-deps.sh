#!/usr/bin/env bash
# Installs the Debian 12 packages moescope needs to build, test and run — only those missing.
# Idempotent: when everything is present it does nothing (no apt-get update, no root needed).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config ccache  # compiler, build system, compile cache for CI
  qt6-base-dev qt6-charts-dev libgl-dev   # desktop app (Widgets, Charts) and Qt Test
  qt6-svg-dev                              # SVG export of charts and heatmaps (QSvgGenerator)
  libsqlite3-dev                           # activation database (SQLite C API)
  nlohmann-json3-dev                       # config.json / tokenizer.json / CLI JSON
  xvfb xauth                               # running the app and GUI tests without a display
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing missing packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "install-deps: error: packages missing (${missing[*]}) and this user is not root and has no sudo." >&2
  echo "install-deps: ask an administrator to run: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
