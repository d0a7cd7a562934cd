"""The notebooks stay readable in one sitting: markdown words counted by the role of each cell.

A markdown cell's tags say its role (scripts/nbsource.py writes them): ``exercises`` (What next:
the exercises and what you should see), ``troubleshooting`` and ``real-run`` (What a real run
shows). Every other markdown cell is the lesson. Words are counted as ../shared/checks/lessons.py
counts them."""

import re

import nbformat
import pytest

from helpers.lessons import COURSE, NOTEBOOKS_DIR

WORD = re.compile(r"[A-Za-z0-9][\w'’-]*")
NOT_THE_LESSON = {"exercises", "troubleshooting", "real-run"}
LESSON_WORDS, ALL_WORDS = 10_000, 13_500
NOTEBOOK_WORDS = {"04_grpo_heuristic_rewards.ipynb": 3_000}  # the others: 2,500


def words_by_role(notebook: str) -> dict[str, int]:
    counts = dict.fromkeys(["lesson", *sorted(NOT_THE_LESSON)], 0)
    for cell in nbformat.read(NOTEBOOKS_DIR / notebook, as_version=4).cells:
        if cell.cell_type == "markdown":
            roles = NOT_THE_LESSON & set(cell.metadata.get("tags", []))
            role = roles.pop() if roles else "lesson"
            counts[role] += len(WORD.findall(cell.source))
    return counts


COUNTS = {lesson["notebook"]: words_by_role(lesson["notebook"]) for lesson in COURSE}


def test_the_lessons_fit_the_word_budgets():
    lesson = sum(c["lesson"] for c in COUNTS.values())
    everything = sum(sum(c.values()) for c in COUNTS.values())
    table = {name[:2]: c for name, c in COUNTS.items()}
    assert lesson <= LESSON_WORDS, (lesson, table)
    assert everything <= ALL_WORDS, (everything, table)


@pytest.mark.parametrize("notebook", [lesson["notebook"] for lesson in COURSE])
def test_no_notebook_is_over_its_word_budget(notebook):
    assert sum(COUNTS[notebook].values()) <= NOTEBOOK_WORDS.get(notebook, 2_500), COUNTS[notebook]


@pytest.mark.parametrize("notebook", [lesson["notebook"] for lesson in COURSE])
def test_every_notebook_tags_its_cells_by_role(notebook):
    cells = nbformat.read(NOTEBOOKS_DIR / notebook, as_version=4).cells
    tags = [tag for cell in cells for tag in cell.metadata.get("tags", [])]
    code = [cell for cell in cells if cell.cell_type == "code"]
    assert "setup" in code[0].metadata.get("tags", []), "the first code cell is the Colab setup"
    assert len(code[0].source.splitlines()) <= 10, code[0].source  # it runs before helpers exists
    assert tags.count("setup") == tags.count("parameters") == 1, tags
    assert tags.count("exercises") == tags.count("troubleshooting") == 1, tags
    for cell in cells:  # a heading of these sections in an untagged cell would count as the lesson
        if cell.cell_type == "markdown" and not cell.metadata.get("tags"):
            for heading in ("## What next", "## Troubleshooting", "## What a real run shows"):
                assert heading not in cell.source, (notebook, heading)
