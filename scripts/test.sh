#!/usr/bin/env bash
# Every test: helpers (unit and property tests), both stacks, every notebook with the tiny profile
# (papermill in each stack's kernel, then pytest --nbmake), and lint. Offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
export HF_HUB_OFFLINE=1 RLHF_PROFILE=tiny
start=$(date +%s)
ruff check helpers tests benchmarks
python -m pytest tests "$@"
python -m pytest --nbmake --nbmake-timeout=900 notebooks
echo "[test] all tests passed in $(( $(date +%s) - start )) s"
