"""Text in the notebooks and the README that is generated, so that it has one source.

    python -m course_tools.publish                  # rewrite what is stale
    python -m course_tools.publish --check          # list what is stale (the tests run this)
    python -m course_tools.publish --repo https://github.com/you/your-fork --ref main
                                                    # a fork: once (written to pyproject.toml)

What it writes:

- every notebook's **setup cell** (``setup_cell``, at most 10 lines): on Colab it installs the
  course from the repository and ref of pyproject.toml's ``[tool.rlhf-course]`` with the notebook's
  stack, as a package; then ``helpers.env.start_notebook`` mounts Google Drive (on Colab) and checks
  the stack;
- the **GPU memory and time** line under each notebook's title, from ``helpers.memory`` and
  ``helpers.timing`` for every real profile;
- the README's **course map** (the same figures, and Colab links at that ref);
- notebook 04's **reward functions** cell: the marked part of ``helpers/rewards.py``, so that
  students read and edit in the notebook the very code the tests check.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

import jinja2  # a dependency of torch, so on every stack and on Colab

import helpers.rewards
from helpers.lessons import COURSE, NOTEBOOKS_DIR, REPO, unlisted_notebooks
from helpers.overview import PROFILE_NAMES, course_map, cpu_minutes, needs
from helpers.timing import hours_range_text

PYPROJECT = REPO / "pyproject.toml"
TEMPLATES = Path(__file__).with_name("templates")
README = REPO / "README.md"
COURSE_TIME = REPO / "benchmarks" / "course_time.json"  # written by benchmarks/course_time.py
MAP_START, MAP_END = (
    "<!-- course map: written by python -m course_tools.publish -->",
    "<!-- end of course map -->",
)


def course_source(pyproject: Path = PYPROJECT) -> tuple[str, str]:
    """The repository and ref that Colab links open and setup cells install: pyproject.toml's
    ``[tool.rlhf-course]`` table, its ``{version}`` filled in from ``[project]`` (``v0.5.0``)."""
    config = tomllib.loads(pyproject.read_text())
    table = config["tool"]["rlhf-course"]
    return table["repository"], table["ref"].format(version=config["project"]["version"])


def set_course_source(repo: str, ref: str, pyproject: Path = PYPROJECT) -> None:
    """Write a fork's repository and ref into pyproject.toml's ``[tool.rlhf-course]`` table."""
    text = pyproject.read_text()
    for key, value in (("repository", repo), ("ref", ref)):
        line = f"{key} = {json.dumps(value)}"  # a TOML basic string, as JSON writes it
        text, count = re.subn(rf"(?m)^{key} = \".*\"$", lambda _, line=line: line, text, count=1)
        if count != 1:
            raise ValueError(f"{pyproject} has no {key} line in its [tool.rlhf-course] table.")
    pyproject.write_text(text)
    if course_source(pyproject) != (repo, ref):
        raise ValueError(
            f"{pyproject}: the [tool.rlhf-course] table did not take {repo!r} at {ref!r}."
        )


# Templates without Python's escapes: the setup cell keeps its f-strings' braces as they are.
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    trim_blocks=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=False,
)


REWARD_CELL = """# The five reward functions GRPO calls. Edit them here: section 6 trains with
# what this cell defines.
# Written by `python -m course_tools.publish` from the marked part of helpers/rewards.py, which the
# tests check. Values and format follow Will Brown's GRPO demo for GSM8K (gist
# willccbb/4676755236bb08cab5f4e54a0475d6fb).
import re

from helpers.answers import is_correct
from helpers.rewards import completion_texts, dataset_column, finite_scores

{body}"""
REWARDS_START, REWARDS_END = "# --- the five rewards", "# --- end of the five rewards ---"


def reward_cell() -> str:
    """Notebook 04's reward cell: the part of helpers/rewards.py between its two markers."""
    text = Path(helpers.rewards.__file__).read_text()
    start = text.index("\n", text.index(REWARDS_START)) + 1
    return REWARD_CELL.format(body=text[start : text.index(REWARDS_END)].rstrip())


def setup_cell(
    stack: str, check: bool = True, repo: str | None = None, ref: str | None = None
) -> str:
    """The first code cell of every notebook (00 runs on either stack: on Colab it installs the
    modern one), installing from ``repo`` at ``ref`` (default: pyproject.toml's)."""
    repo, ref = repo or course_source()[0], ref or course_source()[1]
    return _TEMPLATES.get_template("colab_setup.py.jinja").render(
        repo=repo, ref=ref, stack=stack, check=check
    )


def needs_line(section: str) -> str:
    """The line under a training notebook's title."""
    figures = " · ".join(
        f"{PROFILE_NAMES[name]} profile ~{gb:.1f} GB, {time.minutes_text}"
        for name, (gb, time) in needs(section).items()
    )
    cpu = cpu_minutes(section).minutes_text
    return (
        "**GPU memory and time** (estimated by `helpers.memory` and `helpers.timing` for "
        "each real profile on its GPU; times run from a fast host to Colab's, plan for "
        f"the high end): {figures}. Without a GPU, the cpu profile: {cpu} on 2 CPU cores. "
        "The tiny profile runs on a CPU in a few minutes."
    )


def readme_course_map(ref: str | None = None, repo: str | None = None) -> str:
    """The README's course map, its Colab links at ``ref`` of ``repo`` (default:
    pyproject.toml's)."""
    repo, ref = repo or course_source()[0], ref or course_source()[1]
    colab = "https://colab.research.google.com/github/" + repo.split("github.com/")[-1].strip("/")
    lines = [
        MAP_START,
        "| notebook | what you learn | stack | GPU memory and time on a T4 (estimated) | Colab |",
        "| --- | --- | --- | --- | --- |",
    ]
    for entry, row in zip(COURSE, course_map()):
        title = entry["title"]
        path = f"notebooks/{entry['notebook']}"
        stack = "either" if entry["section"] == "setup" else entry["stack"]
        lines.append(
            f"| [{title}]({path}) | {row['learn']} | {stack} | {row['on a T4 (estimated)']} "
            f"| [open]({colab}/blob/{ref}/{path}) |"
        )
    return "\n".join(lines + ["", gpu_hours_paragraph(), "", tiny_time_paragraph(), MAP_END])


def tiny_time_paragraph() -> str:
    """The README's measured time of the tiny course, read from benchmarks/course_time.json."""
    if not COURSE_TIME.exists():
        return (
            "**The tiny course** has not been timed yet: `python -m benchmarks.course_time` "
            "measures it."
        )
    measured = json.loads(COURSE_TIME.read_text())
    each = ", ".join(
        f"{stem[:2]} {row['wall_seconds']:.0f} s" for stem, row in measured["notebooks"].items()
    )
    return (
        "**The tiny course** (`bash scripts/course.sh`, after set-up, on an empty model "
        f"cache) took {measured['total_seconds']:.0f} s on {measured['machine']} "
        f"({measured['date']}, {measured['jobs']} notebooks at a time; each notebook: "
        f"{each}), measured by `python -m benchmarks.course_time`."
    )


# The lessons whose cpu profile keeps the lesson (``cpu_runtime`` in helpers.lessons): the same
# models as on a GPU with less data and fewer steps. 03 and 04 learn on GSM8K by RL, which a CPU
# cannot afford: 12 PPO steps in 03, and SmolLM2's GRPO in 04 teaches the answer format, not the
# arithmetic.


def _and(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


def gpu_hours_paragraph() -> str:
    """The README's paragraph on GPU time: the T4 course's total (the sum of helpers.timing's
    ranges) and the notebooks that run well on Colab's CPU runtime instead (the cpu profile's
    estimates)."""
    times = [
        needs(entry["section"])["t4-16gb"][1] for entry in COURSE if entry["section"] != "setup"
    ]
    hours = hours_range_text(sum(t.low_minutes for t in times), sum(t.high_minutes for t in times))
    number = {entry["section"]: entry["notebook"][:2] for entry in COURSE}
    on_cpu = [
        f"{number[entry['section']]} ({cpu_minutes(entry['section']).minutes_text})"
        for entry in COURSE
        if entry.get("cpu_runtime")
    ]
    on_gpu = [
        number[entry["section"]]
        for entry in COURSE
        if not entry.get("cpu_runtime") and entry["section"] != "setup"
    ]
    return (
        f"**GPU time.** The whole course on the T4 profile takes {hours} GPU-hours by "
        "`helpers.timing` "
        "(the sum of the ranges above: training and evaluation, from a fast host to "
        "Colab's; installs, "
        "loading and the other cells add a few minutes a notebook). Colab rations free "
        "GPU time: give the "
        f"T4 to {_and(on_gpu)}, whose RL on GSM8K needs it, and run {_and(on_cpu)} on "
        "Colab's CPU runtime "
        '(Runtime > Change runtime type > CPU), where `profile="auto"` picks the `cpu` '
        "profile: the "
        "same models with less data and fewer steps, in the times given (measured on 2 "
        "cores; Colab's 2 "
        f"virtual cores may be slower)."
    )


def _expected_notebook(path: Path, entry: dict, repo: str, ref: str):
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    code[0].source = setup_cell(
        entry["stack"], check=entry["section"] != "setup", repo=repo, ref=ref
    )
    if entry["section"] != "setup":
        title = notebook.cells[0]
        lines = [
            line
            for line in title.source.splitlines()
            if not line.startswith("**GPU memory and time**")
        ]
        stack_line = next(i for i, line in enumerate(lines) if line.startswith("**Stack:**"))
        title.source = "\n".join(
            lines[: stack_line + 1] + [needs_line(entry["section"])] + lines[stack_line + 1 :]
        )
    if entry["section"] == "grpo":
        head = "# The five reward functions GRPO calls."
        cells = [cell for cell in code if cell.source.startswith(head)]
        if len(cells) != 1:
            raise ValueError(
                f"{path.name} needs exactly one code cell starting {head!r}; found {len(cells)}."
            )
        cells[0].source = reward_cell()
    return notebook


def publish(check: bool = False, repo: str | None = None, ref: str | None = None) -> list[str]:
    """Rewrite the generated text (or, with ``check``, only list the files whose text is stale)."""
    import nbformat

    repo, ref = repo or course_source()[0], ref or course_source()[1]
    stale = [
        f"notebooks/{name} (no record in helpers/lessons.py)"
        for name in unlisted_notebooks(COURSE, NOTEBOOKS_DIR)
    ]
    for entry in COURSE:
        path = NOTEBOOKS_DIR / entry["notebook"]
        if not path.exists():
            continue
        expected = _expected_notebook(path, entry, repo, ref)
        if nbformat.writes(expected).rstrip("\n") != path.read_text().rstrip("\n"):
            stale.append(f"notebooks/{path.name}")
            if not check:
                nbformat.write(expected, path)
    readme = README.read_text()
    pattern = re.compile(re.escape(MAP_START) + ".*?" + re.escape(MAP_END), re.DOTALL)
    if not pattern.search(readme):
        raise ValueError(f"README.md has no course map between {MAP_START!r} and {MAP_END!r}.")
    updated = pattern.sub(lambda _: readme_course_map(ref, repo), readme)
    if updated != readme:
        stale.append("README.md")
        if not check:
            README.write_text(updated)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write the generated parts of the notebooks and the README."
    )
    parser.add_argument("--check", action="store_true", help="only list stale files; exit 1 if any")
    repo, ref = course_source()
    parser.add_argument("--repo", default=repo, help="the course's repository (a fork's URL)")
    parser.add_argument("--ref", default=ref, help="the branch or tag students open and install")
    args = parser.parse_args(argv)
    if (args.repo, args.ref) != (repo, ref) and not args.check:
        set_course_source(args.repo, args.ref)  # data, not source: later runs read it back
    stale = publish(check=args.check, repo=args.repo, ref=args.ref)
    print(("Stale: " if args.check else "Rewrote: ") + (", ".join(stale) or "nothing"))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
