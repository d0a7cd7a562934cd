"""course_tools.report: the course run's HTML page, checked as text and in headless Chromium."""

import json
import os
import re
import shutil
import subprocess

import pytest

from course_tools.report import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def browser_dom(path) -> str:
    """The page as headless Chromium renders it (after its load event), as HTML.

    CI installs Debian's chromium and sets RLHF_REQUIRE_BROWSER=1, so a missing browser fails
    there."""
    if CHROMIUM is None:
        if os.environ.get("RLHF_REQUIRE_BROWSER"):
            pytest.fail(
                "RLHF_REQUIRE_BROWSER is set but no chromium is installed (apt-get "
                "install chromium)"
            )
        pytest.skip("no chromium here (apt-get install chromium)")
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
            path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def fake_run(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sft = tmp_path / "02_gsm8k_sft"
    sft.mkdir()
    (sft / "metrics.json").write_text(
        json.dumps(
            {
                "notebook": "02_gsm8k_sft",
                "model": "tiny-gpt2",
                "wall_seconds": 30.5,
                "eval": {
                    "sample_size": 48,
                    "before": {"strict": 0.0, "lenient": 0.0},
                    "after": {"strict": 0.417, "lenient": 0.417},
                },
                "memory": {"measured_gb": 0.0727, "estimate_gb": 0.0808},
            }
        )
    )
    (sft / "02_gsm8k_sft.ipynb").write_text("{}")
    figure, axis = plt.subplots(figsize=(3, 2))
    axis.plot([1, 2, 3], [1.0, 0.3, 0.2])
    figure.savefig(sft / "loss.png")
    rloo = tmp_path / "05_rloo_genre_modern_trl"
    rloo.mkdir()
    (rloo / "metrics.json").write_text(
        json.dumps(
            {
                "learning": {
                    "metric": "P(scifi)",
                    "first_quarter_mean": 0.26,
                    "last_quarter_mean": 0.76,
                },
                "seconds_per_step": 0.065,
                "wall_seconds": 10.2,
                "memory": {"measured_gb": 0.0385},
            }
        )
    )
    return tmp_path


def test_report_tables_show_each_stage_and_each_notebook(tmp_path):
    page = write_report(fake_run(tmp_path), profile="tiny").read_text()
    assert 'id="gsm8k"' in page and "after SFT (02)" in page and "41.7%" in page
    assert 'id="genre"' in page and "RLOO, today&#39;s TRL (05)" in page and "0.76" in page
    assert page.count("not run") == 5  # 00, 01, 03, 04, 06 have no results in this run
    assert "No preference notebook ran." in page
    assert 'href="02_gsm8k_sft/02_gsm8k_sft.ipynb"' in page
    assert page.count("data:image/png;base64,") == 1


def test_report_renders_in_headless_chromium_with_its_tables_and_images(tmp_path):
    dom = browser_dom(write_report(fake_run(tmp_path)))
    assert re.search(r'data-images-loaded="1/1"', dom), dom[-500:]
    assert dom.count("<tr>") >= 3 + 7  # header rows plus stage and notebook rows
