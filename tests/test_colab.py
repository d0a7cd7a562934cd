"""Colab as a first-class target: every notebook's setup cell run the way Colab runs it (a stub
``google.colab``, a fresh environment that has only what Colab preinstalls), one source for the
repository URL and the stated numbers, and both stacks resolvable on the Pythons Colab and users
have."""

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import tomllib

import nbformat
import pytest

from course_tools.publish import course_source, main, publish, set_course_source, setup_cell
from helpers.lessons import COURSE, NOTEBOOKS_DIR

from .conftest import REPO, VENVS

COURSE_REPO, COURSE_REF = course_source()
pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("colab")]

STUB_DRIVE = """import os
def mount(path):
    if os.environ.get("STUB_DRIVE_DECLINED"):
        raise ValueError("mount failed: the user declined")
    print("mounted", path)
"""


def test_the_generated_text_is_in_step_with_its_sources():
    """Setup cells (repository URL, ref), GPU memory and time lines, the README course map:
    `python -m course_tools.publish` writes them; nothing may drift by hand."""
    assert publish(check=True) == []


def test_the_repository_url_appears_only_where_publish_writes_it():
    places = [
        path
        for path in [*NOTEBOOKS_DIR.glob("*.ipynb"), REPO / "README.md"]
        if COURSE_REPO in path.read_text()
    ]
    assert sorted(p.name for p in places) == sorted(
        e["notebook"] for e in COURSE
    )  # README links by owner/name
    readme_links = re.findall(
        r"colab\.research\.google\.com/github/([^)]+)/blob/([^/]+)/",
        (REPO / "README.md").read_text(),
    )
    assert set(readme_links) == {(COURSE_REPO.split("github.com/")[1], COURSE_REF)}


def test_a_fork_changes_its_repository_in_pyproject_and_no_python_source(tmp_path, monkeypatch):
    """`python -m course_tools.publish --repo ... --ref ...` writes pyproject.toml's
    [tool.rlhf-course] table (data), and the setup cells it renders read it back; no .py file of the
    course changes."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text((REPO / "pyproject.toml").read_text())
    sources = {path: path.read_bytes() for path in (REPO / "helpers").rglob("*.py")}
    set_course_source("https://github.com/someone/fork", "v9.9.9", pyproject)
    assert course_source(pyproject) == ("https://github.com/someone/fork", "v9.9.9")
    assert (
        tomllib.loads(pyproject.read_text())["project"]
        == tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    )
    monkeypatch.setattr("course_tools.publish.PYPROJECT", pyproject)
    monkeypatch.setattr(
        "course_tools.publish.course_source", lambda path=pyproject: course_source(path)
    )
    cell = setup_cell("modern")
    assert 'COURSE = "rlhf-trl-course[modern] @ git+https://github.com/someone/fork@v9.9.9"' in cell
    assert "{{" not in cell and "{%" not in cell
    assert (
        main(["--check", "--repo", "https://github.com/other/fork"]) == 1
    )  # stale against that fork; --check writes nothing
    assert course_source(pyproject) == ("https://github.com/someone/fork", "v9.9.9")
    assert {path: path.read_bytes() for path in (REPO / "helpers").rglob("*.py")} == sources
    broken = tmp_path / "broken.toml"
    broken.write_text('[tool.rlhf-course]\nrepository = "a"\n')
    with pytest.raises(ValueError, match="no ref line"):
        set_course_source("https://github.com/x/y", "main", broken)


def test_the_ref_is_the_release_tag_of_the_version_and_a_new_version_restales_every_link(
    tmp_path, monkeypatch
):
    """Links and setup cells install ``v`` + [project] version, so a copy saved to Drive keeps its
    release; bumping the version leaves every notebook and the README stale until republished."""
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert COURSE_REF == f"v{version}"
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        (REPO / "pyproject.toml").read_text().replace(f'version = "{version}"', 'version = "9.9.9"')
    )
    assert course_source(pyproject) == (COURSE_REPO, "v9.9.9")
    monkeypatch.setattr(
        "course_tools.publish.course_source", lambda path=pyproject: course_source(path)
    )
    stale = publish(check=True)
    assert sorted(stale) == sorted(
        [f"notebooks/{lesson['notebook']}" for lesson in COURSE] + ["README.md"]
    )


def test_no_unpinned_vllm_install_is_suggested():
    texts = [
        p.read_text()
        for p in [
            REPO / "README.md",
            *NOTEBOOKS_DIR.glob("*.ipynb"),
            *(REPO / "configs").rglob("*.yaml"),
        ]
    ]
    assert not any(re.search(r"pip install vllm\b", text) for text in texts)
    assert any('"vllm>=0.22,<=0.31"' in text for text in texts)
    # vLLM's V1 engine is reported not to run on a T4 or an RTX 2080 Ti (vllm issues 12568, 15853)
    assert all("T4" in text for text in texts if "use_vllm" in text)


@pytest.fixture(scope="module")
def course_repository(tmp_path_factory):
    """This working tree as a git repository, served by file:// as GitHub serves the course: tagged
    with the release its notebooks name, and then a later commit on main that moves what they import
    (a saved copy must keep installing its own release)."""
    repo = tmp_path_factory.mktemp("course") / "repo"
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        if (REPO / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_bytes((REPO / name).read_bytes())
    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot"], cwd=repo, check=True)
    subprocess.run(["git", "tag", COURSE_REF], cwd=repo, check=True)  # the release students install
    (repo / "helpers" / "__init__.py").write_text('raise ImportError("main moved on")\n')
    subprocess.run([*git, "commit", "-q", "-am", "a later layout"], cwd=repo, check=True)
    return repo


def colab_like_python(stack: str, folder) -> str:
    """A fresh virtual environment holding what Colab preinstalls (torch and friends, here the
    stack's packages), and not the course itself."""
    venv = folder / "colab-venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--upgrade-deps", str(venv)], check=True, capture_output=True
    )  # Colab's pip is recent
    site = next((venv / "lib").glob("python3.*/site-packages"))
    own = {p.name for p in site.iterdir()}
    stack_site = next((VENVS / stack / "lib").glob("python3.*/site-packages"))
    for entry in stack_site.iterdir():
        course_files = (
            entry.name.startswith(("rlhf_trl_course", "__editable__", "_virtualenv"))
            or entry.suffix == ".pth"
        )
        if (
            entry.name not in own
            and not course_files
            and not entry.name.startswith(("pip", "setuptools"))
        ):
            (site / entry.name).symlink_to(entry)
    stub = (
        folder / "stub" / "google" / "colab"
    )  # google/ stays a namespace package, as google.protobuf needs
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("")
    (stub / "drive.py").write_text(STUB_DRIVE)
    return str(venv / "bin" / "python")


def run_setup_cell(
    python: str, folder, notebook: str, repo_url: str, ref: str = COURSE_REF, **env
) -> subprocess.CompletedProcess:
    cell = next(
        c
        for c in nbformat.read(NOTEBOOKS_DIR / notebook, as_version=4).cells
        if c.cell_type == "code"
    ).source
    cell = cell.replace(f"git+{COURSE_REPO}@{COURSE_REF}", f"git+{repo_url}@{ref}")
    script = (
        "import google.colab\n"
        + cell
        + "\nprint('RLHF_STORAGE=' + os.environ.get('RLHF_STORAGE', ''))\n"
    )
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "RLHF_STORAGE")
    }
    return subprocess.run(
        [python, "-c", script],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env={
            **clean,
            "PYTHONPATH": str(folder / "stub"),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            **env,
        },
    )


@pytest.mark.parametrize(
    "notebook", ["01_genre_ppo_bert_reward.ipynb", "04_grpo_heuristic_rewards.ipynb"]
)
def test_the_setup_cell_installs_the_course_on_colab_and_reruns_cleanly_after_a_failure(
    notebook, course_repository, tmp_path
):
    stack = next(e["stack"] for e in COURSE if e["notebook"] == notebook)
    python = colab_like_python(stack, tmp_path)
    url = f"file://{course_repository}"

    failed = run_setup_cell(python, tmp_path, notebook, url, ref="no-such-branch")
    assert (
        failed.returncode != 0
    )  # pip says why, visibly; nothing half-installed stops the next try
    first = run_setup_cell(python, tmp_path, notebook, url)
    assert first.returncode == 0, first.stderr[-3000:]
    assert f"{url} (to revision {COURSE_REF})" in first.stdout  # pip's own line: what it installs
    assert "mounted /content/drive" in first.stdout
    assert "RLHF_STORAGE=/content/drive/MyDrive/rlhf-trl-course" in first.stdout
    again = run_setup_cell(python, tmp_path, notebook, url, STUB_DRIVE_DECLINED="1")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Google Drive is not mounted" in again.stdout and "RLHF_STORAGE=\n" in again.stdout

    where = subprocess.run(
        [python, "-c", "import helpers; print(helpers.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert (
        "colab-venv" in where.stdout and str(REPO) not in where.stdout
    )  # the installed package, not this checkout
    # The wheel holds what the notebook imports, and none of the machinery (course_tools runs from a
    # checkout).
    code = "\n".join(
        c.source
        for c in nbformat.read(NOTEBOOKS_DIR / notebook, as_version=4).cells
        if c.cell_type == "code"
    )
    modules = sorted(
        set(re.findall(r"^\s*(?:from|import) (helpers(?:\.\w+)*)", code, re.MULTILINE))
    )
    probe = (
        "import importlib, importlib.util\n"
        f"for name in {modules!r}:\n    importlib.import_module(name)\n"
        "print('machinery:', importlib.util.find_spec('course_tools'))\n"
    )
    imported = subprocess.run(
        [python, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert imported.returncode == 0 and len(modules) >= 5, imported.stderr[-3000:]
    assert "machinery: None" in imported.stdout


def test_every_notebook_has_the_same_setup_cell_but_for_its_stack():
    for entry in COURSE:
        cell = next(
            c
            for c in nbformat.read(NOTEBOOKS_DIR / entry["notebook"], as_version=4).cells
            if c.cell_type == "code"
        )
        assert cell.source == setup_cell(entry["stack"], check=entry["section"] != "setup"), entry[
            "notebook"
        ]


def stack_requirements(stack: str) -> list[str]:
    """What installing a stack asks pip for: its extra (what Colab installs) and its requirements
    file's pins."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ][stack]
    file = REPO / requirements_file(stack)
    pins = [line.split("#")[0].strip() for line in file.read_text().splitlines()]
    return extras + [pin for pin in pins if pin and not pin.startswith("-e")]


# Requirements that resolved, by the hash of what was asked: a resolution takes ~20 s each over the
# network, and CI starts from a clean clone, so the record is committed. A changed requirement has a
# new hash and resolves again (and records itself: commit the file); RLHF_RESOLVE_AGAIN=1 resolves
# whatever the record says.
RESOLVED = REPO / "tests" / "resolved_stacks.json"


def resolution_key(stack: str, python_version: str) -> str:
    asked = "\n".join([python_version, *stack_requirements(stack)])
    return f"{stack}-py{python_version}-{hashlib.sha256(asked.encode()).hexdigest()[:16]}"


@pytest.mark.parametrize("python_version", ["3.11", "3.12", "3.13"])
@pytest.mark.parametrize("stack", ["modern", "legacy"])
def test_both_stacks_resolve_with_wheels_on_the_pythons_the_readme_states(
    stack, python_version, tmp_path
):
    stated = "3.11 to 3.13"
    assert (
        stated in (REPO / "README.md").read_text()
        and stated in (REPO / requirements_file(stack)).read_text()
    )
    key = resolution_key(stack, python_version)
    record = json.loads(RESOLVED.read_text()) if RESOLVED.exists() else {}
    if key in record and not os.environ.get("RLHF_RESOLVE_AGAIN"):
        pytest.skip(
            f"these exact requirements resolved on {record[key]} (tests/resolved_stacks.json); "
            f"RLHF_RESOLVE_AGAIN=1 resolves them again"
        )
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(stack_requirements(stack)) + "\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--only-binary=:all:",
            "--python-version",
            python_version,
            "-q",
            "-r",
            str(requirements),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = (
        json.loads(RESOLVED.read_text()) if RESOLVED.exists() else {}
    )  # one worker runs them all (colab group)
    record = {k: v for k, v in record.items() if not k.startswith(f"{stack}-py{python_version}-")}
    RESOLVED.write_text(
        json.dumps(dict(sorted({**record, key: time.strftime("%Y-%m-%d")}.items())), indent=1)
        + "\n"
    )


def requirements_file(stack: str) -> str:
    return "requirements.txt" if stack == "modern" else "requirements-legacy-trl.txt"
