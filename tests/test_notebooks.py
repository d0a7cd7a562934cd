"""Course notebooks executed with papermill and the tiny profile, in the kernel of each stack they need."""

import json

import nbformat
import pytest

from helpers.course import COURSE, NOTEBOOKS_DIR

from .conftest import REPO, run_notebook

pytestmark = pytest.mark.notebook


@pytest.mark.parametrize("kernel", ["rlhf-modern", "rlhf-legacy"])
def test_notebook_00_runs_on_both_stacks(tmp_path, kernel):
    metrics = run_notebook("00_setup_and_trl_versions.ipynb", kernel, tmp_path)
    assert metrics["profile"] == "tiny"
    assert metrics["headline"]["stack"] == kernel.removeprefix("rlhf-")
    assert metrics["headline"]["trl"] == ("0.11.4" if kernel == "rlhf-legacy" else "1.16.0")
    assert metrics["wall_seconds"] > 0


@pytest.mark.parametrize("entry", [e for e in COURSE if (NOTEBOOKS_DIR / e["notebook"]).exists()], ids=lambda e: e["notebook"])
def test_notebook_follows_the_house_rules(entry):
    notebook = nbformat.read(NOTEBOOKS_DIR / entry["notebook"], as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert [c for c in code if "parameters" in c.metadata.get("tags", [])], "no parameters cell"
    assert len([c for c in code if "parameters" in c.metadata.get("tags", [])]) == 1
    assert not any(c.get("outputs") for c in code), "committed with outputs"
    assert notebook.metadata["kernelspec"]["name"] == f"rlhf-{entry['stack']}"
    assert notebook.cells[0].cell_type == "markdown" and "Stack" in notebook.cells[0].source


def test_course_map_lists_every_notebook_in_the_folder():
    listed = {e["notebook"] for e in COURSE}
    assert {p.name for p in (REPO / "notebooks").glob("*.ipynb")} <= listed
    assert json.dumps(COURSE)  # plain data
