#!/usr/bin/env bash
# A separate virtual environment with Blender as a Python module (bpy), used only by the test
# that opens exported BVH files with Blender's own BVH importer. bpy 5.0.1 pins numpy<2, so it
# cannot share the project's environment. About 1 GB on disk.
set -euo pipefail
PYTHON=${PYTHON:-python3.11}
BLENDER_VENV=${BLENDER_VENV:-.venv-blender}
BPY_VERSION=5.0.1
LIBS=(libx11-6 libxrender1 libxfixes3 libxi6 libxkbcommon0 libgl1 libsm6 libice6 libxext6)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for lib in "${LIBS[@]}"; do dpkg -s "$lib" >/dev/null 2>&1 || missing+=("$lib"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install_blender: installing ${missing[*]} with apt-get"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
[ -x "$BLENDER_VENV/bin/python" ] || "$PYTHON" -m venv "$BLENDER_VENV"
"$BLENDER_VENV/bin/python" -m pip install -q "bpy==$BPY_VERSION"
