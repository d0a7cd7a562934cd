"""GSM8K accuracy of a causal language model: batched greedy generation, strict and lenient grading.

    >>> result = evaluate_gsm8k(model, tokenizer, load_gsm8k("sample", limit=50))
    >>> result["lenient"]  # {'accuracy': 0.06, 'correct': 3, 'ci95': (0.0206, 0.1622)}

Works on both stacks (transformers 4.46 and 5.x).
"""

from __future__ import annotations

import math
import re
import time

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from helpers.answers import extract_answer, is_correct, reference_answer
from helpers.data import DataError, chat_prompt, sft_prompt

# A completion is finished once it has given its answer: '#### 18' and a line break, a closed
# <answer> tag, or the start of a new question (GSM8K-tuned models carry on otherwise).
_ANSWER_DONE = re.compile(
    r"####\s*[-+$]?[\d,.]*\d[^\n]*\n|</answer>|\n\s*Question\s*:", re.IGNORECASE
)


class StopAtAnswer(StoppingCriteria):
    """Stops each row of a batch as soon as its new text has a complete answer."""

    def __init__(self, tokenizer, prompt_length: int):
        self.tokenizer, self.prompt_length = tokenizer, prompt_length

    def __call__(self, input_ids, scores, **kwargs):
        texts = self.tokenizer.batch_decode(
            input_ids[:, self.prompt_length :], skip_special_tokens=True
        )
        return torch.tensor([bool(_ANSWER_DONE.search(t)) for t in texts], device=input_ids.device)


def format_prompts(tokenizer, questions: list[str], prompt_format: str = "sft") -> list[str]:
    """'sft': 'Question: ...\\nAnswer:' (notebooks 02, 03); 'chat': the system prompt and question
    in the model's chat template (notebook 04)."""
    if prompt_format == "sft":
        return [sft_prompt(q) for q in questions]
    if prompt_format == "chat":
        return [
            tokenizer.apply_chat_template(
                chat_prompt(q), tokenize=False, add_generation_prompt=True
            )
            for q in questions
        ]
    raise ValueError(f"prompt_format must be 'sft' or 'chat', not {prompt_format!r}")


@torch.no_grad()
def answer_questions(
    model,
    tokenizer,
    questions: list[str],
    *,
    prompt_format: str = "sft",
    batch_size: int = 16,
    max_new_tokens: int = 256,
    progress: bool = True,
) -> list[str]:
    """Greedy completions for the questions, `batch_size` at a time, left-padded, each stopped at
    its answer."""
    from tqdm.auto import tqdm

    prompts = format_prompts(tokenizer, questions, prompt_format)
    padding_side, was_training = tokenizer.padding_side, model.training
    tokenizer.padding_side = "left"  # generation appends on the right, so prompts must end together
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    completions = []
    try:
        batches = range(0, len(prompts), batch_size)
        for start in tqdm(batches, desc="generating", unit="batch", disable=not progress):
            batch = tokenizer(
                prompts[start : start + batch_size],
                return_tensors="pt",
                padding=True,
                add_special_tokens=prompt_format != "chat",
            ).to(model.device)
            prompt_length = batch["input_ids"].shape[1]
            output = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                stopping_criteria=StoppingCriteriaList([StopAtAnswer(tokenizer, prompt_length)]),
            )
            completions += tokenizer.batch_decode(
                output[:, prompt_length:], skip_special_tokens=True
            )
    finally:
        tokenizer.padding_side = padding_side
        model.train(was_training)
    return completions


def wilson_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion; sound at 0 and at small samples.

    >>> wilson_interval(0, 24)
    (0.0, 0.138)
    """
    if total <= 0:
        raise ValueError("an interval needs at least one trial")
    p = correct / total
    denominator = 1 + z * z / total
    center = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return round(max(0.0, center - half), 4), round(min(1.0, center + half), 4)


def _accuracy(verdicts: list[bool]) -> dict:
    correct = sum(verdicts)
    return {
        "accuracy": round(correct / len(verdicts), 4),
        "correct": correct,
        "ci95": wilson_interval(correct, len(verdicts)),
    }


def evaluate_gsm8k(
    model,
    tokenizer,
    records: list[dict],
    *,
    prompt_format: str = "sft",
    batch_size: int = 16,
    max_new_tokens: int = 256,
    progress: bool = True,
) -> dict:
    """Strict (answer in the taught format) and lenient (final number) accuracy, with 95% intervals.

    Returns ``{"sample_size", "strict", "lenient", "format_rate", "seconds", "samples"}``; each
    accuracy block is ``{"accuracy", "correct", "ci95"}``; ``format_rate`` is the share of outputs
    that give an answer in the taught format, right or wrong; ``samples`` has every output.
    """
    if not records:
        raise DataError(
            "No problems to evaluate: pass at least one GSM8K record (an eval size of 0 "
            "measures nothing)."
        )
    start = time.time()
    completions = answer_questions(
        model,
        tokenizer,
        [r["question"] for r in records],
        prompt_format=prompt_format,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        progress=progress,
    )
    samples = [
        {
            "question": record["question"],
            "completion": completion,
            "reference": reference_answer(record["answer"]),
            "predicted": extract_answer(completion),
            "formatted": extract_answer(completion, strict=True) is not None,
            "strict": is_correct(completion, record["answer"], strict=True),
            "lenient": is_correct(completion, record["answer"]),
        }
        for record, completion in zip(records, completions)
    ]
    return {
        "sample_size": len(samples),
        "strict": _accuracy([s["strict"] for s in samples]),
        "lenient": _accuracy([s["lenient"] for s in samples]),
        "format_rate": round(sum(s["formatted"] for s in samples) / len(samples), 4),
        "seconds": round(time.time() - start, 2),
        "samples": samples,
    }


def accuracy_report(result: dict, label: str = "") -> str:
    """Strict and lenient accuracy with intervals, and the format rate, as lines to print.

    >>> print(accuracy_report(before, "before"))
    before  strict: 0.0% (0/24, 95% CI 0.0%-13.8%)
    ...
    """
    lines = []
    for grading in ("strict", "lenient"):
        block = result[grading]
        low, high = block["ci95"]
        lines.append(
            f"{label} {grading:>7}: {block['accuracy']:.1%} "
            f"({block['correct']}/{result['sample_size']}, 95% CI {low:.1%}-{high:.1%})"
        )
    lines.append(f"{label}  format: {result['format_rate']:.1%} of answers in the taught format")
    return "\n".join(lines)


def _flat(result: dict) -> dict:
    return {
        "strict": result["strict"]["accuracy"],
        "lenient": result["lenient"]["accuracy"],
        "strict_ci95": result["strict"]["ci95"],
        "lenient_ci95": result["lenient"]["ci95"],
        "format_rate": result["format_rate"],
        "seconds": result["seconds"],
    }


def mcnemar_p(gained: int, lost: int) -> float:
    """Exact two-sided McNemar test of a paired before/after comparison: the chance, were training
    to change nothing, that the problems which changed verdict split at least this unevenly between
    `gained` (wrong -> right) and `lost` (right -> wrong). Problems that kept their verdict say
    nothing.

    >>> mcnemar_p(12, 2)
    0.0129
    """
    changed = gained + lost
    if changed == 0:
        return 1.0
    tail = sum(math.comb(changed, k) for k in range(min(gained, lost) + 1)) / 2**changed
    return float(f"{min(1.0, 2 * tail):.3g}")  # three significant figures: 3.05e-05, not 0


def paired_change(before: dict, after: dict, kind: str = "lenient") -> dict:
    """Problem by problem (the same problems before and after): how many went from wrong to right,
    from right to wrong, and McNemar's p-value of that split. Tighter than comparing two intervals,
    because each problem is its own control."""
    pairs = list(zip(before["samples"], after["samples"]))
    if len(pairs) != before["sample_size"] or any(b["question"] != a["question"] for b, a in pairs):
        raise ValueError(
            "before and after must be measured on the same problems, in the same order"
        )
    gained = sum(not b[kind] and a[kind] for b, a in pairs)
    lost = sum(b[kind] and not a[kind] for b, a in pairs)
    return {"kind": kind, "gained": gained, "lost": lost, "p_value": mcnemar_p(gained, lost)}


def paired_report(change: dict) -> str:
    """One line: how many problems changed verdict each way, McNemar's p, and what it means.

    >>> print(paired_report({"kind": "lenient", "gained": 12, "lost": 2, "p_value": 0.0129}))
    lenient, problem by problem: 12 wrong -> right, 2 right -> wrong (McNemar p = 0.0129: unlikely
    to be chance)
    """
    meaning = (
        "unlikely to be chance"
        if change["p_value"] < 0.05
        else "chance alone often splits this unevenly"
    )
    return (
        f"{change['kind']}, problem by problem: {change['gained']} wrong -> right, "
        f"{change['lost']} right -> wrong (McNemar p = {change['p_value']:.3g}: {meaning})"
    )


def eval_block(before: dict, after: dict) -> dict:
    """The ``eval`` block of a notebook's metrics.json: accuracy before and after, with sample size,
    and the paired change of the lenient verdicts (`paired_change`).

    >>> eval_block(before, after)["after"]["lenient"]
    0.0833
    """
    if before["sample_size"] != after["sample_size"]:
        raise ValueError("before and after must be measured on the same problems")
    block = {"sample_size": before["sample_size"], "before": _flat(before), "after": _flat(after)}
    if "samples" in before and "samples" in after:
        block["paired"] = paired_change(before, after)
    return block


def samples_table(result: dict, count: int = 6, width: int = 90):
    """The first `count` outputs with their verdicts, as a table to display in a notebook."""
    import pandas as pd

    def short(text: str) -> str:
        text = " ".join(str(text).split())
        return text if len(text) <= width else text[: width - 1] + "…"

    return pd.DataFrame(
        {
            "question": short(s["question"]),
            "model output": short(s["completion"]),
            "gold": s["reference"],
            "extracted": s["predicted"],
            "strict": "✓" if s["strict"] else "✗",
            "lenient": "✓" if s["lenient"] else "✗",
        }
        for s in result["samples"][:count]
    )
