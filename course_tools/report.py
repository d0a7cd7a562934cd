"""The course report: one self-contained HTML page of a course run (``python -m
course_tools.runner`` ends with it).

    write_report("runs/tiny")   # -> runs/tiny/report.html

It reads each notebook's ``metrics.json`` from ``<run>/<notebook>/`` and shows: GSM8K accuracy stage
by stage (base -> SFT -> PPO; Qwen before and after GRPO), the genre reward of PPO and RLOO, the
preference notebook's reward model, DPO against RLOO and the over-optimisation sweep, wall time and
peak memory per notebook, the notebooks' plots (embedded, so the file can be mailed), and links to
the executed notebooks.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jinja2  # a dependency of torch, so on every stack
from markupsafe import Markup

from helpers.lessons import COURSE

PAGE = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
    trim_blocks=True,
    undefined=jinja2.StrictUndefined,
).get_template("report.html.jinja")


def _load(run_dir: Path, stem: str) -> dict | None:
    path = run_dir / stem / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else None


def _percent(value) -> str:
    return "–" if value is None else f"{value:.1%}"


def _preferences(m: dict | None) -> dict | None:
    """Notebook 06: the reward model's held-out accuracy, DPO against RLOO, and the
    over-optimisation sweep."""
    if not m or "reward_model_accuracy" not in m:
        return None
    accuracy = m["reward_model_accuracy"]
    low, high = accuracy["ci95"]
    methods = [
        [
            name,
            _percent(run["gold_win_rate"]["win_rate"]),
            run["gold"],
            run["kl"],
            run["seconds"],
            (run.get("memory") or {}).get("measured_gb", "–"),
        ]
        for name, run in (("DPO", m["dpo"]), ("RLOO", m["rloo"]))
    ]
    sweep = [
        [
            beta,
            run["turn"]["gold_at_peak"],
            run["turn"]["kl_at_peak"],
            run["turn"]["gold_fell_after_peak"],
            run["turn"]["proxy_rose_after_peak"],
        ]
        for beta, run in m["over_optimisation"]["runs"].items()
    ]
    return dict(
        accuracy=_percent(accuracy["accuracy"]),
        low=_percent(low),
        high=_percent(high),
        n=accuracy["n"],
        agrees=_percent(accuracy["agrees_with_gold"]),
        methods=methods,
        sweep=sweep,
    )


def write_report(
    run_dir: str | Path,
    profile: str = "",
    summary: list[dict] | None = None,
    lessons: list[dict] | None = None,
) -> Path:
    """Write ``report.html`` into a course run's folder and return its path; one row per lesson
    (default: the course's, ``helpers.lessons.COURSE``)."""
    run_dir = Path(run_dir)
    entries = COURSE if lessons is None else lessons
    metrics = {Path(e["notebook"]).stem: _load(run_dir, Path(e["notebook"]).stem) for e in entries}
    status = {Path(r["notebook"]).stem: r for r in summary or []}

    shown = {
        Path(e["notebook"]).stem: e.get("report", {}) for e in entries
    }  # what each lesson's record asks for
    gsm8k_rows = []
    for stem, stage, when in (
        (stem, *stage) for stem, report in shown.items() for stage in report.get("gsm8k", ())
    ):
        m = metrics.get(stem) or {}
        evaluation = m.get("eval")
        result = (
            (m.get("contrast") or {}).get("after")
            if when == "contrast"
            else evaluation and evaluation[when]
        )
        if result:
            model = m.get("model") or f"02's checkpoint{' + LoRA' if m.get('lora') else ''}"
            gsm8k_rows.append(
                [
                    stage,
                    model,
                    _percent(result.get("strict")),
                    _percent(result.get("lenient")),
                    evaluation["sample_size"],
                ]
            )
    genre_rows = []
    for stem, name in (
        (stem, report["genre"]) for stem, report in shown.items() if "genre" in report
    ):
        m = metrics.get(stem)
        if m and m.get("learning"):
            genre_rows.append(
                [
                    name,
                    m["learning"]["metric"],
                    m["learning"]["first_quarter_mean"],
                    m["learning"]["last_quarter_mean"],
                    m.get("seconds_per_step", m.get("seconds_per_batch", "–")),
                    (m.get("memory") or {}).get("measured_gb", "–"),
                ]
            )
    notebook_rows, figures = [], []
    for entry in entries:
        stem = Path(entry["notebook"]).stem
        m, row = metrics.get(stem), status.get(stem, {})
        executed = run_dir / stem / entry["notebook"]
        link = (
            Markup('<a href="{}">{}</a>').format(
                str(executed.relative_to(run_dir)), entry["notebook"]
            )
            if executed.exists()
            else entry["notebook"]
        )
        state = row.get("status") or ("ran" if m else "not run")
        memory = (m or {}).get("memory") or {}
        notebook_rows.append(
            [
                link,
                entry["stack"],
                state,
                (m or {}).get("wall_seconds", "–"),
                memory.get("measured_gb", "–"),
                memory.get("estimate_gb", "–"),
            ]
        )
        for image in sorted((run_dir / stem).glob("*.png")) if m else []:
            figures.append(
                dict(
                    data=base64.b64encode(image.read_bytes()).decode(),
                    name=image.name,
                    notebook=stem,
                )
            )

    page = PAGE.render(
        profile=profile,
        gsm8k=gsm8k_rows,
        genre=genre_rows,
        notebooks=notebook_rows,
        figures=figures,
        preferences=next(
            (
                _preferences(metrics.get(stem))
                for stem, report in shown.items()
                if report.get("preferences")
            ),
            None,
        ),
    )
    path = run_dir / "report.html"
    path.write_text(page)
    return path
