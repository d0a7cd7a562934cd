"""helpers.answers: what models and students actually write, graded the same way every time."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.answers import extract_answer, is_correct, normalize_number, reference_answer
from helpers.data import load_gsm8k


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72", "72"),
        ("#### 1,000", "1000"),
        ("The answer is $18.00.", "18"),
        ("The answer is 18 dollars.", "18"),
        ("Answer: 42", "42"),
        ("answer: -3", "-3"),
        ("<reasoning>2 + 2 = 4</reasoning>\n<answer>\n4\n</answer>", "4"),
        ("<answer>$1,250</answer>", "1250"),
        ("so the total is \\boxed{17}.", "17"),
        ("She has 0.50 left, so #### 0.50", "0.5"),
        ("That is 40%.", "40"),
        ("It costs 2.5 * 4 = 10.", "10"),
        ("He drives 3-4 hours a day and 12 miles.", "12"),
        ("The temperature is -4 degrees.", "-4"),
        ("#### 7\nQuestion: Tom has 3 pens. How many?\nAnswer: 3\n#### 3", "7"),
        (
            "He has 5 + 2 = 7 apples.\n\nQuestion: What is 1 plus 1?\nAnswer: 1 + 1 = 2.\n#### 2",
            "7",
        ),
        ("<answer>12</answer><|im_end|><answer>99</answer>", "12"),
        ("Answer: Natalia sold 48/2 = 24 clips.", "24"),
        ("no numbers here", None),
        ("", None),
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so #### 5", "5"),
        ("<answer>5</answer>", "5"),
        ("The answer is 5.", None),
        ("\\boxed{5}", None),
        ("5", None),
    ],
)
def test_strict_extraction_accepts_only_the_taught_formats(text, expected):
    assert extract_answer(text, strict=True) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,000", "1000"),
        ("$18.00", "18"),
        ("0.50", "0.5"),
        ("-3", "-3"),
        ("+7.", "7"),
        ("100", "100"),
        ("-0", "0"),
        ("abc", None),
    ],
)
def test_normalize_number(raw, expected):
    assert normalize_number(raw) == expected


@pytest.mark.parametrize(
    ("completion", "reference", "expected"),
    [
        ("#### 18", "Janet pays 2 * 9 = $<<2*9=18>>18\n#### 18", True),
        ("The answer is 18.0", "18", True),
        ("The answer is 0.5", "0.50", True),
        ("The answer is 19", "#### 18", False),
        ("no answer", "#### 18", False),
        ("#### 18", 18, True),
        ("#### 2.5", 2.5, True),
        ("The answer is 18.", "#### 18", True),
    ],
)
def test_is_correct(completion, reference, expected):
    assert is_correct(completion, reference) is expected


def test_strict_grading_needs_the_format():
    assert is_correct("The answer is 18.", "#### 18", strict=True) is False
    assert is_correct("so\n#### 18", "#### 18", strict=True) is True


def test_every_gold_solution_of_the_offline_sample_is_graded_correct():
    records = load_gsm8k("sample")
    assert len(records) >= 60
    for record in records:
        assert is_correct(record["answer"], record["answer"], strict=True), record["question"]


# --- properties ---


def written(value: int, style: str) -> str:
    """An integer as people write it."""
    plain = str(value)
    return {
        "plain": plain,
        "commas": f"{value:,}",
        "dollars": f"${value:,}",
        "cents": f"{value}.00",
        "period": f"{plain}.",
    }[style]


styles = st.sampled_from(["plain", "commas", "dollars", "cents", "period"])


@given(st.integers(-(10**9), 10**9), styles)
def test_any_integer_after_hashes_is_extracted(value, style):
    assert extract_answer(f"Some working.\n#### {written(value, style)}") == str(value)


@given(st.integers(0, 10**6), st.integers(0, 10**6), styles)
def test_the_first_answer_counts_when_the_model_carries_on(first, second, style):
    text = f"So #### {written(first, style)}\nQuestion: And now?\nAnswer: #### {second}"
    assert extract_answer(text) == str(first)


@given(
    st.integers(-(10**6), 10**6),
    st.sampled_from(["The answer is {}.", "<answer>{}</answer>", "\\boxed{{{}}}", "#### {}"]),
)
def test_every_taught_phrasing_is_graded_correct(value, template):
    assert is_correct(template.format(value), f"work\n#### {value}")
    assert not is_correct(template.format(value + 1), f"work\n#### {value}")


@given(
    st.decimals(
        min_value=-(10**6), max_value=10**6, places=2, allow_nan=False, allow_infinity=False
    )
)
def test_decimals_compare_by_value(value):
    assert is_correct(f"#### {value}", format(value.normalize(), "f"))


@given(st.text(max_size=300))
def test_arbitrary_text_never_raises_and_gives_a_normalised_number_or_none(text):
    found = extract_answer(text)
    assert found is None or normalize_number(found) == found
    assert isinstance(is_correct(text, "#### 5"), bool)


@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.floats(allow_nan=True),
        st.lists(st.text()),
        st.dictionaries(st.text(), st.text()),
        st.binary(),
    )
)
def test_non_text_is_no_answer(thing):
    assert extract_answer(thing) is None
    assert is_correct(thing, "#### 5") is False


@given(st.integers(-(10**6), 10**6))
def test_reference_answer_reads_gsm8k_fields_and_bare_numbers(value):
    assert (
        reference_answer(f"work\n#### {value}")
        == reference_answer(str(value))
        == reference_answer(value)
        == str(value)
    )
    assert Decimal(reference_answer(value)) == value
