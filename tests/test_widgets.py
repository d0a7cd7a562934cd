"""helpers.widgets: the playground's callbacks, run headless on tiny checkpoints."""

from types import SimpleNamespace

import pytest

from helpers.tiny import build
from helpers.widgets import Playground, show_settings


@pytest.fixture(scope="module")
def playground():
    problems = [
        {
            "question": "Ann has 2 apples and gets 3 more. How many apples?",
            "answer": "2 + 3 = 5\n#### 5",
        }
    ]
    return Playground(
        {"base": build("tiny-gpt2"), "small": build("tiny-distilgpt2")},
        scorers={"length": lambda completions, **kwargs: [len(c) for c in completions]},
        problems=problems,
    )


def test_generate_button_fills_the_table_with_every_checkpoint_scored_and_graded(playground):
    panel = playground.panel()
    picker, prompt, _, button, results = panel.children
    picker.value = 0  # picking a problem fills the prompt
    assert prompt.value.startswith("Ann has 2 apples")
    button.click()
    table = results.value
    assert table.count("<tr>") == 3 and "base" in table and "small" in table
    assert "length" in table and ("✓" in table or "✗" in table)


def test_same_seed_same_completions_and_the_scores_are_the_scorers(playground):
    first = playground.compare("The ship", temperature=1.0, max_new_tokens=8, seed=3)
    again = playground.compare("The ship", temperature=1.0, max_new_tokens=8, seed=3)
    assert first == again
    assert all(row["length"] == len(row["completion"]) for row in first)
    assert "correct" not in first[0]  # no reference answer, no verdict


def test_a_missing_checkpoint_says_which_notebook_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the notebook that saves it first"):
        Playground({"PPO": tmp_path / "nothing"})


def test_a_hub_id_loads_from_the_hugging_face_cache_as_a_real_profile_names_it(
    rehearsal_hf_home, modern_python
):
    import json
    import os
    import subprocess

    from course_tools import rehearsal

    from .conftest import REPO

    script = (
        "import json; from helpers.widgets import Playground; rows = "
        "Playground({'start': 'gpt2'}).compare('The ship', temperature=0.0, "
        "max_new_tokens=4); print(json.dumps([row['checkpoint'] for row in rows]))"
    )
    result = subprocess.run(
        [str(modern_python), "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **rehearsal.environment(rehearsal_hf_home)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == ["start"]


def test_comparing_leaves_the_notebooks_random_stream_and_training_mode_alone(playground):
    import torch

    model = playground.models["base"][0]
    model.train()
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    playground.compare("The ship", temperature=1.0, max_new_tokens=4)
    assert torch.equal(torch.rand(3), expected)
    assert model.training


def test_a_folder_loads_in_the_dtype_asked_for_not_the_dtype_it_was_saved_in(tmp_path):
    """transformers 5 loads a folder in its saved dtype by default: a bf16 checkpoint would compute
    in bf16."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = build("tiny-gpt2")
    AutoModelForCausalLM.from_pretrained(folder).to(torch.bfloat16).save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(folder).save_pretrained(tmp_path)
    assert Playground({"saved": tmp_path}).models["saved"][0].dtype == torch.float32
    assert (
        Playground({"saved": tmp_path}, dtype=torch.float16).models["saved"][0].dtype
        == torch.float16
    )


def test_show_displays_one_comparison_then_returns_the_panel(playground, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    panel = playground.show("The ship", temperature=1.0, max_new_tokens=4, seed=3)
    table = shown[0].data
    assert table.count("<tr>") == 3 and "base" in table and "small" in table
    assert panel.children[-1].value == ""  # the panel waits for its own prompt


def test_the_settings_table_shows_the_lessons_values_and_folds_the_rest():
    settings = SimpleNamespace(beta=0.04, learning_rate=1e-5, seed_text="a<b", steps=8)
    table = show_settings(settings, "beta", "steps")
    html = table._repr_html_()
    shown, folded = html.split("<details>")
    assert "beta" in shown and "steps" in shown and "learning_rate" not in shown
    assert "the other 2 settings" in folded and "a&lt;b" in folded  # escaped
    assert repr(table).splitlines()[-1] == "(and 2 more: learning_rate, seed_text)"
    with pytest.raises(KeyError, match="No setting \\['betta'\\]"):
        show_settings(settings, "betta")
