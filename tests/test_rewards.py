"""helpers.rewards: each reward's range, the formats it pays for, and no crash on anything a model
emits."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import rewards

PERFECT = "<reasoning>\nShe has 3 + 4 = 7 apples.\n</reasoning>\n<answer>\n7\n</answer>"
GOLD = "Mia has 3 + 4 = 7 apples.\n#### 7"


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        (
            PERFECT,
            {
                "correctness_reward": 2.0,
                "integer_answer_reward": 0.5,
                "strict_format_reward": 0.5,
                "soft_format_reward": 0.5,
                "tag_count_reward": 0.5,
            },
        ),
        (
            "She has 7 apples.",
            {
                "correctness_reward": 2.0,
                "integer_answer_reward": 0.0,
                "strict_format_reward": 0.0,
                "soft_format_reward": 0.0,
                "tag_count_reward": 0.0,
            },
        ),
        (
            "<reasoning>3 + 4 = 7</reasoning> <answer>7</answer>",
            {
                "correctness_reward": 2.0,
                "integer_answer_reward": 0.5,
                "strict_format_reward": 0.0,
                "soft_format_reward": 0.5,
                "tag_count_reward": 0.0,
            },
        ),
        (
            PERFECT.replace("7\n</answer>", "7.5\n</answer>"),
            {
                "correctness_reward": 0.0,
                "integer_answer_reward": 0.0,
                "strict_format_reward": 0.5,
                "soft_format_reward": 0.5,
                "tag_count_reward": 0.5,
            },
        ),
        (
            [{"role": "assistant", "content": PERFECT}],
            {
                "correctness_reward": 2.0,
                "integer_answer_reward": 0.5,
                "strict_format_reward": 0.5,
                "soft_format_reward": 0.5,
                "tag_count_reward": 0.5,
            },
        ),
    ],
)
def test_each_reward_on_hand_made_completions(completion, expected):
    scores = {f.__name__: f([completion], answer=[GOLD])[0] for f in rewards.HEURISTIC_REWARDS}
    assert scores == expected


def test_text_after_the_answer_costs_a_little():
    rambling = PERFECT + "\n" + "x" * 100
    assert rewards.tag_count_reward([rambling]) == [pytest.approx(0.4)]


def test_correctness_reads_the_answer_column_trl_passes():
    out = rewards.correctness_reward(
        [PERFECT, PERFECT], answer=["#### 7", "#### 8"], prompts=["p", "p"], trainer_state=None
    )
    assert out == [2.0, 0.0]


def test_correctness_without_an_answer_column_scores_zero():
    assert rewards.correctness_reward([PERFECT]) == [0.0]


def test_hybrid_mixes_a_learned_scorer_with_the_heuristic():
    hybrid = rewards.make_hybrid_reward(
        lambda texts, **kw: [0.8] * len(texts),
        learned_weight=0.25,
        name="similarity_plus_correctness",
    )
    assert hybrid.__name__ == "similarity_plus_correctness"
    assert hybrid([PERFECT, "no"], answer=[GOLD, GOLD]) == [
        pytest.approx(0.25 * 0.8 + 0.75 * 2.0),
        pytest.approx(0.2),
    ]


def test_hybrid_turns_non_finite_learned_scores_into_zero():
    hybrid = rewards.make_hybrid_reward(
        lambda texts, **kw: [float("nan")] * len(texts), learned_weight=1.0
    )
    assert hybrid([PERFECT]) == [0.0]


def test_hybrid_weight_must_be_a_fraction():
    with pytest.raises(ValueError, match="between 0 and 1"):
        rewards.make_hybrid_reward(lambda texts, **kw: texts, learned_weight=1.5)


# --- fuzzing: anything a model or a buggy pipeline produces scores 0 or its proper value, never
# raises ---

message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["assistant", "user", 3, None]),
        "content": st.one_of(st.text(), st.none(), st.integers()),
    }
)
junk = st.one_of(
    st.none(),
    st.text(max_size=200),
    st.text(min_size=5000, max_size=20000),
    st.integers(),
    st.floats(allow_nan=True),
    st.binary(),
    st.lists(message, max_size=3),
    st.lists(st.one_of(st.none(), st.integers(), st.text()), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
)
RANGES = {
    "correctness_reward": (0.0, 2.0),
    "integer_answer_reward": (0.0, 0.5),
    "strict_format_reward": (0.0, 0.5),
    "soft_format_reward": (0.0, 0.5),
    "tag_count_reward": (0.0, 0.5),
}


@given(
    st.lists(junk, max_size=6),
    st.one_of(st.none(), st.lists(st.one_of(st.none(), st.text(), st.integers()), max_size=6)),
)
def test_rewards_never_raise_and_stay_in_range(completions, answers):
    for function in rewards.HEURISTIC_REWARDS:
        scores = function(completions, answer=answers)
        assert len(scores) == len(completions)
        low, high = RANGES[function.__name__]
        assert all(isinstance(s, float) and math.isfinite(s) and low <= s <= high for s in scores)


@given(st.one_of(st.none(), st.integers(), st.text(max_size=50)))
def test_a_single_non_list_is_one_completion(thing):
    for function in rewards.HEURISTIC_REWARDS:
        assert len(function(thing)) == 1


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "",
        42,
        3.5,
        b"bytes",
        [{"content": None}],
        [{"role": "assistant"}],
        {"content": 7},
        [[1, 2]],
    ],
)
def test_malformed_completions_score_zero(bad):
    for function in rewards.HEURISTIC_REWARDS:
        assert function([bad], answer=["#### 7"]) == [0.0]


def test_a_huge_completion_scores_like_its_content():
    huge = "blah " * 50_000 + "#### 7"
    assert rewards.correctness_reward([huge], answer=[GOLD]) == [2.0]
    assert rewards.strict_format_reward([huge]) == [0.0]


def test_classifier_scorer_reads_text_and_names_unknown_labels():
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from helpers import tiny

    folder = tiny.build("distilbert-base-uncased")
    labels = ["scifi", "romance", "other"]
    classifier = AutoModelForSequenceClassification.from_pretrained(
        folder, num_labels=3, id2label=dict(enumerate(labels))
    )
    scorer = rewards.make_classifier_scorer(
        classifier, AutoTokenizer.from_pretrained(folder), "romance"
    )
    scores = scorer(["a starship", [{"role": "assistant", "content": "a kiss"}], ""])
    assert len(scores) == 3 and all(0.0 <= s <= 1.0 for s in scores)
    with pytest.raises(ValueError, match=r"'western'.*\['scifi', 'romance', 'other'\]"):
        rewards.make_classifier_scorer(classifier, AutoTokenizer.from_pretrained(folder), "western")


def test_notebook_04_trains_with_the_reward_cell_it_shows_and_that_cell_is_the_helpers_code():
    import nbformat

    from course_tools.publish import reward_cell
    from helpers.lessons import NOTEBOOKS_DIR

    notebook = nbformat.read(NOTEBOOKS_DIR / "04_grpo_heuristic_rewards.ipynb", as_version=4)
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    shown = [
        source for source in code if source.startswith("# The five reward functions GRPO calls.")
    ]
    assert shown == [reward_cell()]
    assert not any(
        "import HEURISTIC_REWARDS" in source for source in code
    )  # the trainer gets the cell's list
    namespace: dict = {}
    exec(shown[0], namespace)
    completions = [
        PERFECT,
        "She has 7 apples.",
        "<reasoning>3 + 4 = 7</reasoning> <answer>7</answer>",
        None,
        "",
    ]
    gold = [GOLD] * len(completions)
    assert [f.__name__ for f in namespace["HEURISTIC_REWARDS"]] == [
        f.__name__ for f in rewards.HEURISTIC_REWARDS
    ]
    for ours, helpers_version in zip(namespace["HEURISTIC_REWARDS"], rewards.HEURISTIC_REWARDS):
        assert ours(completions, answer=gold) == helpers_version(completions, answer=gold)
