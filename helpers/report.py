"""The course report: one self-contained HTML page of a course run (``python -m helpers.course`` ends with it).

    write_report("runs/tiny")   # -> runs/tiny/report.html

It reads each notebook's ``metrics.json`` from ``<run>/<notebook>/`` and shows: GSM8K accuracy
stage by stage (base -> SFT -> PPO; Qwen before and after GRPO), the genre reward of PPO and
RLOO, the preference notebook's reward model, DPO against RLOO and the over-optimisation sweep,
wall time and peak memory per notebook, the notebooks' plots (embedded, so the file can
be mailed), and links to the executed notebooks.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from helpers import course

# GSM8K stages: (stage, notebook stem, "before" or "after")
GSM8K_STAGES = [
    ("base model", "02_gsm8k_sft", "before"),
    ("after SFT (02)", "02_gsm8k_sft", "after"),
    ("after PPO (03)", "03_ppo_on_sft_model", "after"),
    ("after PPO with similarity alone (03's contrast)", "03_ppo_on_sft_model", "contrast"),
    ("before GRPO (04: a chat model, not 02's)", "04_grpo_heuristic_rewards", "before"),
    ("after GRPO (04)", "04_grpo_heuristic_rewards", "after"),
]
GENRE_RUNS = [("PPO, legacy TRL (01)", "01_genre_ppo_bert_reward"), ("RLOO, today's TRL (05)", "05_rloo_genre_modern_trl")]
# Set on <body> when every image has loaded: what the browser test reads.
IMAGES_CHECK = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  document.body.dataset.imagesLoaded = images.filter(i => i.complete && i.naturalWidth > 0).length + "/" + images.length;
});
</script>"""
STYLE = """<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
th { background: #f2f2f2; } td.num { text-align: right; } figure { display: inline-block; margin: 0.5em; }
img { max-width: 520px; border: 1px solid #ddd; } .failed { color: #b00; }
</style>"""


def _load(run_dir: Path, stem: str) -> dict | None:
    path = run_dir / stem / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else None


def html_table(headers: list[str], rows: list[list], caption: str = "", table_id: str = "") -> str:
    """An HTML table, cells escaped (links made here are kept), numbers right-aligned."""

    def cell(value) -> str:
        if isinstance(value, float):
            return f'<td class="num">{value:.3g}</td>'
        return f"<td>{value if str(value).startswith('<a ') else html.escape(str(value))}</td>"

    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><caption>{html.escape(caption)}</caption><tr>{head}</tr>{body}</table>'


def _percent(value) -> str:
    return "–" if value is None else f"{value:.1%}"


def _preference_section(m: dict | None) -> str:
    """Notebook 06: the reward model's held-out accuracy, DPO against RLOO, and the over-optimisation sweep."""
    if not m or "reward_model_accuracy" not in m:
        return "<p>No preference notebook ran.</p>"
    accuracy = m["reward_model_accuracy"]
    low, high = accuracy["ci95"]
    lines = [f"<p>Reward model: held-out accuracy {_percent(accuracy['accuracy'])} (95% CI {_percent(low)}-{_percent(high)}, "
             f"n={accuracy['n']}); agreement with the gold ordering {_percent(accuracy['agrees_with_gold'])}.</p>"]
    rows = [[name, _percent(run["gold_win_rate"]["win_rate"]), run["gold"], run["kl"], run["seconds"],
             (run.get("memory") or {}).get("measured_gb", "–")] for name, run in (("DPO", m["dpo"]), ("RLOO", m["rloo"]))]
    lines.append(html_table(["method", "gold win rate vs reference", "gold reward", "KL per text", "seconds", "peak GB"],
                            rows, "Both trained from the same policy on the same preference pairs.", "preferences"))
    sweep = [[beta, run["turn"]["gold_at_peak"], run["turn"]["kl_at_peak"], run["turn"]["gold_fell_after_peak"],
              run["turn"]["proxy_rose_after_peak"]] for beta, run in m["over_optimisation"]["runs"].items()]
    lines.append(html_table(["KL weight beta", "gold at its peak", "KL at the peak", "gold fell after", "proxy rose after"],
                            sweep, "Over-optimisation: RLOO against the learned reward model.", "over-optimisation"))
    return "".join(lines)


def write_report(run_dir: str | Path, profile: str = "", summary: list[dict] | None = None) -> Path:
    """Write ``report.html`` into a course run's folder and return its path."""
    run_dir = Path(run_dir)
    entries = course.COURSE
    metrics = {Path(e["notebook"]).stem: _load(run_dir, Path(e["notebook"]).stem) for e in entries}
    status = {Path(r["notebook"]).stem: r for r in summary or []}

    gsm8k_rows = []
    for stage, stem, when in GSM8K_STAGES:
        m = metrics.get(stem) or {}
        evaluation = m.get("eval")
        result = (m.get("contrast") or {}).get("after") if when == "contrast" else evaluation and evaluation[when]
        if result:
            model = m.get("model") or f"02's checkpoint{' + LoRA' if m.get('lora') else ''}"
            gsm8k_rows.append([stage, model, _percent(result.get("strict")),
                               _percent(result.get("lenient")), evaluation["sample_size"]])
    genre_rows = []
    for name, stem in GENRE_RUNS:
        m = metrics.get(stem)
        if m and m.get("learning"):
            genre_rows.append([name, m["learning"]["metric"], m["learning"]["first_quarter_mean"],
                               m["learning"]["last_quarter_mean"], m.get("seconds_per_step", m.get("seconds_per_batch", "–")),
                               (m.get("memory") or {}).get("measured_gb", "–")])
    preference_parts = _preference_section(metrics.get("06_preferences_reward_model_dpo"))
    notebook_rows, figures = [], []
    for entry in entries:
        stem = Path(entry["notebook"]).stem
        m, row = metrics.get(stem), status.get(stem, {})
        executed = run_dir / stem / entry["notebook"]
        link = f'<a href="{html.escape(str(executed.relative_to(run_dir)))}">{html.escape(entry["notebook"])}</a>' \
            if executed.exists() else entry["notebook"]
        state = row.get("status") or ("ran" if m else "not run")
        memory = (m or {}).get("memory") or {}
        notebook_rows.append([link, entry["stack"], state, (m or {}).get("wall_seconds", "–"),
                              memory.get("measured_gb", "–"), memory.get("estimate_gb", "–")])
        for image in sorted((run_dir / stem).glob("*.png")) if m else []:
            data = base64.b64encode(image.read_bytes()).decode()
            figures.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(image.name)}">'
                           f"<figcaption>{html.escape(stem)}: {html.escape(image.name)}</figcaption></figure>")

    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>RLHF course run{' · ' + profile if profile else ''}</title>",
        STYLE, "</head><body>",
        f"<h1>RLHF with TRL: course run{' (profile ' + html.escape(profile) + ')' if profile else ''}</h1>",
        "<h2>GSM8K accuracy, stage by stage</h2>",
        html_table(["stage", "model", "strict", "lenient", "problems"], gsm8k_rows,
               "Greedy answers on held-out problems; strict counts only the taught answer format.", "gsm8k")
        if gsm8k_rows else "<p>No GSM8K notebook ran.</p>",
        "<h2>Genre task: PPO and RLOO</h2>",
        html_table(["method", "reward", "first quarter", "last quarter", "s per batch", "peak GB"], genre_rows,
               "Mean reward over the first and last quarter of training.", "genre") if genre_rows
        else "<p>No genre notebook ran.</p>",
        "<h2>Preferences: reward model, DPO and RLOO</h2>", preference_parts,
        "<h2>Notebooks</h2>",
        html_table(["notebook", "stack", "status", "wall s", "peak GB (measured)", "peak GB (estimated)"], notebook_rows,
               "Peak memory of one training step; executed notebooks linked.", "notebooks"),
        "<h2>Plots</h2>", "".join(figures) or "<p>No plots.</p>",
        IMAGES_CHECK, "</body></html>",
    ]
    path = run_dir / "report.html"
    path.write_text("\n".join(parts))
    return path
