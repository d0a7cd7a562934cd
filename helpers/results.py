"""What a notebook leaves behind for the runner, the report and the next notebook: ``metrics.json``,
and the one measure of whether an RL run learned.
"""

from __future__ import annotations

import json
import time
from pathlib import Path


def write_metrics(
    output_dir: str | Path, metrics: dict | None = None, started: float | None = None, **fields
) -> Path:
    """Write ``metrics.json`` atomically (a reader never sees half a file): ``metrics`` and
    ``fields`` together, with ``wall_seconds`` since ``started`` (a ``time.time()``) if given.

    >>> write_metrics("outputs/02_gsm8k_sft", notebook="02_gsm8k_sft", profile="tiny", started=t0)
    """
    metrics = {**(metrics or {}), **fields}
    if started is not None:
        metrics["wall_seconds"] = round(time.time() - started, 1)
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
        raise ValueError(
            f"Only {len(values)} logged values of {metric!r}: log more often to compare quarters."
        )
    quarter = len(values) // 4
    return {
        "metric": metric,
        "first_quarter_mean": round(sum(values[:quarter]) / quarter, 4),
        "last_quarter_mean": round(sum(values[-quarter:]) / quarter, 4),
        "points": len(values),
    }
