#!/usr/bin/env bash
# Create the virtual environment and install stylemotion with its pinned dependency set.
# Idempotent: the Makefile only calls this when pyproject.toml or this script changed.
#  - ffmpeg comes from apt when missing (Debian), with sudo when not root.
#  - torch is pinned to 2.13.0; without an NVIDIA GPU the CPU build (2.13.0+cpu) is installed
#    first, so nothing pulls the multi-GB CUDA build. The CPU index is added only when reachable.
set -euo pipefail
PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}
TORCH_VERSION=2.13.0
CPU_INDEX=https://download.pytorch.org/whl/cpu

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
  echo "install: ffmpeg missing, installing it with apt-get"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"

if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  $PIP install "torch==$TORCH_VERSION"
elif ! "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__ != '$TORCH_VERSION+cpu')" 2>/dev/null; then
  extra=()
  if curl -sI --max-time 5 "$CPU_INDEX/" >/dev/null 2>&1; then extra=(--extra-index-url "$CPU_INDEX"); fi
  $PIP install "torch==$TORCH_VERSION+cpu" "${extra[@]}"
fi
$PIP install -e '.[dev]'
