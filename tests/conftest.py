"""Shared fixtures: the repository, each stack's Python, and the environment notebooks run in."""

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VENVS = REPO / ".venvs"

# Kernels live in the modern environment (scripts/setup.sh); make sure papermill finds them first.
os.environ["JUPYTER_PATH"] = os.pathsep.join(
    [str(VENVS / "modern" / "share" / "jupyter"), *filter(None, [os.environ.get("JUPYTER_PATH")])]
)
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Make ``--dist loadgroup`` keep each ``xdist_group`` on one worker. pytest-xdist 3.8 names the
    group in ``item._nodeid``, which pytest 9 no longer reads (a node's id is ``item._id``), so
    every group was split and each worker ran both seeds' notebooks."""
    try:
        from _pytest.nodeid import coerce_node_id
    except ImportError:  # an older pytest, where xdist's own hook works
        return
    if not config.getoption("loadgroup", default=False):
        return
    for item in items:
        groups = sorted({mark.args[0] for mark in item.iter_markers("xdist_group")})
        if groups and "@" not in item.nodeid:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(groups)}")
    items.sort(key=_longest_first)  # stable: each group keeps its own order


# The groups in the order the two workers should start them, longest first (seconds per clean-clone
# CI run, from scripts/test.sh's --durations): a worker takes the next group when it runs dry, so
# with the longest first the two end together. Everything else comes after, in its own order.
# scripts/test.sh turns off xdist's own reordering (by number of tests), which put the 680 s
# real-model tier, one test, last: one worker then ran 460 s longer than the other.
LONGEST_FIRST = [
    "seed-0",  # ~850 s: every notebook, 03's contrast run
    "cpu-profile",  # ~680 s: the real-model tier
    "seed-1",  # ~640 s
    "rehearsal-t4-16gb",
    "rehearsal-rtx2080ti-11gb",
    "rehearsal-a100-40gb",
    "rehearsal-cpu",  # 80-160 s
    "colab",
]


def _longest_first(item) -> int:
    groups = {mark.args[0] for mark in item.iter_markers("xdist_group")}
    return min(
        (LONGEST_FIRST.index(g) for g in groups if g in LONGEST_FIRST), default=len(LONGEST_FIRST)
    )


def stack_python(stack: str) -> Path:
    python = VENVS / stack / "bin" / "python"
    if not python.exists():
        pytest.fail(f"No {stack} stack at {python}: run `bash scripts/setup.sh` first.")
    return python


@pytest.fixture(scope="session")
def legacy_python() -> Path:
    return stack_python("legacy")


@pytest.fixture(scope="session")
def modern_python() -> Path:
    return stack_python("modern")


def run_python(python: Path, *args: str, timeout: int = 300) -> str:
    """Run a script in a stack's Python from the repository root; fail the test with its stderr."""
    result = subprocess.run(
        [str(python), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    if result.returncode != 0:
        pytest.fail(f"{python} {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def run_notebook(notebook: str, kernel: str, output_dir: Path, **parameters) -> dict:
    """Execute a course notebook with papermill and return the metrics.json it wrote."""
    import papermill

    from course_tools.runner import TINY_CELL_TIMEOUT_S

    os.environ["RLHF_HEADLESS"] = "1"  # the kernel inherits it: widgets drawn once
    papermill.execute_notebook(
        str(REPO / "notebooks" / notebook),
        str(output_dir / notebook),
        parameters={"profile": "tiny", "output_dir": str(output_dir), **parameters},
        kernel_name=kernel,
        cwd=str(REPO / "notebooks"),
        progress_bar=False,
        execution_timeout=TINY_CELL_TIMEOUT_S,
    )
    return json.loads((output_dir / "metrics.json").read_text())


# Every RL notebook must learn on more than one seed, from an empty model cache (scripts/test.sh
# gives one). Each seed's notebook runs stay on one pytest-xdist worker, the seeds run side by side.
SEEDS = [0, 1]


@pytest.fixture(
    scope="session",
    params=[pytest.param(s, marks=pytest.mark.xdist_group(f"seed-{s}")) for s in SEEDS],
    ids=lambda s: f"seed{s}",
)
def seed(request) -> int:
    return request.param


@pytest.fixture(scope="session")
def sft_run(tmp_path_factory, seed) -> tuple[Path, dict]:
    """Notebook 02 run once per seed on the tiny profile: its output folder (the checkpoint) and
    metrics."""
    output_dir = tmp_path_factory.mktemp(f"02_gsm8k_sft-seed{seed}")
    return output_dir, run_notebook("02_gsm8k_sft.ipynb", "rlhf-modern", output_dir, seed=seed)


@pytest.fixture(scope="session")
def rehearsal_hf_home() -> Path:
    """The stand-in Hugging Face cache of the rehearsals (course_tools.rehearsal), built once."""
    from course_tools import rehearsal

    return rehearsal.prepare()


# The suite's own profile, for balancing the two workers: seconds each worker spent in tests
# (set-up, call and tear-down, fixtures included), printed at the end next to pytest's --durations.
_WORKER_SECONDS: dict[str, list[float]] = {}


def pytest_runtest_logreport(report):
    node = getattr(report, "node", None)  # set by pytest-xdist on the controller
    worker = getattr(getattr(node, "gateway", None), "id", "main")
    seconds = _WORKER_SECONDS.setdefault(worker, [0.0, 0])
    seconds[0] += report.duration
    seconds[1] += report.when == "call"


def pytest_terminal_summary(terminalreporter):
    if set(_WORKER_SECONDS) <= {"main"}:
        return  # no workers to balance
    for worker, (seconds, tests) in sorted(_WORKER_SECONDS.items()):
        terminalreporter.write_line(f"[suite] worker {worker}: {seconds:.0f} s in {tests} tests")
