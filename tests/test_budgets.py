"""The notebooks stay readable in one sitting: markdown words counted by the role of each cell.

A markdown cell's tags say its role (scripts/nbsource.py writes them): ``exercises`` (What next:
the exercises and what you should see), ``troubleshooting`` and ``real-run`` (What a real run
shows). Every other markdown cell is the lesson. Words are counted as ../shared/checks/lessons.py
counts them."""

import ast
import re

import nbformat
import pytest

from helpers.lessons import COURSE, NOTEBOOKS_DIR

WORD = re.compile(r"[A-Za-z0-9][\w'’-]*")
NOT_THE_LESSON = {"exercises", "troubleshooting", "real-run"}
LESSON_WORDS, ALL_WORDS = 10_000, 13_500  # #26's targets over the seven notebooks
NOTEBOOK_WORDS = {"04_grpo_heuristic_rewards.ipynb": 3_000}  # the others: 2,500
# Within their own budget (every notebook since the cuts of #26). One that has to be cut waits
# in CEILINGS with its count of the day as a ceiling, so that the total can only come down.
WITHIN = tuple(lesson["notebook"] for lesson in COURSE)
CEILINGS: dict[str, int] = {}


def words_by_role(notebook: str) -> dict[str, int]:
    counts = dict.fromkeys(["lesson", *sorted(NOT_THE_LESSON)], 0)
    for cell in nbformat.read(NOTEBOOKS_DIR / notebook, as_version=4).cells:
        if cell.cell_type == "markdown":
            roles = NOT_THE_LESSON & set(cell.metadata.get("tags", []))
            role = roles.pop() if roles else "lesson"
            counts[role] += len(WORD.findall(cell.source))
    return counts


COUNTS = {lesson["notebook"]: words_by_role(lesson["notebook"]) for lesson in COURSE}


@pytest.mark.parametrize("notebook", [lesson["notebook"] for lesson in COURSE])
def test_a_notebook_keeps_its_word_budget_or_at_least_does_not_grow(notebook):
    words = sum(COUNTS[notebook].values())
    if notebook in WITHIN:
        assert words <= NOTEBOOK_WORDS.get(notebook, 2_500), COUNTS[notebook]
    else:
        assert words <= CEILINGS[notebook], (COUNTS[notebook], "cut it, do not grow it (#26)")


def test_every_notebook_is_within_budget_or_has_a_ceiling():
    assert sorted([*WITHIN, *CEILINGS]) == sorted(lesson["notebook"] for lesson in COURSE)
    for notebook in CEILINGS:  # a ceiling within budget: move the notebook to WITHIN
        assert CEILINGS[notebook] > NOTEBOOK_WORDS.get(notebook, 2_500), notebook


def test_the_word_budgets_of_the_course_are_the_issues_targets():
    lesson = sum(c["lesson"] for c in COUNTS.values())
    everything = sum(sum(c.values()) for c in COUNTS.values())
    if CEILINGS:  # not every notebook is within its budget yet: the ceilings bound the total
        pytest.skip(f"{len(CEILINGS)} notebooks still to cut: {everything} words, {lesson} lesson")
    assert lesson <= LESSON_WORDS, (lesson, COUNTS)
    assert everything <= ALL_WORDS, (everything, COUNTS)


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


# The machinery a student need not read to learn the idea: the settings display, metrics writing,
# memory meters and estimates, and the playground (#26). A cell tagged ``machinery`` counts whole;
# elsewhere, a statement that names one of these counts (a ``with`` statement by its header only).
MACHINERY = {"show_settings", "write_metrics", "notebook_estimate", "report_memory",
             "peak_memory_callback", "PeakMemory", "Playground"}  # fmt: skip
MACHINERY_SHARE = 0.15  # of a notebook's code lines, its parameters cell not counted


def _lines(source: str, first: int, last: int) -> int:
    return sum(1 for line in source.splitlines()[first - 1 : last] if line.strip())


def _machinery_lines(source: str) -> int:
    tree = ast.parse(source)
    spans = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.With):
            header, last = node.items, node.body[0].lineno - 1
        elif isinstance(node, ast.stmt) and not hasattr(node, "body"):
            header, last = [node], node.end_lineno
        else:  # not a statement, or a compound one: its statements count one by one
            continue
        nodes = [n for part in header for n in ast.walk(part)]
        names = {n.id for n in nodes if isinstance(n, ast.Name)}
        names |= {n.attr for n in nodes if isinstance(n, ast.Attribute)}
        names |= {a.name for n in header if isinstance(n, ast.ImportFrom) for a in n.names}
        if names & MACHINERY:
            spans.update(range(node.lineno, last + 1))
    return sum(_lines(source, line, line) for line in spans)


def code_budget(notebook: str) -> dict[str, int]:
    machinery = lesson = 0
    for cell in nbformat.read(NOTEBOOKS_DIR / notebook, as_version=4).cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type != "code" or "parameters" in tags:
            continue
        lines = _lines(cell.source, 1, len(cell.source.splitlines()))
        used = lines if "machinery" in tags else _machinery_lines(cell.source)
        machinery, lesson = machinery + used, lesson + lines - used
    return {"machinery": machinery, "lesson": lesson}


def test_the_machinery_counter_counts_statements_and_with_headers():
    source = (
        "from helpers.widgets import Playground, x\n\nwith PeakMemory(m) as peak:\n    step()\n"
    )
    source += "y = write_metrics(d,\n    a=1)\nz = 2\nm = fit.report_memory(e)\n"
    source += "try:\n    Playground(a)\nexcept KeyError:\n    pass\n"
    assert _machinery_lines(source) == 6


@pytest.mark.parametrize("notebook", [lesson["notebook"] for lesson in COURSE])
def test_the_machinery_is_at_most_15_percent_of_the_code(notebook):
    for cell in nbformat.read(NOTEBOOKS_DIR / notebook, as_version=4).cells:  # one short cell each
        if cell.cell_type == "code" and (
            "write_metrics(" in cell.source or "Playground(" in cell.source
        ):
            assert "machinery" in cell.metadata.get("tags", []), cell.source[:200]
    counts = code_budget(notebook)
    share = counts["machinery"] / (counts["machinery"] + counts["lesson"])
    assert share <= MACHINERY_SHARE, (notebook, counts, f"{share:.0%}")
