"""Training curves from a trainer's log history (``trainer.state.log_history``).

>>> figure = plot_log_history(trainer.state.log_history, ["loss"], x="epoch")
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional


def series(
    log_history: list[dict], metric: str, x: str = "step"
) -> tuple[list[float], list[float]]:
    """The (x, value) points of one metric in a log history, skipping entries without it.

    >>> series([{"loss": 2.0, "epoch": 1.0, "step": 5}, {"train_runtime": 3.1}], "loss", x="epoch")
    ([1.0], [2.0])
    """
    points = [
        (entry[x], entry[metric])
        for entry in log_history
        if entry.get(metric) is not None and x in entry
    ]
    return [p[0] for p in points], [p[1] for p in points]


def short_name(metric: str) -> str:
    """'rewards/correctness_reward/mean' -> 'correctness_reward'; other names unchanged."""
    parts = metric.split("/")
    return parts[1] if len(parts) == 3 and parts[0] == "rewards" else metric


def plot_log_history(
    log_history: list[dict],
    metrics: list[str],
    x: str = "step",
    title: Optional[str] = None,
    path: Optional[str | Path] = None,
    overlay: bool = False,
    columns: int = 3,
):
    """One panel per metric against `x` ('step' or 'epoch'), or all on one panel with `overlay`.
    Metrics missing from the log are left out; the figure is saved to `path` when given."""
    import matplotlib.pyplot as plt

    present = [m for m in metrics if series(log_history, m, x)[0]]
    if not present:
        raise ValueError(
            f"None of {metrics} is in the log history; it has "
            f"{sorted({k for e in log_history for k in e})}."
        )
    panels = 1 if overlay else len(present)
    columns = min(columns, panels)
    rows = -(-panels // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for index, metric in enumerate(present):
        axis = axes.flat[0 if overlay else index]
        xs, ys = series(log_history, metric, x)
        axis.plot(xs, ys, marker="o" if len(xs) < 30 else None, label=short_name(metric))
        axis.set_xlabel(x)
        axis.set_title("" if overlay else short_name(metric))
        axis.grid(alpha=0.3)
    if overlay:
        axes.flat[0].legend()
    for axis in list(axes.flat)[panels:]:
        axis.set_visible(False)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=110)
    return figure
