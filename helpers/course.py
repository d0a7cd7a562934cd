"""The course map, the results each notebook leaves behind, and the runner that executes the course.

    python -m helpers.course --profile tiny --out runs/tiny

runs every notebook that exists, each in its stack's Jupyter kernel, with papermill, into
``runs/tiny/<notebook>/``, and writes ``summary.md``, ``summary.json`` and ``report.html``. A notebook that fails
is named with its error in the summary, its folder is renamed ``<notebook>.failed``, and the
others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from helpers.env import STACKS

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO / "notebooks"

# notebook file, stack, what a student learns, GPU memory on the real profiles
# (helpers.memory's estimates of each profile's settings; 00's table shows them per GPU class).
COURSE = [
    dict(notebook="00_setup_and_trl_versions.ipynb", stack="modern", section="setup",
         learn="which TRL stack to use and why; a working environment; a first generation",
         gpu_memory="none (CPU is fine)"),
    dict(notebook="01_genre_ppo_bert_reward.ipynb", stack="legacy", section="genre_ppo",
         learn="classic PPO: GPT-2 learns a genre from a BERT classifier's reward",
         gpu_memory="~3-4 GB (GPT-2 + value head, reference, DistilBERT, all fp32)"),
    dict(notebook="02_gsm8k_sft.ipynb", stack="modern", section="sft",
         learn="supervised fine-tuning of GPT-2 on GSM8K with SFTTrainer",
         gpu_memory="~3 GB (batch 4, checkpointing) to ~11 GB (batch 16)"),
    dict(notebook="03_ppo_on_sft_model.ipynb", stack="legacy", section="ppo_sft",
         learn="PPO on the SFT model: reference model, KL, MiniLM similarity reward, 16-bit weights",
         gpu_memory="~3-4 GB (frozen models in 16 bits) to ~10 GB (mini-batch 16)",
         inputs={"sft_checkpoint": "02_gsm8k_sft"}),  # parameter -> the output folder of an earlier notebook
    dict(notebook="04_grpo_heuristic_rewards.ipynb", stack="modern", section="grpo",
         learn="DeepSeek-style GRPO: Qwen2.5-0.5B-Instruct, heuristic rewards, no reward network",
         gpu_memory="~1.5 GB (LoRA, batch 1) to ~21 GB (full fine-tuning, batch 8)"),
    dict(notebook="05_rloo_genre_modern_trl.ipynb", stack="modern", section="genre_rloo",
         learn="PPO's successor: RLOO (and GRPO) on notebook 01's genre task, side by side, with a migration guide",
         gpu_memory="~2-3 GB (GPT-2, reference, DistilBERT; no value head)",
         inputs={"genre_run": "01_genre_ppo_bert_reward"}),
]


def write_metrics(output_dir: str | Path, metrics: dict) -> Path:
    """Write ``metrics.json`` atomically (a reader never sees half a file).

    >>> write_metrics("outputs/02_gsm8k_sft", {"notebook": "02_gsm8k_sft", "profile": "tiny", "wall_seconds": 41.2})
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / "metrics.json"
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(metrics, indent=2, default=str))
    partial.replace(path)
    return path


def learning_block(values: list[float], metric: str) -> dict:
    """Did an RL run learn? The mean of the first and of the last quarter of a logged metric.

    >>> learning_block([0.1, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9], "reward")["last_quarter_mean"]
    0.85
    """
    values = [float(v) for v in values if v is not None]
    if len(values) < 4:
        raise ValueError(f"Only {len(values)} logged values of {metric!r}: log more often to compare quarters.")
    quarter = len(values) // 4
    return {
        "metric": metric,
        "first_quarter_mean": round(sum(values[:quarter]) / quarter, 4),
        "last_quarter_mean": round(sum(values[-quarter:]) / quarter, 4),
        "points": len(values),
    }


def key_metrics(metrics: dict) -> str:
    """One short line of a notebook's headline numbers, for the summary table."""
    parts = []
    learning = metrics.get("learning")
    if learning:
        parts.append(
            f"{learning['metric']}: {learning['first_quarter_mean']:.3f} -> {learning['last_quarter_mean']:.3f}"
        )
    evaluation = metrics.get("eval")
    if evaluation:
        parts.append(
            f"accuracy (lenient) {evaluation['before']['lenient']:.1%} -> {evaluation['after']['lenient']:.1%} "
            f"(n={evaluation['sample_size']})"
        )
    parts += [f"{k}: {v}" for k, v in metrics.get("headline", {}).items()]
    return "; ".join(parts)


def run_notebook(entry: dict, profile: str, out_dir: Path, timeout_s: int | None = None) -> dict:
    """Execute one notebook with papermill in its stack's kernel; return its summary row."""
    import papermill

    stem = Path(entry["notebook"]).stem
    final, failed, work = out_dir / stem, out_dir / f"{stem}.failed", out_dir / f"{stem}.partial"
    for stale in (final, failed, work):
        shutil.rmtree(stale, ignore_errors=True)
    work.mkdir(parents=True)
    row = {"notebook": stem, "stack": entry["stack"], "status": "ran", "error": None}
    start = time.time()
    try:
        papermill.execute_notebook(
            str(NOTEBOOKS_DIR / entry["notebook"]),
            str(work / entry["notebook"]),
            parameters={"profile": profile, "output_dir": str(work.resolve()),
                        **{name: str((out_dir / stem_in).resolve()) for name, stem_in in entry.get("inputs", {}).items()}},
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
        f"Total wall time: {total_seconds:.0f} s. Notebooks: {sum(r['status'] == 'ran' for r in rows)} ran, "
        f"{sum(r['status'] == 'failed' for r in rows)} failed.",
        "",
        "| notebook | stack | status | wall s | key metrics | executed notebook |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        status = r["status"] if r["status"] == "ran" else f"**failed**: {r['error']}".replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {r['notebook']} | {r['stack']} | {status} | {r['wall_seconds']} | {r.get('metrics', '')} "
            f"| {r['executed_notebook']} |"
        )
    return "\n".join(lines) + "\n"


def run_course(profile: str = "tiny", out_dir: str | Path = "runs/tiny", only: list[str] | None = None,
               timeout_s: int | None = None) -> list[dict]:
    """Run every notebook that exists (or those whose names start with one of `only`)."""
    from helpers.profiles import get_profile

    if profile != "auto":
        get_profile(profile)  # an unknown profile fails here, listing the valid ones
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = [e for e in COURSE if (NOTEBOOKS_DIR / e["notebook"]).exists()]
    if only:
        entries = [e for e in entries if any(e["notebook"].startswith(prefix) for prefix in only)]
    rows, start = [], time.time()
    for entry in entries:
        print(f"[course] running {entry['notebook']} ({entry['stack']} stack, profile {profile}) ...", flush=True)
        row = run_notebook(entry, profile, out_dir, timeout_s)
        print(f"[course]   {row['status']} in {row['wall_seconds']} s {row.get('metrics') or row['error'] or ''}", flush=True)
        rows.append(row)
    total = time.time() - start
    (out_dir / "summary.json").write_text(json.dumps({"profile": profile, "total_seconds": round(total, 1), "notebooks": rows}, indent=2))
    (out_dir / "summary.md").write_text(summary_markdown(rows, profile, total))
    from helpers.report import write_report

    write_report(out_dir, profile, rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the course notebooks with papermill and write a summary.")
    parser.add_argument("--profile", default=os.environ.get("RLHF_PROFILE", "tiny"),
                        help="tiny (default: offline, CPU), t4-16gb, rtx2080ti-11gb, a100-40gb or auto")
    parser.add_argument("--out", default=None, help="output folder (default: runs/<profile>)")
    parser.add_argument("--only", nargs="*", help="notebook name prefixes to run, e.g. 00 02")
    parser.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")
    args = parser.parse_args(argv)
    out_dir = Path(args.out or f"runs/{args.profile}")
    rows = run_course(args.profile, out_dir, args.only, args.timeout)
    print((out_dir / "summary.md").read_text())
    print(f"Summary: {out_dir / 'summary.md'}\nReport (open in a browser): {out_dir / 'report.html'}")
    return 0 if all(r["status"] == "ran" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
