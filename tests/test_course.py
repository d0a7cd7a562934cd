"""course_tools.runner: the runner names failures, keeps going, and never leaves half a result."""

import json
import time

import nbformat
import pytest

from course_tools import runner
from helpers.results import write_metrics


def make_notebook(path, code):
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                'profile = "tiny"\noutput_dir = "out"', metadata={"tags": ["parameters"]}
            ),
            nbformat.v4.new_code_cell(code),
        ]
    )
    notebook.metadata["kernelspec"] = {
        "name": "rlhf-modern",
        "display_name": "modern",
        "language": "python",
    }
    nbformat.write(notebook, path)


@pytest.fixture
def fake_course(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    make_notebook(notebooks / "a_fails.ipynb", "raise ValueError('the reward model is missing')")
    make_notebook(
        notebooks / "b_works.ipynb",
        (
            "from helpers.results import write_metrics\nwrite_metrics(output_dir, "
            "{'notebook': 'b_works', 'profile': profile, 'wall_seconds': 0.1,\n    "
            "'learning': {'metric': 'reward', 'first_quarter_mean': 0.2, "
            "'last_quarter_mean': 0.7}})"
        ),
    )
    monkeypatch.setattr(runner, "NOTEBOOKS_DIR", notebooks)
    monkeypatch.setattr(
        runner,
        "COURSE",
        [
            dict(notebook="a_fails.ipynb", stack="modern", section="setup"),
            dict(notebook="b_works.ipynb", stack="modern", section="setup"),
            dict(notebook="c_not_written_yet.ipynb", stack="legacy", section="setup"),
        ],
    )
    return tmp_path / "run"


def test_a_failed_notebook_is_named_and_the_rest_still_run(fake_course):
    rows = runner.run_course("tiny", fake_course)
    assert [(r["notebook"], r["status"]) for r in rows] == [
        ("a_fails", "failed"),
        ("b_works", "ran"),
    ]
    assert rows[0]["error"] == "ValueError: the reward model is missing"
    assert rows[1]["metrics"] == "reward: 0.200 -> 0.700"


def test_failed_output_is_not_left_looking_like_a_result(fake_course):
    runner.run_course("tiny", fake_course)
    assert sorted(p.name for p in fake_course.iterdir()) == [
        "a_fails.failed",
        "b_works",
        "report.html",
        "summary.json",
        "summary.md",
    ]
    assert (
        fake_course / "a_fails.failed" / "a_fails.ipynb"
    ).exists()  # the executed notebook, to read the error


def test_summary_has_each_notebook_status_time_and_path(fake_course):
    runner.run_course("tiny", fake_course)
    summary = json.loads((fake_course / "summary.json").read_text())
    assert summary["profile"] == "tiny"
    assert [r["status"] for r in summary["notebooks"]] == ["failed", "ran"]
    assert all(r["wall_seconds"] > 0 for r in summary["notebooks"])
    markdown = (fake_course / "summary.md").read_text()
    assert "**failed**: ValueError: the reward model is missing" in markdown
    assert str(fake_course / "b_works" / "b_works.ipynb") in markdown


def test_a_notebook_gets_the_output_folder_of_the_one_it_builds_on(fake_course, monkeypatch):
    monkeypatch.setattr(
        runner,
        "COURSE",
        [
            *runner.COURSE,
            dict(
                notebook="d_reads_b.ipynb",
                stack="modern",
                section="setup",
                inputs={"source": "b_works"},
            ),
        ],
    )
    make_notebook(
        runner.NOTEBOOKS_DIR / "d_reads_b.ipynb",
        (
            "import json, pathlib\nfrom helpers.results import write_metrics\nearlier = "
            "json.loads((pathlib.Path(source) / "
            "'metrics.json').read_text())\nwrite_metrics(output_dir, {'notebook': "
            "'d_reads_b', 'profile': profile, 'wall_seconds': 0.1, 'read': "
            "earlier['notebook']})"
        ),
    )
    rows = runner.run_course("tiny", fake_course)
    assert {r["notebook"]: r["status"] for r in rows}["d_reads_b"] == "ran"
    assert json.loads((fake_course / "d_reads_b" / "metrics.json").read_text())["read"] == "b_works"


def test_unknown_profile_stops_before_running_anything(fake_course):
    with pytest.raises(ValueError, match="Valid profiles"):
        runner.run_course("giant", fake_course)
    assert not fake_course.exists()


def test_write_metrics_replaces_the_file_whole(tmp_path):
    write_metrics(tmp_path, {"notebook": "x", "wall_seconds": 1})
    write_metrics(tmp_path, {"notebook": "x", "wall_seconds": 2})
    assert json.loads((tmp_path / "metrics.json").read_text())["wall_seconds"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_main_exits_non_zero_when_a_notebook_failed(fake_course):
    assert runner.main(["--profile", "tiny", "--out", str(fake_course)]) == 1


def test_the_run_ends_with_a_report_naming_each_notebook_and_its_status(fake_course):
    runner.run_course("tiny", fake_course)
    report = (fake_course / "report.html").read_text()
    assert "a_fails.ipynb" in report and "failed" in report and "not run" in report
    assert 'href="b_works/b_works.ipynb"' in report


def test_a_notebook_whose_input_failed_is_skipped_and_says_why(fake_course, monkeypatch):
    monkeypatch.setattr(
        runner,
        "COURSE",
        [
            *runner.COURSE,
            dict(
                notebook="d_reads_a.ipynb",
                stack="modern",
                section="setup",
                inputs={"source": "a_fails"},
            ),
        ],
    )
    make_notebook(runner.NOTEBOOKS_DIR / "d_reads_a.ipynb", "raise RuntimeError('should not run')")
    rows = runner.run_course("tiny", fake_course)
    skipped = {r["notebook"]: r for r in rows}["d_reads_a"]
    assert skipped["status"] == "skipped"
    assert skipped["error"] == "needs a_fails, which failed (see its error)"
    assert (
        not (fake_course / "d_reads_a").exists() and not (fake_course / "d_reads_a.failed").exists()
    )
    assert "**skipped**: needs a_fails, which failed" in (fake_course / "summary.md").read_text()


def test_the_seed_reaches_every_notebook(fake_course, monkeypatch):
    make_notebook(
        runner.NOTEBOOKS_DIR / "b_works.ipynb",
        (
            "from helpers.results import write_metrics\nwrite_metrics(output_dir, "
            "{'notebook': 'b_works', 'profile': profile, 'wall_seconds': 0.1, 'seed': "
            "seed})"
        ),
    )
    runner.run_course("tiny", fake_course, seed=3)
    assert json.loads((fake_course / "b_works" / "metrics.json").read_text())["seed"] == 3


def test_a_students_notebooks_find_each_others_outputs_with_their_default_parameters():
    """Run one by one with no parameters (Jupyter, nbmake), 03 reads what 02 saved and 05 what 01
    saved."""
    import ast

    def defaults(notebook: str) -> dict:
        cells = nbformat.read(runner.NOTEBOOKS_DIR / notebook, as_version=4).cells
        source = next(c.source for c in cells if "parameters" in c.metadata.get("tags", []))
        return {
            node.targets[0].id: node.value.value
            for node in ast.parse(source).body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        }

    for entry in runner.COURSE:
        for name, stem_in in entry.get("inputs", {}).items():
            source = next(
                e["notebook"]
                for e in runner.COURSE
                if e["notebook"].removesuffix(".ipynb") == stem_in
            )
            assert defaults(entry["notebook"])[name] == defaults(source)["output_dir"], (
                entry["notebook"],
                name,
            )


def test_two_jobs_run_independent_notebooks_side_by_side_and_wait_for_inputs(
    fake_course, monkeypatch
):
    """The tiny course runs its two chains (01 -> 05 -> 06 beside 02 -> 03 -> 04) at once."""
    stamp = (
        "import json, time, pathlib\nstart = "
        "time.time()\ntime.sleep(2)\npathlib.Path(output_dir, "
        "'metrics.json').write_text(json.dumps({'start': start, 'end': time.time()}))"
    )
    for name in ("a_fails", "b_works", "d_reads_b"):
        make_notebook(runner.NOTEBOOKS_DIR / f"{name}.ipynb", stamp)
    monkeypatch.setattr(
        runner,
        "COURSE",
        [
            *runner.COURSE,
            dict(
                notebook="d_reads_b.ipynb",
                stack="modern",
                section="setup",
                inputs={"source": "b_works"},
            ),
        ],
    )
    rows = runner.run_course("tiny", fake_course, jobs=2)
    assert [r["status"] for r in rows] == ["ran", "ran", "ran"]
    times = {
        name: json.loads((fake_course / name / "metrics.json").read_text())
        for name in ("a_fails", "b_works", "d_reads_b")
    }
    assert (
        times["a_fails"]["start"] < times["b_works"]["end"]
        and times["b_works"]["start"] < times["a_fails"]["end"]
    )
    assert times["d_reads_b"]["start"] >= times["b_works"]["end"]
    with pytest.raises(ValueError, match="jobs=0"):
        runner.run_course("tiny", fake_course, jobs=0)


def test_write_metrics_takes_fields_and_times_the_notebook_from_its_start(tmp_path):
    write_metrics(tmp_path, {"notebook": "x"}, started=time.time() - 3, profile="tiny")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["notebook"] == "x" and metrics["profile"] == "tiny"
    assert 3 <= metrics["wall_seconds"] < 60
