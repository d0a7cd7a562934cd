"""The runner that executes the course.

    python -m course_tools.runner --profile tiny --out runs/tiny

runs every notebook that exists, each in its stack's Jupyter kernel, with papermill, into
``runs/tiny/<notebook>/``, and writes ``summary.md``, ``summary.json`` and ``report.html``. A
notebook that fails is named with its error in the summary, its folder is renamed
``<notebook>.failed``, and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from course_tools import rehearsal
from course_tools.report import write_report
from helpers.env import STACKS
from helpers.lessons import COURSE, NOTEBOOKS_DIR, REPO, unlisted_notebooks
from helpers.profiles import get_profile


def key_metrics(metrics: dict) -> str:
    """One short line of a notebook's headline numbers, for the summary table."""
    parts = []
    learning = metrics.get("learning")
    if learning:
        parts.append(
            f"{learning['metric']}: {learning['first_quarter_mean']:.3f} -> "
            f"{learning['last_quarter_mean']:.3f}"
        )
    evaluation = metrics.get("eval")
    if evaluation:
        parts.append(
            f"accuracy (lenient) {evaluation['before']['lenient']:.1%} -> "
            f"{evaluation['after']['lenient']:.1%} (n={evaluation['sample_size']})"
        )
    parts += [f"{k}: {v}" for k, v in metrics.get("headline", {}).items()]
    return "; ".join(parts)


# Per-cell limit of tiny and rehearsal runs (their slowest cell takes about a minute): a stuck
# kernel fails with a message instead of holding the course. Real profiles have no limit (a T4's
# GRPO cell is long).
TINY_CELL_TIMEOUT_S = 1200


def run_notebook(
    entry: dict, profile: str, out_dir: Path, timeout_s: int | None = None, seed: int | None = None
) -> dict:
    """Execute one notebook with papermill in its stack's kernel; return its summary row."""
    import papermill

    stem = Path(entry["notebook"]).stem
    final, failed, work = out_dir / stem, out_dir / f"{stem}.failed", out_dir / f"{stem}.partial"
    for stale in (final, failed, work):
        shutil.rmtree(stale, ignore_errors=True)
    work.mkdir(parents=True)
    row = {"notebook": stem, "stack": entry["stack"], "status": "ran", "error": None}
    parameters = {
        "profile": profile,
        "output_dir": str(work.resolve()),
        **{
            name: str((out_dir / stem_in).resolve())
            for name, stem_in in entry.get("inputs", {}).items()
        },
    }
    if seed is not None:
        parameters["seed"] = seed
    start = time.time()
    try:
        papermill.execute_notebook(
            str(NOTEBOOKS_DIR / entry["notebook"]),
            str(work / entry["notebook"]),
            parameters=parameters,
            kernel_name=STACKS[entry["stack"]]["kernel"],
            cwd=str(NOTEBOOKS_DIR),
            progress_bar=sys.stderr.isatty(),
            execution_timeout=timeout_s,
        )
    except Exception as error:  # the summary records it; the next notebook still runs
        row.update(status="failed", error=_describe(error))
    row["wall_seconds"] = round(time.time() - start, 1)
    destination = final if row["status"] == "ran" else failed
    work.rename(destination)
    metrics_file = destination / "metrics.json"
    if row["status"] == "ran" and metrics_file.exists():
        row["metrics"] = key_metrics(json.loads(metrics_file.read_text()))
    row["executed_notebook"] = str(destination / entry["notebook"])
    return row


def _schedule(entries: list[dict], arguments, jobs: int) -> dict:
    """Run `entries` (run_notebook(*arguments(entry))), up to `jobs` at once, each after the entries
    it reads from; one whose input failed is skipped. Returns the rows by notebook stem."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    stems = {Path(e["notebook"]).stem: e for e in entries}

    def dependents(stem: str) -> int:  # notebooks that wait, directly or not, for this one
        direct = [s for s, e in stems.items() if stem in e.get("inputs", {}).values()]
        return len(direct) + sum(dependents(s) for s in direct)

    # those others wait for first, then the longest by the last measurement
    # (benchmarks/course_time.py)
    measured_file = REPO / "benchmarks" / "course_time.json"
    measured = json.loads(measured_file.read_text())["notebooks"] if measured_file.exists() else {}
    seconds = {stem: measured.get(stem, {}).get("wall_seconds", 0) for stem in stems}
    waiting = sorted(stems, key=lambda stem: (-dependents(stem), -seconds[stem]))
    running, done = {}, {}
    pool = ProcessPoolExecutor(max_workers=jobs) if jobs > 1 else None
    try:
        while waiting or running:
            for stem in list(waiting):
                entry, inputs = (
                    stems[stem],
                    [s for s in stems[stem].get("inputs", {}).values() if s in stems],
                )
                if any(s not in done for s in inputs) or len(running) >= jobs:
                    continue
                waiting.remove(stem)
                blocked = [done[s] for s in inputs if done[s]["status"] != "ran"]
                if blocked:
                    done[stem] = {
                        "notebook": stem,
                        "stack": entry["stack"],
                        "status": "skipped",
                        "wall_seconds": 0.0,
                        "error": f"needs {blocked[0]['notebook']}, which {blocked[0]['status']} "
                        "(see its error)",
                        "executed_notebook": "-",
                    }
                    _print_row(done[stem])
                    continue
                print(
                    f"[course] running {entry['notebook']} ({entry['stack']} stack) ...", flush=True
                )
                if pool is None:
                    done[stem] = run_notebook(*arguments(entry))
                    _print_row(done[stem])
                else:
                    running[pool.submit(run_notebook, *arguments(entry))] = stem
            if running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    done[running.pop(future)] = row = future.result()
                    _print_row(row)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return done


def _print_row(row: dict) -> None:
    print(
        f"[course]   {row['notebook']}: {row['status']} in {row['wall_seconds']} s "
        f"{row.get('metrics') or row['error'] or ''}",
        flush=True,
    )


def _describe(error: Exception) -> str:
    """The error a student should read first: papermill's cell error, else the exception."""
    ename, evalue = getattr(error, "ename", None), getattr(error, "evalue", None)
    if ename:
        return f"{ename}: {evalue}".strip()[:500]
    return f"{type(error).__name__}: {error}"[:500]


def summary_markdown(rows: list[dict], profile: str, total_seconds: float) -> str:
    lines = [
        f"# Course run, profile `{profile}`",
        "",
        f"Total wall time: {total_seconds:.0f} s. Notebooks: "
        f"{sum(r['status'] == 'ran' for r in rows)} ran, "
        f"{sum(r['status'] == 'failed' for r in rows)} failed, "
        f"{sum(r['status'] == 'skipped' for r in rows)} skipped.",
        "",
        "| notebook | stack | status | wall s | key metrics | executed notebook |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        status = (
            r["status"]
            if r["status"] == "ran"
            else f"**{r['status']}**: {r['error']}".replace("|", "\\|").replace("\n", " ")
        )
        lines.append(
            f"| {r['notebook']} | {r['stack']} | {status} | {r['wall_seconds']} | "
            f"{r.get('metrics', '')} | {r['executed_notebook']} |"
        )
    return "\n".join(lines) + "\n"


def run_course(
    profile: str = "tiny",
    out_dir: str | Path = "runs/tiny",
    only: list[str] | None = None,
    timeout_s: int | None = None,
    seed: int | None = None,
    rehearse: bool = False,
    jobs: int | None = None,
) -> list[dict]:
    """Run every notebook that exists (or those whose names start with one of `only`).

    A notebook whose input notebook failed (or was skipped) in this run is skipped, and says why.
    With ``rehearse``, a real profile runs offline on a CPU with stand-in models
    (course_tools.rehearsal). ``jobs`` notebooks run at once, each waiting for the notebooks it
    reads from (default: 2 on the tiny profile, whose notebooks use one CPU thread each; 1
    elsewhere, where they share one GPU)."""
    if rehearse and profile in ("tiny", "auto"):
        raise ValueError(
            f"Nothing to rehearse with profile {profile!r}: the tiny profile is itself "
            "the rehearsal. Rehearse a real profile: t4-16gb, rtx2080ti-11gb or "
            "a100-40gb."
        )
    if profile != "auto":
        get_profile(profile)  # an unknown profile fails here, listing the valid ones
    jobs = (2 if profile == "tiny" else 1) if jobs is None else jobs
    if jobs < 1:
        raise ValueError(f"jobs={jobs}: run at least one notebook at a time.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = [e for e in COURSE if (NOTEBOOKS_DIR / e["notebook"]).exists()]
    for name in unlisted_notebooks(COURSE, NOTEBOOKS_DIR):
        print(
            f"[course] {name} has no record in helpers/lessons.py: not run (add its "
            "record to run it)",
            flush=True,
        )
    if only:
        entries = [e for e in entries if any(e["notebook"].startswith(prefix) for prefix in only)]
    saved_environment = dict(os.environ)
    os.environ["RLHF_HEADLESS"] = "1"  # widgets drawn once: nobody is there to click
    if timeout_s is None and (profile == "tiny" or rehearse):
        timeout_s = TINY_CELL_TIMEOUT_S
    if rehearse:
        hf_home = rehearsal.prepare()
        os.environ.update(rehearsal.environment(hf_home))  # the notebooks' kernels inherit it
        print(f"[course] rehearsal of {profile!r}: stand-ins from {hf_home}", flush=True)
    start = time.time()
    try:
        done = _schedule(entries, lambda entry: (entry, profile, out_dir, timeout_s, seed), jobs)
    finally:
        os.environ.clear()
        os.environ.update(saved_environment)
    rows = [done[Path(e["notebook"]).stem] for e in entries]
    total = time.time() - start
    summary = {
        "profile": profile,
        "rehearsal": rehearse,
        "seed": seed,
        "total_seconds": round(total, 1),
        "notebooks": rows,
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    (out_dir / "summary.md").write_text(
        summary_markdown(rows, profile + (" (rehearsal)" if rehearse else ""), total)
    )

    write_report(out_dir, profile, rows, lessons=COURSE)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run the course notebooks with papermill and write a summary."
    )
    parser.add_argument(
        "--profile",
        default=os.environ.get("RLHF_PROFILE", "tiny"),
        help="tiny (default: offline, CPU), t4-16gb, rtx2080ti-11gb, a100-40gb or auto",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="output folder (default: runs/<profile>, runs/<profile>-rehearsal)",
    )
    parser.add_argument("--only", nargs="*", help="notebook name prefixes to run, e.g. 00 02")
    parser.add_argument(
        "--timeout",
        type=int,
        default=None,
        help=f"per-cell timeout in seconds (tiny and rehearsals: {TINY_CELL_TIMEOUT_S})",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="the notebooks' seed parameter (default: theirs, 0)"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="notebooks run at once, each after those it reads from (default: 2 on tiny, else 1)",
    )
    parser.add_argument(
        "--rehearse",
        action="store_true",
        help="run a real profile on this CPU, offline, with stand-in models and counts cut",
    )
    args = parser.parse_args(argv)
    out_dir = Path(args.out or f"runs/{args.profile}{'-rehearsal' if args.rehearse else ''}")
    try:
        rows = run_course(
            args.profile, out_dir, args.only, args.timeout, args.seed, args.rehearse, args.jobs
        )
    except ValueError as error:
        parser.exit(2, f"{error}\n")
    print((out_dir / "summary.md").read_text())
    print(
        f"Summary: {out_dir / 'summary.md'}\nReport (open in a browser): {out_dir / 'report.html'}"
    )
    return 0 if all(r["status"] == "ran" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
