"""How long a newcomer's first run of the tiny course takes: every notebook on an empty tiny-model
cache, as `bash scripts/course.sh` runs them (two at a time on the tiny profile), each notebook's
wall time and the total written to benchmarks/course_time.json, which the README's course map quotes
(`python -m course_tools.publish` writes it there).

    python -m benchmarks.course_time           # after `bash scripts/setup.sh`; ~5 min on 2 cores
    python -m benchmarks.course_time --jobs 1  # one notebook at a time

A benchmark, not a test: its figures depend on the machine, which the JSON names.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from course_tools.runner import run_course

RESULT = Path(__file__).with_name("course_time.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--jobs", type=int, default=None, help="notebooks at once (default: the runner's, 2)"
    )
    parser.add_argument(
        "--out", default=None, help="where the notebooks run (default: a temporary folder)"
    )
    parser.add_argument("--result", default=str(RESULT))
    args = parser.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="course-time-"))
    os.environ["RLHF_TINY_CACHE"] = tempfile.mkdtemp(
        prefix="rlhf-cold-cache-"
    )  # a newcomer's empty cache
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    start = time.time()
    rows = run_course("tiny", out, jobs=args.jobs)
    result = {
        "total_seconds": round(time.time() - start, 1),
        "jobs": args.jobs or 2,
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, Python "
        f"{platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "notebooks": {
            row["notebook"]: {"status": row["status"], "wall_seconds": row["wall_seconds"]}
            for row in rows
        },
    }
    Path(args.result).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0 if all(row["status"] == "ran" for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
