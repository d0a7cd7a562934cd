#!/usr/bin/env bash
# Run the whole course into runs/<profile>/ and write runs/<profile>/summary.md.
#   bash scripts/course.sh                       # tiny profile: offline, CPU, a few minutes
#   bash scripts/course.sh --profile t4-16gb     # real models on a GPU (see README)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
exec python -m course_tools.runner "$@"
