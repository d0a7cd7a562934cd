"""Training curves from a trainer's log history (``trainer.state.log_history``).

    >>> figure = plot_log_history(trainer.state.log_history, ["loss"], x="epoch")
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional


def series(log_history: list[dict], metric: str, x: str = "step") -> tuple[list[float], list[float]]:
    """The (x, value) points of one metric in a log history, skipping entries without it.

    >>> series([{"loss": 2.0, "epoch": 1.0, "step": 5}, {"train_runtime": 3.1}], "loss", x="epoch")
    ([1.0], [2.0])
    """
    points = [(entry[x], entry[metric]) for entry in log_history if metric in entry and x in entry]
    return [p[0] for p in points], [p[1] for p in points]


def plot_log_history(log_history: list[dict], metrics: list[str], x: str = "step", title: Optional[str] = None,
                     path: Optional[str | Path] = None):
    """One small panel per metric against `x` ('step' or 'epoch'); saved to `path` when given."""
    import matplotlib.pyplot as plt

    present = [m for m in metrics if series(log_history, m, x)[0]]
    if not present:
        raise ValueError(f"None of {metrics} is in the log history; it has {sorted({k for e in log_history for k in e})}.")
    figure, axes = plt.subplots(1, len(present), figsize=(4.2 * len(present), 3.2), squeeze=False)
    for axis, metric in zip(axes[0], present):
        xs, ys = series(log_history, metric, x)
        axis.plot(xs, ys, marker="o" if len(xs) < 30 else None)
        axis.set_xlabel(x)
        axis.set_title(metric)
        axis.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=110)
    return figure
