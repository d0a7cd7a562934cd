"""helpers.plots: curves from a trainer's log history."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from helpers.plots import plot_log_history, series  # noqa: E402

LOG = [
    {"loss": 2.0, "epoch": 1.0, "step": 10},
    {"loss": 1.0, "epoch": 2.0, "step": 20},
    {"eval_loss": 1.5, "epoch": 2.0, "step": 20},
    {"train_runtime": 3.0, "epoch": 2.0, "step": 20},
]


def test_series_skips_entries_without_the_metric():
    assert series(LOG, "loss", x="epoch") == ([1.0, 2.0], [2.0, 1.0])


def test_plot_draws_one_panel_per_present_metric_and_saves(tmp_path):
    figure = plot_log_history(
        LOG, ["loss", "eval_loss", "reward"], x="step", path=tmp_path / "curves.png"
    )
    assert [axis.get_title() for axis in figure.axes] == ["loss", "eval_loss"]
    assert (tmp_path / "curves.png").stat().st_size > 1000


def test_plot_names_what_the_log_has_when_nothing_matches():
    with pytest.raises(ValueError, match="train_runtime"):
        plot_log_history(LOG, ["reward"])
