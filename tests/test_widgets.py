"""helpers.widgets: the playground's callbacks, run headless on tiny checkpoints."""

import pytest

from helpers.tiny import build
from helpers.widgets import Playground


@pytest.fixture(scope="module")
def playground():
    problems = [{"question": "Ann has 2 apples and gets 3 more. How many apples?", "answer": "2 + 3 = 5\n#### 5"}]
    return Playground({"base": build("tiny-gpt2"), "small": build("tiny-distilgpt2")},
                      scorers={"length": lambda completions, **kwargs: [len(c) for c in completions]},
                      problems=problems)


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
