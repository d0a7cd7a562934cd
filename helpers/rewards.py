"""Heuristic reward functions for GRPO, in TRL's convention: ``f(completions, **kwargs) ->
list[float]``.

A completion may be a plain string or a chat completion (a list of message dicts); each function
returns one finite float per completion and never raises: a None, a number, a malformed message
scores 0. The taught format is

    <reasoning>
    ...
    </reasoning>
    <answer>
    42
    </answer>

The format, the five rewards and their values follow Will Brown's GRPO demo for GSM8K
(https://gist.github.com/willccbb/4676755236bb08cab5f4e54a0475d6fb); the code is our own.

>>> correctness_reward(["<answer>\\n3\\n</answer>"], answer=["... #### 3"])
[2.0]
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from helpers.answers import extract_answer, is_correct
from helpers.data import clean_solution


def completion_text(completion) -> str:
    """The text of a completion: a string as is; a chat completion's message contents joined; else
    ''.

    >>> completion_text([{"role": "assistant", "content": "<answer>4</answer>"}])
    '<answer>4</answer>'
    """
    if isinstance(completion, str):
        return completion
    if hasattr(completion, "tolist"):  # a numpy array, as completions come back from a parquet log
        completion = completion.tolist()
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, (list, tuple)):
        parts = [m.get("content") for m in completion if isinstance(m, dict)]
        return "".join(p for p in parts if isinstance(p, str))
    return ""


def finite_scores(values) -> list[float]:
    """Floats, with anything non-finite or non-numeric replaced by 0."""
    out = []
    for value in values:
        try:
            value = float(value)
        except (TypeError, ValueError):
            value = 0.0
        out.append(value if math.isfinite(value) else 0.0)
    return out


def completion_texts(completions) -> list[str]:
    """One text per completion, whatever TRL passed: a list of strings or chat messages, or a single
    one."""
    if completions is None or isinstance(completions, (str, bytes)):
        completions = [completions]
    try:
        return [completion_text(c) for c in completions]
    except TypeError:  # not iterable
        return [""]


def dataset_column(values, count: int) -> list:
    """A dataset column TRL passed as a keyword, padded with None so that it lines up."""
    values = list(values) if isinstance(values, (list, tuple)) else []
    return (values + [None] * count)[:count]


# --- the five rewards: notebook 04 shows and runs this part (course_tools.publish copies it) ---
STRICT_FORMAT = re.compile(
    r"^<reasoning>\n.*?\n</reasoning>\n<answer>\n.*?\n</answer>\n?$", re.DOTALL
)
SOFT_FORMAT = re.compile(r"<reasoning>.*?</reasoning>\s*<answer>.*?</answer>", re.DOTALL)
ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
TAGS = ("<reasoning>\n", "\n</reasoning>\n", "\n<answer>\n", "\n</answer>")


def correctness_reward(completions, answer=None, **kwargs) -> list[float]:
    """2.0 when the completion's answer equals the gold answer (GSM8K ``#### N`` field or a number),
    else 0.0."""
    texts = completion_texts(completions)
    return finite_scores(
        2.0 if is_correct(t, gold) else 0.0
        for t, gold in zip(texts, dataset_column(answer, len(texts)))
    )


def integer_answer_reward(completions, **kwargs) -> list[float]:
    """0.5 when the <answer> tag holds a whole number (GSM8K answers are integers), else 0.0."""

    def score(text: str) -> float:
        match = ANSWER_TAG.search(text)
        return 0.5 if match and re.fullmatch(r"\s*-?\d+\s*", match.group(1)) else 0.0

    return finite_scores(score(t) for t in completion_texts(completions))


def strict_format_reward(completions, **kwargs) -> list[float]:
    """0.5 when the completion is exactly the taught format, line breaks included, else 0.0."""
    return finite_scores(
        0.5 if STRICT_FORMAT.match(t) else 0.0 for t in completion_texts(completions)
    )


def soft_format_reward(completions, **kwargs) -> list[float]:
    """0.5 when a <reasoning> block is followed by an <answer> block anywhere, else 0.0."""
    return finite_scores(
        0.5 if SOFT_FORMAT.search(t) else 0.0 for t in completion_texts(completions)
    )


def tag_count_reward(completions, **kwargs) -> list[float]:
    """Partial credit, 0.0 to 0.5: 0.125 for each of the four tags written exactly once, less
    0.001 per character after </answer> (so rambling on after the answer costs a little)."""

    def score(text: str) -> float:
        total = sum(0.125 for tag in TAGS if text.count(tag) == 1)
        if text.count("\n</answer>") == 1:
            total -= 0.001 * len(text.split("\n</answer>")[-1].strip())
        return min(0.5, max(0.0, total))

    return finite_scores(score(t) for t in completion_texts(completions))


HEURISTIC_REWARDS = [
    correctness_reward,
    integer_answer_reward,
    strict_format_reward,
    soft_format_reward,
    tag_count_reward,
]
# --- end of the five rewards ---


def make_hybrid_reward(
    learned_scorer: Callable[..., list[float]],
    heuristic: Callable = correctness_reward,
    learned_weight: float = 0.5,
    name: str = "hybrid_reward",
) -> Callable:
    """A reward that mixes a learned scorer with a heuristic: ``w * learned + (1 - w) * heuristic``.

    `learned_scorer(texts, **kwargs) -> list[float]` is, say, the cosine similarity of a sentence
    encoder to the reference solution (notebook 03) or a classifier's probability; the heuristic
    keeps it honest where the learned model can be fooled.

    >>> reward = make_hybrid_reward(lambda texts, **kw: [0.8 for _ in texts], learned_weight=0.5)
    >>> reward(["#### 3"], answer=["#### 3"])
    [1.4]
    """
    if not 0.0 <= learned_weight <= 1.0:
        raise ValueError(f"learned_weight must be between 0 and 1, not {learned_weight}")

    def hybrid_reward(completions, **kwargs) -> list[float]:
        texts = completion_texts(completions)
        learned = finite_scores(learned_scorer(texts, **kwargs))
        rule = heuristic(texts, **kwargs)
        return finite_scores(
            learned_weight * s + (1 - learned_weight) * h for s, h in zip(learned, rule)
        )

    hybrid_reward.__name__ = name  # TRL logs each reward under its function's name
    return hybrid_reward


def make_classifier_scorer(
    classifier, tokenizer, label: str, batch_size: int = 32, max_length: int = 128
) -> Callable:
    """A learned scorer: the classifier's probability of `label` for each text (notebooks 01 and
    05).

    The classifier keeps its own tokenizer: the policy's tokens mean nothing to it, so the scorer
    reads decoded text. An unknown label is an error that lists the classifier's labels.
    """
    labels = [classifier.config.id2label[i] for i in range(classifier.config.num_labels)]
    if label not in labels:
        raise ValueError(f"The classifier does not know the genre {label!r}; it knows {labels}.")
    index = labels.index(label)

    def classifier_probability(texts, **kwargs) -> list[float]:
        import torch

        texts = [completion_text(t) for t in texts]
        scores = []
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                batch = tokenizer(
                    texts[start : start + batch_size],
                    return_tensors="pt",
                    padding=True,
                    truncation=True,
                    max_length=max_length,
                ).to(classifier.device)
                scores += classifier(**batch).logits.softmax(-1)[:, index].tolist()
        return finite_scores(scores)

    return classifier_probability


def make_similarity_scorer(encoder, batch_size: int = 64) -> Callable:
    """A learned scorer: cosine similarity between each text and its reference solution, read from
    the ``answer`` keyword (a GSM8K answer field), embedded by a sentence-transformers `encoder`
    such as all-MiniLM-L6-v2 (notebook 03). Range -1 to 1; in practice 0 to 1."""
    import torch

    cache = {}  # reference -> its embedding: the same references come back step after step
    last = {}  # the latest call: a reward and its logging often score the same texts twice

    def similarity_to_reference(texts, answer=None, **kwargs) -> list[float]:
        texts = [completion_text(t) for t in texts]
        if not texts:
            return []
        references = [
            clean_solution(a) if isinstance(a, str) else ""
            for a in dataset_column(answer, len(texts))
        ]
        key = (tuple(texts), tuple(references))
        if key not in last:
            new = [r for r in dict.fromkeys(references) if r not in cache]
            embeddings = encoder.encode(
                texts + new,
                batch_size=batch_size,
                convert_to_tensor=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
            cache.update(zip(new, embeddings[len(texts) :]))
            reference_embeddings = torch.stack([cache[r] for r in references])
            last.clear()
            last[key] = finite_scores(
                (embeddings[: len(texts)] * reference_embeddings).sum(-1).tolist()
            )
        return list(last[key])

    return similarity_to_reference


# --- diagnostics: what the model was rewarded for ---


def completion_log(output_dir):
    """Every completion GRPO logged (``log_completions=True`` writes ``completions/*.parquet``), one
    row each, with its step, text, length, each reward function's score, and the total."""
    from pathlib import Path

    import pandas as pd

    files = sorted(Path(output_dir, "completions").glob("completions_*.parquet"))
    if not files:
        raise FileNotFoundError(
            f"No completion logs in {output_dir}/completions: train with log_completions=True."
        )
    log = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    rewarddataset_columns = [f.__name__ for f in HEURISTIC_REWARDS if f.__name__ in log.columns]
    log["text"] = log["completion"].map(completion_text)
    log["length"] = log["text"].str.len()
    log["total"] = log[rewarddataset_columns].sum(axis=1)
    log["answer_given"] = log["text"].map(extract_answer)
    return log


def high_reward_wrong_answers(log, count: int = 5):
    """The best-rewarded completions whose answer was wrong: what the reward pays for besides being
    right."""
    wrong = log[log["correctness_reward"] <= 0]
    return wrong.sort_values("total", ascending=False).head(count)[
        ["step", "total", "answer_given", "text"]
    ]
