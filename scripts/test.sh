#!/usr/bin/env bash
# Every test: helpers (unit and property tests), both stacks, every notebook with the tiny profile for
# two seeds (papermill in each stack's kernel), notebook 04 on the cpu profile's real SmolLM2 (shortened),
# a rehearsal of every real profile, the Colab setup cell, and lint. Offline, except the resolution of
# both stacks for Python 3.11-3.13 (skipped for requirements that tests/resolved_stacks.json records as
# resolved). `RLHF_PROFILE=tiny pytest --nbmake notebooks` passes too; it is not repeated here, because
# the papermill runs execute the same notebooks with their default parameters.
# The tiny models start from an empty cache, as on a newcomer's first run (RLHF_TINY_CACHE to reuse one).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
export HF_HUB_OFFLINE=1 RLHF_PROFILE=tiny RLHF_HEADLESS=1  # headless: widgets drawn once
export RLHF_TINY_CACHE=${RLHF_TINY_CACHE:-$(mktemp -d -t rlhf-cold-cache-XXXX)}
start=$(date +%s)
ruff check helpers course_tools tests benchmarks scripts  # E501 on: 100 columns
ruff format --check helpers course_tools tests benchmarks scripts
python -m course_tools.publish --check
# Two workers: each seed's notebook runs stay on one; groups start longest first (tests/conftest.py).
python -m pytest -n 2 --dist loadgroup --no-loadscope-reorder --durations=30 tests "$@"
echo "[test] all tests passed in $(( $(date +%s) - start )) s"
