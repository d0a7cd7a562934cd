"""helpers.evaluation on a tiny model: batching, stopping, grading, intervals."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from helpers import evaluation, tiny
from helpers.data import DataError, load_gsm8k


@pytest.fixture(scope="module")
def gpt2():
    folder = tiny.build("tiny-gpt2")
    return AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)


def test_batched_generation_matches_one_at_a_time(gpt2):
    model, tokenizer = gpt2
    questions = [r["question"] for r in load_gsm8k("sample", limit=6)]
    one_by_one = evaluation.answer_questions(
        model, tokenizer, questions, batch_size=1, max_new_tokens=12, progress=False
    )
    batched = evaluation.answer_questions(
        model, tokenizer, questions, batch_size=6, max_new_tokens=12, progress=False
    )
    assert batched == one_by_one


def test_generation_restores_padding_side_and_training_mode(gpt2):
    model, tokenizer = gpt2
    model.train()
    evaluation.answer_questions(
        model, tokenizer, ["What is 1 plus 1?"], max_new_tokens=2, progress=False
    )
    assert tokenizer.padding_side == "right" and model.training
    model.eval()


def test_stops_each_row_at_its_answer():
    class Tok:
        def batch_decode(self, ids, skip_special_tokens=True):
            return [
                "2 + 2 = 4\n#### 4\n",
                "still thinking",
                "<answer>4</answer>",
                "#### 4\nQuestion: more",
            ]

    stop = evaluation.StopAtAnswer(Tok(), prompt_length=0)
    assert stop(torch.zeros(4, 3, dtype=torch.long), None).tolist() == [True, False, True, True]


def test_evaluate_grades_strictly_and_leniently(gpt2, monkeypatch):
    model, tokenizer = gpt2
    outputs = ["so #### 3", "The answer is 54.", "#### 10", "nothing"]
    monkeypatch.setattr(evaluation, "answer_questions", lambda *args, **kwargs: outputs)
    records = load_gsm8k("sample", limit=4)  # answers 3, 54, 9, 6
    result = evaluation.evaluate_gsm8k(model, tokenizer, records)
    assert result["sample_size"] == 4
    assert result["strict"]["correct"] == 1 and result["lenient"]["correct"] == 2
    assert result["format_rate"] == 0.5
    assert [s["predicted"] for s in result["samples"]] == ["3", "54", "10", None]


def test_evaluate_a_real_tiny_model_end_to_end(gpt2):
    model, tokenizer = gpt2
    result = evaluation.evaluate_gsm8k(
        model,
        tokenizer,
        load_gsm8k("arithmetic", "test", limit=8),
        max_new_tokens=8,
        progress=False,
    )
    assert result["sample_size"] == 8 and len(result["samples"]) == 8
    assert (
        0
        <= result["lenient"]["ci95"][0]
        <= result["lenient"]["accuracy"]
        <= result["lenient"]["ci95"][1]
        <= 1
    )
    table = evaluation.samples_table(result, count=3)
    assert list(table.columns) == [
        "question",
        "model output",
        "gold",
        "extracted",
        "strict",
        "lenient",
    ]
    assert len(table) == 3


def test_chat_prompts_use_the_chat_template():
    tokenizer = AutoTokenizer.from_pretrained(tiny.build("tiny-qwen2-chat"))
    prompt = evaluation.format_prompts(tokenizer, ["What is 2 plus 2?"], "chat")[0]
    assert prompt.startswith("<|im_start|>system\nRespond in the following format")
    assert prompt.endswith("<|im_start|>assistant\n")


def test_nothing_to_evaluate_is_an_error(gpt2):
    with pytest.raises(DataError, match="No problems to evaluate"):
        evaluation.evaluate_gsm8k(*gpt2, [])


@pytest.mark.parametrize(
    ("correct", "total", "interval"),
    [(0, 24, (0.0, 0.138)), (12, 24, (0.3143, 0.6857)), (24, 24, (0.862, 1.0))],
)
def test_wilson_interval(correct, total, interval):
    assert evaluation.wilson_interval(correct, total) == interval


def test_wilson_interval_is_symmetric_and_narrows_with_more_problems():
    low, high = evaluation.wilson_interval(3, 40)
    assert evaluation.wilson_interval(37, 40) == (round(1 - high, 4), round(1 - low, 4))
    assert (
        evaluation.wilson_interval(30, 400)[1] - evaluation.wilson_interval(30, 400)[0] < high - low
    )


def test_eval_block_keeps_accuracies_intervals_and_sample_size():
    result = {
        "sample_size": 24,
        "strict": {"accuracy": 0.0, "ci95": (0.0, 0.1379)},
        "lenient": {"accuracy": 0.125, "ci95": (0.04, 0.31)},
        "format_rate": 0.5,
        "seconds": 1.0,
    }
    block = evaluation.eval_block(result, result)
    assert block["sample_size"] == 24
    assert block["after"] == {
        "strict": 0.0,
        "lenient": 0.125,
        "strict_ci95": (0.0, 0.1379),
        "lenient_ci95": (0.04, 0.31),
        "format_rate": 0.5,
        "seconds": 1.0,
    }


def test_paired_change_counts_problems_that_changed_verdict_and_tests_the_split():
    def result(verdicts):
        samples = [{"question": f"q{i}", "lenient": v, "strict": v} for i, v in enumerate(verdicts)]
        return {"sample_size": len(samples), "samples": samples}

    before = result([False] * 14 + [True] * 6)
    after = result([True] * 12 + [False] * 2 + [False] * 2 + [True] * 4)  # 12 gained, 2 lost
    change = evaluation.paired_change(before, after)
    assert (change["gained"], change["lost"]) == (12, 2)
    assert change["p_value"] == 0.0129  # 2 x P(X <= 2), X ~ Binomial(14, 1/2)
    assert evaluation.paired_change(before, before)["p_value"] == 1.0
    assert evaluation.mcnemar_p(6, 13) > 0.05 and "chance alone" in evaluation.paired_report(
        evaluation.paired_change(
            result([True] * 13 + [False] * 6), result([False] * 13 + [True] * 6)
        )
    )
    assert evaluation.mcnemar_p(0, 26) == 2.98e-08  # not rounded to 0
    with pytest.raises(ValueError, match="same problems"):
        evaluation.paired_change(before, result([True] * 19))


def test_accuracy_report_prints_both_gradings_with_intervals():
    result = {
        "sample_size": 24,
        "strict": {"accuracy": 0.0, "correct": 0, "ci95": (0.0, 0.138)},
        "lenient": {"accuracy": 0.125, "correct": 3, "ci95": (0.0434, 0.3102)},
        "format_rate": 0.5,
    }
    assert evaluation.accuracy_report(result, "before").splitlines() == [
        "before  strict: 0.0% (0/24, 95% CI 0.0%-13.8%)",
        "before lenient: 12.5% (3/24, 95% CI 4.3%-31.0%)",
        "before  format: 50.0% of answers in the taught format",
    ]
