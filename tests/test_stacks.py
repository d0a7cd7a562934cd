"""Both stacks: each detects itself, and each loads every tiny model the other built,
identically."""

import json
from pathlib import Path

import pytest

from .conftest import run_python


def flat(rows):
    return [value for row in rows for value in row]


@pytest.fixture(scope="module")
def probes(tmp_path_factory, legacy_python, modern_python):
    """Models built by the modern stack and read by both; and built by the legacy stack, read by
    modern."""
    modern_built, legacy_built = (
        tmp_path_factory.mktemp("modern-built"),
        tmp_path_factory.mktemp("legacy-built"),
    )
    return {
        ("modern", "modern"): json.loads(
            run_python(modern_python, "tests/stack_probe.py", str(modern_built))
        ),
        ("modern", "legacy"): json.loads(
            run_python(legacy_python, "tests/stack_probe.py", str(modern_built))
        ),
        ("legacy", "legacy"): json.loads(
            run_python(legacy_python, "tests/stack_probe.py", str(legacy_built))
        ),
        ("legacy", "modern"): json.loads(
            run_python(modern_python, "tests/stack_probe.py", str(legacy_built))
        ),
    }


def test_each_stack_detects_itself(probes):
    assert probes[("modern", "legacy")]["stack"] == "legacy"
    assert probes[("modern", "legacy")]["trl"]["ppo"] == "classic"
    assert probes[("modern", "modern")]["stack"] == "modern"
    assert probes[("modern", "modern")]["trl"]["ppo"] is None


@pytest.mark.parametrize(("built_by", "other"), [("modern", "legacy"), ("legacy", "modern")])
def test_the_other_stack_loads_every_tiny_model_identically(probes, built_by, other):
    own, theirs = probes[(built_by, built_by)]["models"], probes[(built_by, other)]["models"]
    assert own.keys() == theirs.keys()
    for name in own:
        assert own[name]["ids"] == theirs[name]["ids"], f"{name}: tokenizers disagree"
        assert flat(own[name]["outputs"]) == pytest.approx(
            flat(theirs[name]["outputs"]), abs=1e-5
        ), name
        assert own[name].get("chat") == theirs[name].get("chat")


def test_both_stacks_build_the_same_tiny_models(probes):
    modern, legacy = probes[("modern", "modern")]["models"], probes[("legacy", "modern")]["models"]
    for name in modern:
        assert modern[name]["ids"] == legacy[name]["ids"]
        assert flat(modern[name]["outputs"]) == pytest.approx(
            flat(legacy[name]["outputs"]), abs=1e-5
        )


def test_every_helpers_module_imports_on_the_legacy_stack(legacy_python):
    helpers = Path(__file__).resolve().parent.parent / "helpers"
    modules = sorted(f"helpers.{p.stem}" for p in helpers.glob("*.py") if p.stem != "__init__")
    modules += sorted(
        f"helpers.memory.{p.stem}"
        for p in (helpers / "memory").glob("*.py")
        if p.stem != "__init__"
    )
    out = run_python(
        legacy_python,
        "-c",
        f"import importlib\nfor m in {modules!r}: importlib.import_module(m)\nprint('ok')",
    )
    assert out.strip() == "ok" and len(modules) > 15


def test_the_real_minilm_loads_offline_on_the_legacy_stack_and_barely_sees_a_changed_number(
    legacy_python,
):
    """03's reward in every profile: all-MiniLM-L6-v2 from the hub id, served by its package
    offline. A solution with one number changed is nearly as similar as the reference itself: the
    lesson of 03."""
    script = (
        "from sentence_transformers import SentenceTransformer\n"
        "from helpers.models import resolve_model\n"
        "from helpers.rewards import make_similarity_scorer\n"
        "encoder = SentenceTransformer(resolve_model('sentence-transformers/all-MiniLM-L6-v2'),"
        " device='cpu')\n"
        "score = make_similarity_scorer(encoder)\n"
        "texts = ['Mia has 3 + 4 = 7 apples.\\n#### 7', 'Mia has 3 + 4 = 8 apples.\\n#### 8',"
        " 'I do not know.']\n"
        "print(score(texts, answer=['Mia has 3 + 4 = <<3+4=7>>7 apples.\\n#### 7'] * 3))\n"
    )
    same, changed, unrelated = json.loads(
        run_python(legacy_python, "-c", script).strip().splitlines()[-1]
    )
    assert same == pytest.approx(1.0, abs=1e-4)
    assert 0.95 < changed < same
    assert unrelated < 0.3
