"""helpers.data: sources, formats, and bad input named where it is."""

import json

import pytest

from helpers import data


def test_sample_has_sixty_worked_problems_with_calculator_notes_that_add_up():
    records = data.load_gsm8k("sample")
    assert len(records) >= 60
    for record in records:
        assert record["answer"].splitlines()[-1].startswith("#### ")
        for expression, result in __import__("re").findall(
            r"<<([^=>]+)=([^>]+)>>", record["answer"]
        ):
            assert abs(eval(expression, {}, {}) - float(result)) < 1e-9, (
                record["question"],
                expression,
            )


def test_arithmetic_problems_are_deterministic_and_correct():
    problems = data.arithmetic_problems(50, seed=7)
    assert problems == data.arithmetic_problems(50, seed=7)
    for problem in problems:
        expression = problem["answer"].split("=")[0].split()[-3:]
        a, op, b = int(expression[0]), expression[1], int(expression[2])
        assert problem["answer"].endswith(f"#### {eval(f'{a} {op} {b}')}")


def test_train_and_test_arithmetic_differ():
    assert data.load_gsm8k("arithmetic", "train", limit=20) != data.load_gsm8k(
        "arithmetic", "test", limit=20
    )


def test_sft_prompt_completion_strips_calculator_notes():
    pair = data.sft_prompt_completion(
        {"question": " What is 48/2? ", "answer": "48/2 = <<48/2=24>>24\n#### 24"}
    )
    assert pair == {
        "prompt": "Question: What is 48/2?\nAnswer:",
        "completion": " 48/2 = 24\n#### 24",
    }
    assert data.sft_text({"question": "Q?", "answer": "#### 1"}) == "Question: Q?\nAnswer: #### 1"


def test_chat_prompt_puts_the_format_in_the_system_message():
    messages = data.chat_prompt("What is 2 plus 2?")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "<reasoning>" in messages[0]["content"] and "<answer>" in messages[0]["content"]


def test_local_jsonl_loads(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text(
        '{"question": "Q1?", "answer": "#### 1"}\n\n{"question": "Q2?", "answer": "#### '
        '2", "extra": 0}\n'
    )
    assert data.load_gsm8k(str(path)) == [
        {"question": "Q1?", "answer": "#### 1"},
        {"question": "Q2?", "answer": "#### 2"},
    ]


def test_malformed_jsonl_line_is_named_by_file_and_line(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"question": "Q1?", "answer": "#### 1"}\n{"question": "Q2?", "answer": \n')
    with pytest.raises(data.DataError, match=r"broken.jsonl, line 2: not valid JSON"):
        data.load_gsm8k(str(path))


@pytest.mark.parametrize(
    ("record", "missing"),
    [
        ({"question": "Q?"}, "'answer'"),
        ({"answer": "#### 1"}, "'question'"),
        ({"question": "", "answer": ""}, "'question' or 'answer'"),
        ([1, 2], "'question' or 'answer'"),
    ],
)
def test_record_without_question_or_answer_is_named(tmp_path, record, missing):
    path = tmp_path / "partial.jsonl"
    path.write_text(
        json.dumps({"question": "ok?", "answer": "#### 1"}) + "\n" + json.dumps(record) + "\n"
    )
    with pytest.raises(data.DataError, match=f"partial.jsonl, line 2: record without {missing}"):
        data.load_gsm8k(str(path))


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    with pytest.raises(data.DataError, match="no records"):
        data.load_gsm8k(str(path))


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(data.DataError, match="no such file"):
        data.load_gsm8k(str(tmp_path / "nope.jsonl"))


@pytest.mark.parametrize("limit", [0, -5])
def test_subset_size_zero_is_an_error(limit):
    with pytest.raises(data.DataError, match="at least one"):
        data.load_gsm8k("sample", limit=limit)


def test_hub_offline_says_what_to_use_instead(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(data.DataError, match="source='sample'"):
        data.load_gsm8k("hub")


def test_reasoning_answer_is_the_format_the_rewards_pay_for():
    from helpers.rewards import HEURISTIC_REWARDS

    record = {"question": "What is 48/2?", "answer": "48/2 = <<48/2=24>>24\n#### 24"}
    text = data.reasoning_answer(record)
    assert text == "<reasoning>\n48/2 = 24\n</reasoning>\n<answer>\n24\n</answer>"
    assert sum(f([text], answer=[record["answer"]])[0] for f in HEURISTIC_REWARDS) == 4.0


def test_grpo_dataset_folder_loads_with_datasets(tmp_path):
    from datasets import load_dataset

    folder = data.write_grpo_dataset(tmp_path / "grpo", "sample", train_size=5, test_size=3)
    dataset = load_dataset(str(folder))
    assert dataset["train"].num_rows == 5 and dataset["test"].num_rows == 3
    row = dataset["train"][0]
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert row["answer"].endswith("#### 3")


def test_genre_sentences_use_each_genres_words_and_are_deterministic():
    rows = data.genre_sentences(20, seed=3)
    assert rows == data.genre_sentences(20, seed=3)
    assert [r["genre"] for r in rows].count("horror") == 20
    for row in rows:
        lexicon = data.GENRE_LEXICON[row["genre"]]
        assert any(subject in row["text"].lower() for subject in lexicon["subject"])


def test_hand_written_genre_sets_have_three_genres_and_never_share_a_sentence():
    corpus, unseen = data.genre_corpus(), data.genre_unseen()
    for rows, least in ((corpus, 20), (unseen, 10)):
        assert {r["genre"] for r in rows} == {"scifi", "romance", "horror"}
        assert (
            min(sum(r["genre"] == g for r in rows) for g in ("scifi", "romance", "horror")) >= least
        )
    assert not {r["text"] for r in corpus} & {r["text"] for r in unseen}


def test_classifier_examples_include_hardening_negatives_but_never_mix_one_genre():
    rows = data.genre_sentences(30)
    examples = data.genre_classifier_examples(rows, data.GENRE_PROMPTS)
    other = [e["text"] for e in examples if e["label"] == "other"]
    assert "" in other and "The" in other
    assert len(other) == len(rows)
    genre_texts = [e for e in examples if e["label"] != "other"]
    assert len(genre_texts) == 3 * len(rows)  # each text, a cut-off prefix, a framed copy
    framed = [
        e for e in genre_texts if not any(e["text"].startswith(r["text"].split()[0]) for r in rows)
    ]
    assert framed and all(e["label"] in data.GENRE_LEXICON for e in framed)


def test_unknown_genre_source_is_named():
    with pytest.raises(data.DataError, match="'poems'"):
        data.load_genre_texts("poems")


def test_a_local_copy_of_gsm8k_stands_in_for_the_hub(tmp_path, monkeypatch):
    (tmp_path / "test.jsonl").write_text(
        '{"question": "What is 2 plus 2?", "answer": "2 + 2 = 4.\\n#### 4"}\n'
    )
    monkeypatch.setenv("RLHF_GSM8K_DIR", str(tmp_path))
    assert data.load_gsm8k("hub", split="test") == [
        {"question": "What is 2 plus 2?", "answer": "2 + 2 = 4.\n#### 4"}
    ]
    with pytest.raises(data.DataError, match="train.jsonl: no such file"):
        data.load_gsm8k("hub", split="train")
